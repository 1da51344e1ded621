/** Numbers as outputs show them: 0.43000000000000005 → 0.43 (what training computes is unchanged). */

/** `x` rounded to `digits` significant digits (non-finite values and integers unchanged). */
export function roundSignificant(x: number, digits = 6): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  return Number(x.toPrecision(digits));
}
