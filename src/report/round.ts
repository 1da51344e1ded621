/** Numbers as outputs show them: 0.43000000000000005 → 0.43 (what training computes is unchanged). */

/** `x` rounded to `digits` significant digits (non-finite values and integers unchanged). */
export function roundSignificant(x: number, digits = 6): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  return Number(x.toPrecision(digits));
}

/**
 * A JSON.stringify replacer for output files: accuracies (keys containing "accuracy") are
 * shown to 6 significant digits, so 1 − 13/68 reads 0.808824, not 0.8088235294117647.
 */
export function roundAccuracies(key: string, value: unknown): unknown {
  return typeof value === "number" && /accuracy/i.test(key) ? roundSignificant(value) : value;
}
