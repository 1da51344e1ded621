/**
 * Sampling and estimates for low-rank weight tangents (src/ad/low_rank.ts): the factors of
 * tangent k of a weight whose stretch of the flat parameter vector starts at `offset` are
 * elements [offset, offset + R·d0) (a, row-major [R, d0]) and [offset + R·d0, offset + R·(d0 +
 * d1)) (b, [R, d1]) of stream k: a pure function of (seed, step, worker, k) as every tangent,
 * drawn from the weight's own stretch, so no two parameters share noise.
 *
 * @module
 */
import { streamKey } from "./counter_hash.ts";
import { fillTangent, type TangentDist } from "./tangents.ts";

export interface FactorStream {
  seed: number;
  step: number;
  worker: number;
  dist: TangentDist;
  /** The weight's offset in the flat parameter vector. */
  offset: number;
}

/** Fills a [K, R, d0] and b [K, R, d1] with the factors of K tangents. */
export function sampleFactors(
  a: Float32Array,
  b: Float32Array,
  shape: { K: number; R: number; d0: number; d1: number },
  stream: FactorStream,
): void {
  const { K, R, d0, d1 } = shape;
  if (a.length !== K * R * d0 || b.length !== K * R * d1) {
    throw new RangeError(`factors: expected ${K}×${R}×${d0} and ${K}×${R}×${d1} values`);
  }
  for (let k = 0; k < K; k++) {
    const key = streamKey(stream.seed, stream.step, stream.worker, k);
    fillTangent(stream.dist, key, stream.offset, a.subarray(k * R * d0, (k + 1) * R * d0));
    fillTangent(stream.dist, key, stream.offset + R * d0, b.subarray(k * R * d1, (k + 1) * R * d1));
  }
}

/**
 * dst[e − from] += Σ_k c_k · V_k[e] for the weight's elements e in [from, to), where
 * V_k = (1/√R) Σ_r a_kr ⊗ b_kr: the estimate (or a slice of it) straight from the factors.
 */
export function accumulateFactored(
  dst: Float32Array,
  c: ArrayLike<number>,
  a: Float32Array,
  b: Float32Array,
  shape: { K: number; R: number; d0: number; d1: number },
  range: { from: number; to: number },
): void {
  const { K, R, d0, d1 } = shape;
  const scale = 1 / Math.sqrt(R);
  const { from, to } = range;
  for (let k = 0; k < K; k++) {
    for (let r = 0; r < R; r++) {
      const ar = a.subarray((k * R + r) * d0, (k * R + r + 1) * d0);
      const br = b.subarray((k * R + r) * d1, (k * R + r + 1) * d1);
      const ck = c[k] * scale;
      for (let i = Math.floor(from / d1); i < d0 && i * d1 < to; i++) {
        const s = ck * ar[i];
        const j0 = Math.max(0, from - i * d1);
        const j1 = Math.min(d1, to - i * d1);
        const base = i * d1 - from;
        for (let j = j0; j < j1; j++) dst[base + j] += s * br[j];
      }
    }
  }
}
