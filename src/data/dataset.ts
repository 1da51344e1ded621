/** A labelled split: `x` is row-major `[count, ...featureShape]`, `y` holds class indices. */
export interface Split {
  x: Float32Array;
  y: Int32Array;
  count: number;
}

/** A loaded dataset with its train/test splits and a record of how they were made. */
export interface Dataset {
  /** "penguins", "kmnist", "fashion-mnist", or a path. */
  name: string;
  /** Which split was used, in words; every printed result names it. */
  split: string;
  /** `[4]` for penguins, `[1, 28, 28]` for images. */
  featureShape: number[];
  /** Class names in label order. */
  classes: string[];
  train: Split;
  test: Split;
  /** What the loader did to the data, e.g. "dropped 2 rows with missing measurements". */
  notes: string[];
}

/** Number of feature values per example (product of `featureShape`). */
export function featureSize(featureShape: readonly number[]): number {
  return featureShape.reduce((a, b) => a * b, 1);
}
