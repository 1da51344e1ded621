/**
 * Multi-tangent projection (Flügel et al. 2024): instead of the mean (1/K) Σ_k s_k v_k of K
 * forward gradients, project the gradient onto the span of the tangents, V (VᵀV)⁻¹ Vᵀ∇f,
 * computed from the K scalars s = Vᵀ∇f and the K×K Gram matrix VᵀV alone.
 *
 * The projection onto a random K-dimensional subspace has expectation (K/n)·I, so the plain
 * projection is biased in scale by K/n. These coefficients include the factor n/K: the estimate
 * (n/K)·V (VᵀV)⁻¹ s is unbiased, like the mean, and the same learning rate suits both (for
 * K ≪ n the two differ little; the projection removes the tangents' cross-talk).
 *
 * @module
 */

/** gram[a·K + b] += Σ_j v_a[j]·v_b[j] for K tangents stored row-major in v (K × size). */
export function addGram(gram: Float64Array, v: Float32Array, K: number, size: number): void {
  if (gram.length !== K * K || v.length !== K * size) {
    throw new RangeError(`addGram: expected a ${K}×${K} Gram matrix and ${K}×${size} tangents`);
  }
  for (let a = 0; a < K; a++) {
    const va = v.subarray(a * size, (a + 1) * size);
    for (let b = a; b < K; b++) {
      const vb = v.subarray(b * size, (b + 1) * size);
      let dot = 0;
      for (let j = 0; j < size; j++) dot += va[j] * vb[j];
      gram[a * K + b] += dot;
      if (b !== a) gram[b * K + a] += dot;
    }
  }
}

/**
 * c = (n/K)·(VᵀV)⁻¹ s by Cholesky: the estimate is Σ_k c_k v_k. Throws when the Gram matrix is
 * not positive definite (tangents linearly dependent, e.g. K > n).
 */
export function projectionCoefficients(
  gram: Float64Array,
  s: ArrayLike<number>,
  n: number,
): Float32Array {
  const K = s.length;
  if (gram.length !== K * K) throw new RangeError(`projection: Gram matrix is not ${K}×${K}`);
  const L = new Float64Array(K * K);
  for (let i = 0; i < K; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = gram[i * K + j];
      for (let k = 0; k < j; k++) sum -= L[i * K + k] * L[j * K + k];
      if (i === j) {
        if (!(sum > 0)) {
          throw new RangeError(`projection: the ${K} tangents are linearly dependent`);
        }
        L[i * K + i] = Math.sqrt(sum);
      } else L[i * K + j] = sum / L[j * K + j];
    }
  }
  const y = new Float64Array(K);
  for (let i = 0; i < K; i++) {
    let sum = s[i];
    for (let k = 0; k < i; k++) sum -= L[i * K + k] * y[k];
    y[i] = sum / L[i * K + i];
  }
  const c = new Float32Array(K);
  const x = new Float64Array(K);
  for (let i = K - 1; i >= 0; i--) {
    let sum = y[i];
    for (let k = i + 1; k < K; k++) sum -= L[k * K + i] * x[k];
    x[i] = sum / L[i * K + i];
  }
  for (let i = 0; i < K; i++) c[i] = (n / K) * x[i];
  return c;
}
