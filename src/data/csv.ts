import { userError } from "../errors.ts";
import type { Dataset, Split } from "./dataset.ts";
import { parseCsv } from "./csv_parse.ts";
import { stratifiedSplit } from "./split.ts";
import { standardize } from "./standardize.ts";

export { parseCsv } from "./csv_parse.ts";
export type { CsvRecord, CsvTable } from "./csv_parse.ts";

export interface CsvDatasetOptions {
  /** Column holding the class; default "species" when the file has one. */
  labelColumn?: string;
  /** Feature columns to use, in this order; default every numeric column but the label. */
  featureColumns?: string[];
  /** Share of rows for the test split (default 0.2); ignored when `testCount` is given. */
  testFraction?: number;
  trainCount?: number;
  testCount?: number;
  seed?: number;
  /** How the data is named in the `split` description; default the path. */
  title?: string;
}

const MISSING = new Set(["", "NA"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isMissing(value: string): boolean {
  return MISSING.has(value.trim());
}

function isNumber(value: string): boolean {
  return NUMBER.test(value.trim());
}

/**
 * Loads a labelled table: numeric columns become features, standardised with training-split
 * statistics; rows with a missing feature or label ("NA" or empty) are dropped and counted in
 * `notes`; the split is seeded and stratified.
 *
 * A column counts as numeric when all its non-missing values parse as numbers. A column where
 * most, but not all, values are numbers is taken to be numeric with a bad value, which is an
 * error naming row, column and value (silently dropping such a feature would hide a typo).
 */
export async function loadCsvDataset(
  path: string,
  options: CsvDatasetOptions = {},
): Promise<Dataset> {
  const { header, records } = parseCsv(await readText(path), path);
  if (records.length === 0) throw userError(path, "no data rows after the header");
  const columns = `columns are: ${header.join(", ")}`;

  const notes: string[] = [];
  // Default label: "species" (penguins-like tables), else the last non-numeric column.
  const fallback = header.findLast((_, j) => !looksNumeric(j));
  const labelColumn = options.labelColumn ??
    (header.includes("species") ? "species" : fallback);
  if (labelColumn === undefined) {
    throw userError(
      path,
      `no label column given, no "species" column and no non-numeric column to take; ` +
        `name it with --label-column; ${columns}`,
    );
  }
  if (options.labelColumn === undefined && labelColumn !== "species") {
    notes.push(`label column "${labelColumn}" (the last non-numeric one; set --label-column)`);
  }
  const labelIndex = header.indexOf(labelColumn);
  if (labelIndex < 0) throw userError(path, `no label column "${labelColumn}"; ${columns}`);

  let featureNames: string[];
  if (options.featureColumns) {
    for (const name of options.featureColumns) {
      if (!header.includes(name)) throw userError(path, `no feature column "${name}"; ${columns}`);
      if (name === labelColumn) throw userError(path, `"${name}" is the label, not a feature`);
    }
    featureNames = options.featureColumns;
  } else {
    featureNames = header.filter((_, j) => j !== labelIndex && looksNumeric(j));
  }
  if (featureNames.length === 0) {
    throw userError(path, `no numeric feature columns besides the label "${labelColumn}"`);
  }
  const ignored = header.filter((name) => name !== labelColumn && !featureNames.includes(name));
  if (ignored.length > 0) notes.push(`ignored columns: ${ignored.join(", ")}`);

  // Collect complete rows; any value present in a feature column must be a number.
  const featureIndex = featureNames.map((name) => header.indexOf(name));
  const values: number[] = [];
  const labels: string[] = [];
  const droppedRows: number[] = [];
  let missingLabels = 0;
  records.forEach((record, r) => {
    let complete = true;
    for (const j of featureIndex) {
      const value = record.fields[j];
      if (isMissing(value)) {
        complete = false;
      } else if (!isNumber(value)) {
        throw userError(
          path,
          `row ${r + 1} (line ${record.line}), column "${header[j]}": ` +
            `expected a number, got "${value}"`,
        );
      }
    }
    if (!complete) {
      droppedRows.push(r + 1);
      return;
    }
    const label = record.fields[labelIndex].trim();
    if (isMissing(label)) {
      missingLabels++;
      return;
    }
    for (const j of featureIndex) values.push(Number(record.fields[j]));
    labels.push(label);
  });
  if (droppedRows.length > 0) {
    const shown = droppedRows.slice(0, 5).join(", ") + (droppedRows.length > 5 ? ", ..." : "");
    notes.push(
      `dropped ${droppedRows.length} rows with missing feature values (data rows ${shown})`,
    );
  }
  if (missingLabels > 0) notes.push(`dropped ${missingLabels} rows with a missing label`);
  if (labels.length === 0) throw userError(path, "no complete rows left after dropping missing");

  const classes = [...new Set(labels)].sort();
  if (classes.length < 2) {
    throw userError(
      path,
      `label column "${labelColumn}" has ${classes.length} class (${classes.join(", ")}); ` +
        "need at least 2",
    );
  }
  const classIndex = new Map(classes.map((c, i) => [c, i]));
  const y = Int32Array.from(labels, (label) => classIndex.get(label)!);
  const x = Float32Array.from(values);
  const width = featureNames.length;

  const parts = stratifiedSplit(y, {
    trainCount: options.trainCount,
    testCount: options.testCount,
    testFraction: options.testCount === undefined ? options.testFraction : undefined,
    seed: options.seed ?? 0,
    where: path,
  });
  if (parts.train.length === 0 || parts.test.length === 0) {
    throw userError(
      path,
      `${labels.length} rows give ${parts.train.length} train / ${parts.test.length} test; ` +
        "both must be non-empty",
    );
  }
  const train = take(x, y, width, parts.train);
  const test = take(x, y, width, parts.test);
  standardize(train, test, width);
  notes.push(`features (${featureNames.join(", ")}) standardised with training-split mean/std`);

  const how = options.testCount !== undefined || options.trainCount !== undefined
    ? "counts"
    : `test fraction ${options.testFraction ?? 0.2}`;
  return {
    name: path,
    split:
      `${
        options.title ?? path
      } (${labels.length} complete rows of ${records.length}), seeded stratified ` +
      `split ${train.count} train / ${test.count} test (${how}), seed ${options.seed ?? 0}`,
    featureShape: [width],
    classes,
    train,
    test,
    notes,
  };

  function looksNumeric(j: number): boolean {
    let numbers = 0;
    let others = 0;
    for (const record of records) {
      const value = record.fields[j];
      if (isMissing(value)) continue;
      if (isNumber(value)) numbers++;
      else others++;
    }
    return numbers > others;
  }
}

/** Copies the chosen rows into a new split. */
function take(x: Float32Array, y: Int32Array, width: number, rows: Int32Array): Split {
  const out = new Float32Array(rows.length * width);
  rows.forEach((row, i) => out.set(x.subarray(row * width, (row + 1) * width), i * width));
  return { x: out, y: Int32Array.from(rows, (row) => y[row]), count: rows.length };
}

/** Reads a text file, turning "not found" and friends into a one-line UserError. */
async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw userError(path, `cannot read file (${e instanceof Error ? e.message : String(e)})`);
  }
}
