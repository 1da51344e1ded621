/**
 * Gradient-norm clipping (`--clip-grad-norm X`, both methods): a step's gradient or estimate
 * longer than X is scaled down to length X, so one noisy forward-gradient estimate cannot
 * throw the parameters far. Shorter gradients are left exactly as they are.
 *
 * @module
 */

/** Scales `grad` in place to an L2 norm of at most `maxNorm`; returns the norm before. */
export function clipGradNorm(grad: Float32Array, maxNorm: number): number {
  let sq = 0;
  for (let i = 0; i < grad.length; i++) sq += grad[i] * grad[i];
  const norm = Math.sqrt(sq);
  if (norm > maxNorm) {
    const scale = maxNorm / norm;
    for (let i = 0; i < grad.length; i++) grad[i] *= scale;
  }
  return norm;
}
