import { featureSize, type Split } from "./dataset.ts";
import { mixSeeds, permutation } from "./shuffle.ts";

/** Number of batches in one epoch; the last one may be short (drop_last = false). */
export function batchesPerEpoch(count: number, batchSize: number): number {
  if (!(batchSize >= 1)) throw new RangeError(`batch size must be >= 1, got ${batchSize}`);
  return Math.ceil(count / batchSize);
}

/**
 * The batches of one epoch: a seeded shuffle of 0..count-1 cut into `batchSize` pieces (the
 * last may be short). A pure function of (seed, epoch), so any worker or a resumed run can
 * recompute the order of any epoch without storing it.
 */
export function batchOrder(
  count: number,
  batchSize: number,
  epoch: number,
  seed: number,
): Int32Array[] {
  const order = permutation(count, mixSeeds(seed, epoch));
  const batches: Int32Array[] = [];
  for (let b = 0; b < batchesPerEpoch(count, batchSize); b++) {
    batches.push(order.subarray(b * batchSize, Math.min((b + 1) * batchSize, count)));
  }
  return batches;
}

/** A gathered batch: features `[n, ...featureShape]`, labels, and one-hot targets on demand. */
export interface Batch {
  x: Float32Array;
  y: Int32Array;
  oneHot(classes: number): Float32Array;
}

/** Copies the examples `indices` of `split` into contiguous arrays. */
export function gatherBatch(
  split: Split,
  indices: ArrayLike<number>,
  featureShape: readonly number[],
): Batch {
  const size = featureSize(featureShape);
  const x = new Float32Array(indices.length * size);
  const y = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const row = indices[i];
    if (!(row >= 0 && row < split.count)) {
      throw new RangeError(`index ${row} outside split of ${split.count}`);
    }
    x.set(split.x.subarray(row * size, (row + 1) * size), i * size);
    y[i] = split.y[row];
  }
  return { x, y, oneHot: (classes) => oneHot(y, classes) };
}

/** Row-major `[labels.length, classes]` one-hot matrix. */
export function oneHot(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!(Number.isInteger(label) && label >= 0 && label < classes)) {
      throw new RangeError(`label ${label} outside 0..${classes - 1}`);
    }
    out[i * classes + label] = 1;
  }
  return out;
}

/**
 * Worker `w`'s part `[start, end)` of a batch of `batchLen` examples split over `workers`:
 * contiguous, covering the batch exactly, sizes differing by at most 1 (the first
 * `batchLen % workers` shards get the extra one). When `batchLen < workers` the last
 * workers get empty shards (`start === end`); callers skip them, and must weight each
 * worker's mean gradient by its shard size when averaging.
 */
export function shardRange(
  batchLen: number,
  workers: number,
  w: number,
): { start: number; end: number } {
  if (!(Number.isInteger(workers) && workers >= 1)) {
    throw new RangeError(`workers must be a whole number >= 1, got ${workers}`);
  }
  if (!(Number.isInteger(w) && w >= 0 && w < workers)) {
    throw new RangeError(`worker ${w} outside 0..${workers - 1}`);
  }
  const base = Math.floor(batchLen / workers);
  const extra = batchLen % workers;
  const start = w * base + Math.min(w, extra);
  return { start, end: start + base + (w < extra ? 1 : 0) };
}
