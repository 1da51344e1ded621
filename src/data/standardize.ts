import type { Split } from "./dataset.ts";

/** Per-feature mean and standard deviation (population, divides by n). */
export interface Standardization {
  mean: Float64Array;
  std: Float64Array;
}

/** Fits mean/std per feature column of a `[count, width]` matrix. A constant column gets
 * std 1, so it maps to 0 instead of NaN. */
export function fitStandardization(x: Float32Array, count: number, width: number): Standardization {
  const mean = new Float64Array(width);
  const std = new Float64Array(width);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < width; j++) mean[j] += x[i * width + j];
  }
  for (let j = 0; j < width; j++) mean[j] /= Math.max(count, 1);
  for (let i = 0; i < count; i++) {
    for (let j = 0; j < width; j++) std[j] += (x[i * width + j] - mean[j]) ** 2;
  }
  for (let j = 0; j < width; j++) {
    const s = Math.sqrt(std[j] / Math.max(count, 1));
    std[j] = s > 0 ? s : 1;
  }
  return { mean, std };
}

/** Applies `(x - mean) / std` in place. */
export function applyStandardization(x: Float32Array, stats: Standardization): void {
  const width = stats.mean.length;
  for (let i = 0; i < x.length; i++) {
    const j = i % width;
    x[i] = (x[i] - stats.mean[j]) / stats.std[j];
  }
}

/**
 * Standardises both splits with statistics of the training split only, so nothing about the
 * test split leaks into training. Modifies `train.x` and `test.x` in place.
 */
export function standardize(train: Split, test: Split, width: number): Standardization {
  const stats = fitStandardization(train.x, train.count, width);
  applyStandardization(train.x, stats);
  applyStandardization(test.x, stats);
  return stats;
}
