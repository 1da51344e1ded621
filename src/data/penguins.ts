import { fileURLToPath } from "node:url";
import type { Dataset } from "./dataset.ts";
import { loadCsvDataset } from "./csv.ts";

/** The embedded copy of the Palmer penguins table (see data/penguins/SOURCE.md). */
export const PENGUINS_CSV = fileURLToPath(
  new URL("../../data/penguins/penguins.csv", import.meta.url),
);

/** The four body measurements; island, sex and year are left out, as in TFDS
 * `penguins/processed`, so the task is "species from measurements". */
export const PENGUIN_FEATURES = [
  "bill_length_mm",
  "bill_depth_mm",
  "flipper_length_mm",
  "body_mass_g",
];

export interface PenguinsOptions {
  testFraction?: number;
  trainCount?: number;
  testCount?: number;
  seed?: number;
  /** Another copy of penguins.csv (same columns). */
  path?: string;
}

/** Palmer penguins: 342 complete rows of 344, 3 species, 4 standardised features. */
export async function loadPenguins(options: PenguinsOptions = {}): Promise<Dataset> {
  const { path = PENGUINS_CSV, ...split } = options;
  const data = await loadCsvDataset(path, {
    ...split,
    labelColumn: "species",
    featureColumns: PENGUIN_FEATURES,
    title: "Palmer penguins",
  });
  return { ...data, name: "penguins" };
}
