/**
 * Forward-gradient estimate from scalars: acc += scale · Σ_k s_k · v_k, where v_k are the
 * tangents regenerated from the seed. Used by the coordinator in shared-tangent mode (workers
 * send only the K directional derivatives s_k) and by workers themselves.
 *
 * Tangents are regenerated chunk by chunk into a small scratch buffer, so memory stays O(chunk)
 * however large K·n is; the sum over k is kept in float64 per chunk and added to acc once.
 *
 * @module
 */

import { checkCounterRange, streamKey } from "./counter_hash.ts";
import { fillTangent, type TangentBatch } from "./tangents.ts";

/** The tangents behind the scalars: tangent firstTangent + k pairs with scalars[k]. */
export type EstimateStream = Omit<TangentBatch, "K">;

/** Elements per chunk: scratch (16 KiB) and partial sums (32 KiB) stay in L1/L2. */
const CHUNK = 4096;

/**
 * For i in [0, n): acc[i] += scale · Σ_k scalars[k] · v_{firstTangent+k}[offset + i].
 * The default scale 1/K makes this the mean forward gradient over the K tangents.
 */
export function accumulateEstimate(
  acc: Float32Array,
  n: number,
  scalars: Float32Array,
  stream: EstimateStream,
  scale: number = 1 / scalars.length,
): void {
  if (!Number.isInteger(n) || n < 0 || n > acc.length) {
    throw new RangeError(`n = ${n} must be an integer in [0, acc.length = ${acc.length}]`);
  }
  const K = scalars.length;
  if (K === 0 || n === 0) return;
  const offset = stream.offset ?? 0;
  // Validate everything before acc is touched, so a bad call leaves it unchanged.
  checkCounterRange(offset, n);
  const keys = Array.from(
    { length: K },
    (_, k) => streamKey(stream.seed, stream.step, stream.worker, stream.firstTangent + k),
  );
  const scratch = new Float32Array(Math.min(CHUNK, n));
  const sum = new Float64Array(scratch.length);
  for (let start = 0; start < n; start += CHUNK) {
    const len = Math.min(CHUNK, n - start);
    const v = len === scratch.length ? scratch : scratch.subarray(0, len);
    sum.fill(0);
    for (let k = 0; k < K; k++) {
      fillTangent(stream.dist, keys[k], offset + start, v);
      const s = scalars[k];
      for (let i = 0; i < len; i++) sum[i] += s * v[i];
    }
    for (let i = 0; i < len; i++) acc[start + i] += scale * sum[i];
  }
}
