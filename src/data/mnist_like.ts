import { fileURLToPath } from "node:url";
import { userError } from "../errors.ts";
import type { Dataset, Split } from "./dataset.ts";
import { parseCsv } from "./csv_parse.ts";
import { type IdxImages, type IdxLabels, readIdxImages, readIdxLabels } from "./idx.ts";
import { stratifiedSplit } from "./split.ts";

/** The four files of the official MNIST-style layout (each may also end in `.gz`). */
export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/** Re-split sizes of the original forward-gradient study's KMNIST runs. */
export const STUDY_RESPLIT = { trainCount: 500, testCount: 100 } as const;

export const KMNIST_DIR = fileURLToPath(new URL("../../data/kmnist/", import.meta.url));
export const FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist/";

export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

export interface IdxDatasetOptions {
  /** Dataset name for `Dataset.name`. */
  name: string;
  /** Human name used in the split description (default `name`). */
  title?: string;
  /** Class names in label order (default "0", "1", ... up to the largest label). */
  classes?: string[];
  /** Subsample (stratified) or re-split sizes; see `loadIdxDataset`. */
  trainCount?: number;
  testCount?: number;
  seed?: number;
  /** Sizes used for a re-split of a test-only directory when no counts are given. */
  resplitDefaults?: { trainCount: number; testCount: number };
  /** Appended to the "directory not found" error, e.g. how to install the data. */
  missingHint?: string;
}

/**
 * Loads an MNIST-style directory of IDX files. With all four official files it uses the
 * official train/test splits (each subsampled, stratified, when a count is given). With only
 * the t10k files it re-splits the official test split, seeded and stratified; such results
 * are not comparable with published ones. Pixels are scaled to [0, 1]; shape `[1, rows, cols]`.
 */
export async function loadIdxDataset(dir: string, options: IdxDatasetOptions): Promise<Dataset> {
  const title = options.title ?? options.name;
  const seed = options.seed ?? 0;
  await requireDirectory(dir, options.missingHint);
  const files = {
    trainImages: await findFile(dir, IDX_FILES.trainImages),
    trainLabels: await findFile(dir, IDX_FILES.trainLabels),
    testImages: await findFile(dir, IDX_FILES.testImages),
    testLabels: await findFile(dir, IDX_FILES.testLabels),
  };
  if (!files.testImages || !files.testLabels) {
    throw userError(
      dir,
      `expected IDX files ${IDX_FILES.testImages}(.gz) and ${IDX_FILES.testLabels}(.gz) ` +
        `(and optionally ${IDX_FILES.trainImages}(.gz), ${IDX_FILES.trainLabels}(.gz))`,
    );
  }
  if (Boolean(files.trainImages) !== Boolean(files.trainLabels)) {
    throw userError(dir, "has only one of the train images/labels files; need both or neither");
  }
  const test = await readPair(files.testImages, files.testLabels);
  const fmt = (n: number) => n.toLocaleString("en-US");
  const notes = ["pixels scaled from uint8 to [0, 1] float32"];

  let train: Split;
  let testSplit: Split;
  let split: string;
  let shape = [test.images.rows, test.images.cols];
  if (files.trainImages && files.trainLabels) {
    const full = await readPair(files.trainImages, files.trainLabels);
    if (full.images.rows !== shape[0] || full.images.cols !== shape[1]) {
      throw userError(
        files.trainImages,
        `images are ${full.images.rows}x${full.images.cols} but the test images are ` +
          `${shape[0]}x${shape[1]}`,
      );
    }
    const trainRows = subsample(full.labels, options.trainCount, seed, files.trainImages);
    const testRows = subsample(test.labels, options.testCount, seed, files.testImages);
    train = toSplit(full, trainRows);
    testSplit = toSplit(test, testRows);
    const sub = options.trainCount !== undefined || options.testCount !== undefined;
    split = sub
      ? `${title} official splits, seeded stratified subsample (seed ${seed}): ` +
        `train ${fmt(train.count)} of ${fmt(full.images.count)}, ` +
        `test ${fmt(testSplit.count)} of ${fmt(test.images.count)} images`
      : `${title} official splits: train ${fmt(train.count)} / test ${fmt(testSplit.count)} images`;
  } else {
    const defaults = options.resplitDefaults ?? STUDY_RESPLIT;
    const parts = stratifiedSplit(Int32Array.from(test.labels.labels), {
      trainCount: options.trainCount ?? defaults.trainCount,
      testCount: options.testCount ?? defaults.testCount,
      seed,
      where: files.testImages,
    });
    train = toSplit(test, parts.train);
    testSplit = toSplit(test, parts.test);
    split = `${title} official test split (${fmt(test.images.count)} images), seeded stratified ` +
      `re-split ${fmt(train.count)} train / ${fmt(testSplit.count)} test, seed ${seed}; ` +
      `not comparable to published ${title} results, which train on the official train split`;
    notes.push(
      `only the official test split (t10k files) is present in ${dir}; ` +
        "train and test are both drawn from it",
    );
  }

  // Only labels that made it into a split need a class name.
  const largest = Math.max(0, ...new Set([...train.y, ...testSplit.y]));
  const classes = options.classes ?? Array.from({ length: largest + 1 }, (_, i) => String(i));
  if (largest >= classes.length) {
    throw userError(dir, `label ${largest} found but only ${classes.length} classes are named`);
  }
  shape = [1, ...shape];
  return { name: options.name, split, featureShape: shape, classes, train, test: testSplit, notes };
}

/** KMNIST from data/kmnist (or `dir`); by default the study's 500/100 re-split. */
export async function loadKmnist(
  options: Omit<IdxDatasetOptions, "name"> & { dir?: string } = {},
): Promise<Dataset> {
  const { dir = KMNIST_DIR, ...rest } = options;
  return await loadIdxDataset(dir, {
    name: "kmnist",
    title: "KMNIST",
    classes: await kmnistClasses(dir),
    ...rest,
  });
}

/** Fashion-MNIST from Debian's dataset-fashion-mnist package (or `dir`). */
export async function loadFashionMnist(
  options: Omit<IdxDatasetOptions, "name"> & { dir?: string } = {},
): Promise<Dataset> {
  const { dir = FASHION_MNIST_DIR, ...rest } = options;
  return await loadIdxDataset(dir, {
    name: "fashion-mnist",
    title: "Fashion-MNIST",
    classes: FASHION_MNIST_CLASSES,
    missingHint: "install it with `apt-get install dataset-fashion-mnist`",
    ...rest,
  });
}

/** Class names (the characters, e.g. "お") from kmnist_classmap.csv: index,codepoint,char. */
async function kmnistClasses(dir: string): Promise<string[] | undefined> {
  const path = `${dir.replace(/\/$/, "")}/kmnist_classmap.csv`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined; // A user-supplied directory may lack it; labels then name the classes.
  }
  const { header, records } = parseCsv(text, path);
  const [index, codepoint, char] = ["index", "codepoint", "char"].map((c) => header.indexOf(c));
  if (index < 0 || codepoint < 0 || char < 0) {
    throw userError(path, `expected columns index,codepoint,char; got ${header.join(",")}`);
  }
  const classes: string[] = [];
  records.forEach((r, i) => {
    if (Number(r.fields[index]) !== i) {
      throw userError(path, `row ${i + 1}: expected index ${i}, got "${r.fields[index]}"`);
    }
    classes.push(r.fields[char]);
  });
  return classes;
}

async function readPair(
  imagesPath: string,
  labelsPath: string,
): Promise<{ images: IdxImages; labels: IdxLabels }> {
  const [images, labels] = await Promise.all([
    readIdxImages(imagesPath),
    readIdxLabels(labelsPath),
  ]);
  if (images.count !== labels.count) {
    throw userError(
      imagesPath,
      `holds ${images.count} images but ${labelsPath} holds ${labels.count} labels`,
    );
  }
  return { images, labels };
}

/** All rows, or a seeded stratified subsample of `count` rows. */
function subsample(
  labels: IdxLabels,
  count: number | undefined,
  seed: number,
  where: string,
): Int32Array {
  if (count === undefined) return Int32Array.from({ length: labels.count }, (_, i) => i);
  const y = Int32Array.from(labels.labels);
  return stratifiedSplit(y, { trainCount: count, testCount: 0, seed, where }).train;
}

function toSplit(data: { images: IdxImages; labels: IdxLabels }, rows: Int32Array): Split {
  const size = data.images.rows * data.images.cols;
  const x = new Float32Array(rows.length * size);
  rows.forEach((row, i) => {
    const pixels = data.images.pixels.subarray(row * size, (row + 1) * size);
    for (let k = 0; k < size; k++) x[i * size + k] = pixels[k] / 255;
  });
  return { x, y: Int32Array.from(rows, (row) => data.labels.labels[row]), count: rows.length };
}

async function requireDirectory(dir: string, hint?: string): Promise<void> {
  let isDirectory = false;
  try {
    isDirectory = (await Deno.stat(dir)).isDirectory;
  } catch {
    // Missing: reported below.
  }
  if (!isDirectory) {
    throw userError(dir, `dataset directory not found${hint ? `; ${hint}` : ""}`);
  }
}

/** `dir/name` or `dir/name.gz`, whichever exists (uncompressed first). */
async function findFile(dir: string, name: string): Promise<string | undefined> {
  for (const candidate of [name, `${name}.gz`]) {
    const path = `${dir.replace(/\/$/, "")}/${candidate}`;
    try {
      if ((await Deno.stat(path)).isFile) return path;
    } catch {
      // Not there; try the next name.
    }
  }
  return undefined;
}
