/**
 * Counter-based randomness for forward gradients: every tangent entry is a pure function of
 * (seed, step, worker, tangent, element), so tangents can be regenerated anywhere from the seed.
 *
 * ```ts
 * import { accumulateEstimate, sampleTangent } from "./mod.ts";
 *
 * const v = new Float32Array(1000);
 * sampleTangent(v, { seed: 7, step: 0, worker: 0, tangent: 0, dist: "normal" });
 * // Coordinator, shared-tangent mode: rebuild (1/K) Σ_k s_k v_k from the scalars alone.
 * const grad = new Float32Array(1000);
 * const s = new Float32Array([0.5, -1.25]);
 * const stream = { seed: 7, step: 0, worker: 0, firstTangent: 0, dist: "normal" } as const;
 * accumulateEstimate(grad, 1000, s, stream);
 * ```
 *
 * @module
 */

export { COUNTER_LIMIT, fillUint32, hashWord, type StreamKey, streamKey } from "./counter_hash.ts";
export {
  fillTangent,
  sampleTangent,
  sampleTangents,
  type TangentBatch,
  type TangentDist,
  type TangentStream,
} from "./tangents.ts";
export { accumulateEstimate, type EstimateStream } from "./estimate.ts";
