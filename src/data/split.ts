import { userError } from "../errors.ts";
import { mulberry32, shuffleInPlace } from "./shuffle.ts";

/** How many examples go where. Give `testCount` or `testFraction` (default 0.2); `trainCount`
 * defaults to everything not in the test set. */
export interface SplitOptions {
  trainCount?: number;
  testCount?: number;
  testFraction?: number;
  seed?: number;
  /** Names the data in error messages (a file or dataset name). */
  where?: string;
}

/** Row indices of each part, ascending. */
export interface SplitIndices {
  train: Int32Array;
  test: Int32Array;
}

/**
 * Seeded stratified split: each class is shuffled on its own and cut so that every class is
 * represented in proportion to its size in both parts (largest-remainder rounding). The same
 * labels and seed always give the same split. With `trainCount + testCount < labels.length`
 * the rest is left out, which makes this a stratified subsample too.
 */
export function stratifiedSplit(labels: Int32Array, options: SplitOptions = {}): SplitIndices {
  const where = options.where ?? "split";
  const n = labels.length;
  if (options.testCount !== undefined && options.testFraction !== undefined) {
    throw userError(where, "give either a test count or a test fraction, not both");
  }
  const fraction = options.testFraction ?? 0.2;
  if (!(fraction >= 0 && fraction < 1)) {
    throw userError(where, `test fraction must be in [0, 1), got ${fraction}`);
  }
  const testCount = options.testCount ?? Math.round(n * fraction);
  const trainCount = options.trainCount ?? n - testCount;
  for (const [what, value] of [["train", trainCount], ["test", testCount]] as const) {
    if (!Number.isInteger(value) || value < 0) {
      throw userError(where, `${what} count must be a whole number >= 0, got ${value}`);
    }
  }
  if (trainCount + testCount > n) {
    throw userError(
      where,
      `asked for ${trainCount} train + ${testCount} test examples but only ${n} are available`,
    );
  }

  const byClass = groupByClass(labels);
  const sizes = byClass.map((members) => members.length);
  const testPerClass = apportion(testCount, sizes, sizes);
  const rest = sizes.map((size, c) => size - testPerClass[c]);
  // When everything is used, train takes exactly what test left; otherwise apportion again.
  const trainPerClass = trainCount + testCount === n ? rest : apportion(trainCount, sizes, rest);

  const random = mulberry32(options.seed ?? 0);
  const train: number[] = [];
  const test: number[] = [];
  byClass.forEach((members, c) => {
    shuffleInPlace(members, random);
    for (let i = 0; i < testPerClass[c]; i++) test.push(members[i]);
    for (let i = 0; i < trainPerClass[c]; i++) train.push(members[testPerClass[c] + i]);
  });
  return {
    train: Int32Array.from(train).sort(),
    test: Int32Array.from(test).sort(),
  };
}

/** Indices of each distinct label, classes in ascending label order. */
function groupByClass(labels: Int32Array): Int32Array[] {
  const groups = new Map<number, number[]>();
  labels.forEach((label, i) => {
    const group = groups.get(label);
    if (group) group.push(i);
    else groups.set(label, [i]);
  });
  return [...groups.keys()].sort((a, b) => a - b).map((k) => Int32Array.from(groups.get(k)!));
}

/**
 * Largest-remainder (Hamilton) apportionment of `total` over `weights`, never giving a part
 * more than its cap. Requires `total <= sum(caps)`.
 */
export function apportion(total: number, weights: number[], caps: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const quotas = weights.map((w) => (sum > 0 ? (total * w) / sum : 0));
  const out = quotas.map((q, i) => Math.min(Math.floor(q), caps[i]));
  let left = total - out.reduce((a, b) => a + b, 0);
  // Largest fractional remainder first; ties go to the lower class index (stable sort).
  const order = quotas.map((_, i) => i).sort((a, b) =>
    (quotas[b] - Math.floor(quotas[b])) - (quotas[a] - Math.floor(quotas[a]))
  );
  while (left > 0) {
    let progressed = false;
    for (const i of order) {
      if (left > 0 && out[i] < caps[i]) {
        out[i]++;
        left--;
        progressed = true;
      }
    }
    if (!progressed) throw new RangeError(`cannot apportion ${total} within caps ${caps}`);
  }
  return out;
}
