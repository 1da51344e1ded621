import { z } from "zod";
import { UserError, userError } from "../errors.ts";
import type { Dataset } from "./dataset.ts";
import { loadCsvDataset } from "./csv.ts";
import { loadFashionMnist, loadIdxDataset, loadKmnist } from "./mnist_like.ts";
import { loadPenguins } from "./penguins.ts";

/** Built-in dataset names; anything else must be a directory of IDX files or a .csv file. */
export const DATASET_NAMES = ["penguins", "kmnist", "fashion-mnist"] as const;

/** Options shared by all loaders; each loader rejects the ones that do not apply to it. */
export const DatasetOptionsSchema = z.object({
  /** Training examples (image datasets: subsample or re-split size; CSV: count). */
  trainCount: z.number().int().positive().optional(),
  testCount: z.number().int().positive().optional(),
  /** Share of rows held out for testing (tables only); default 0.2. */
  testFraction: z.number().gt(0).lt(1).optional(),
  /** Seeds the split/subsample; default 0. */
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  /** Label column of a CSV file; default "species". */
  labelColumn: z.string().min(1).optional(),
  /** Feature columns of a CSV file; default every numeric column. */
  featureColumns: z.array(z.string().min(1)).min(1).optional(),
}).strict();

export type DatasetOptions = z.infer<typeof DatasetOptionsSchema>;

type OptionName = keyof DatasetOptions;
const TABLE_ONLY: OptionName[] = ["testFraction", "labelColumn", "featureColumns"];
const CSV_ONLY: OptionName[] = ["labelColumn", "featureColumns"];

/**
 * Loads "penguins", "kmnist", "fashion-mnist", a directory of IDX files or a .csv file.
 * Built-in names win over same-named paths (write "./kmnist" for a local folder).
 */
export async function loadDataset(
  nameOrPath: string,
  options: DatasetOptions = {},
): Promise<Dataset> {
  const parsed = DatasetOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) =>
      i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message
    );
    throw userError(nameOrPath, `bad dataset options: ${problems.join("; ")}`);
  }
  const opts = parsed.data;
  const reject = (names: OptionName[], why: string) => {
    const given = names.filter((n) => opts[n] !== undefined);
    if (given.length > 0) throw userError(nameOrPath, `${given.join(", ")} ${why}`);
  };
  const imageOptions = { trainCount: opts.trainCount, testCount: opts.testCount, seed: opts.seed };

  switch (nameOrPath) {
    case "penguins":
      reject(CSV_ONLY, "cannot be changed for penguins (label species, four measurements)");
      return await loadPenguins(opts);
    case "kmnist":
      reject(TABLE_ONLY, "apply only to CSV data");
      return await loadKmnist(imageOptions);
    case "fashion-mnist":
      reject(TABLE_ONLY, "apply only to CSV data");
      return await loadFashionMnist(imageOptions);
  }

  const info = await Deno.stat(nameOrPath).catch(() => undefined);
  if (info?.isDirectory) {
    reject(TABLE_ONLY, "apply only to CSV data");
    return await loadIdxDataset(nameOrPath, { name: nameOrPath, ...imageOptions });
  }
  if (info?.isFile && nameOrPath.toLowerCase().endsWith(".csv")) {
    return await loadCsvDataset(nameOrPath, opts);
  }
  if (!info && (/[\\/]/.test(nameOrPath) || /\.csv$/i.test(nameOrPath))) {
    throw new UserError(`file not found: ${nameOrPath}`);
  }
  throw userError(
    nameOrPath,
    `unknown dataset; choose ${DATASET_NAMES.join(", ")}, a directory of IDX files ` +
      "or a .csv file" + (info?.isFile ? " (this file does not end in .csv)" : ""),
  );
}
