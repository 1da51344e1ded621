/**
 * Combining forward-gradient workers' shard estimates into the batch estimate: the one
 * combination path, used by the coordinator's forward step and, in process, by tests and
 * benchmarks.
 *
 * Each shard estimate is unbiased for its shard's gradient, so the sum weighted by shard size
 * is unbiased for the batch gradient.
 *
 * Independent mode: Σ_w weight_w·ĝ_w (each worker sent its vector).
 * Shared mode: every worker used the same K tangents (stream 0), so Σ_w weight_w·(∇f_w·v_k)
 * is the batch directional derivative along v_k; (1/K) Σ_k s_k v_k is rebuilt from the seed
 * (rebuildEstimate, by the workers in parallel slices or here in one piece), and workers send
 * only their K scalars.
 *
 * @module
 */
import { rebuildEstimate } from "../../engine/forward_engine.ts";
import type { TangentDist } from "../../random/tangents.ts";

export interface WorkerEstimate {
  /** Shard size / batch size: the worker's share of the batch-mean loss. */
  weight: number;
  loss: number;
  scalars: Float32Array;
  estimate?: Float32Array;
}

/** Shared mode: the batch loss and the batch directional derivatives s_k = Σ_w weight_w·s_wk. */
export function combineScalars(parts: WorkerEstimate[]): { loss: number; sums: Float32Array } {
  let loss = 0;
  const K = parts[0]?.scalars.length ?? 0;
  const sums = new Float32Array(K);
  for (const p of parts) {
    loss += p.weight * p.loss;
    for (let k = 0; k < K; k++) sums[k] += p.weight * p.scalars[k];
  }
  return { loss, sums };
}

/** Independent mode: Σ_w weight_w·ĝ_w into `grad`; returns the batch loss. */
export function combineVectors(parts: WorkerEstimate[], grad: Float32Array): number {
  grad.fill(0);
  let loss = 0;
  for (const p of parts) {
    loss += p.weight * p.loss;
    const est = p.estimate!;
    for (let i = 0; i < grad.length; i++) grad[i] += p.weight * est[i];
  }
  return loss;
}

/**
 * The batch estimate into `grad`, in this thread (shared mode: rebuilt in one piece); returns
 * the batch loss. Bit-identical to the coordinator's step, which rebuilds in worker slices.
 */
export function combineEstimates(
  parts: WorkerEstimate[],
  grad: Float32Array,
  shared: { seed: number; step: number; dist: TangentDist } | null,
): number {
  if (!shared) return combineVectors(parts, grad);
  const { loss, sums } = combineScalars(parts);
  rebuildEstimate(grad, sums, { start: 0, end: grad.length }, { ...shared, stream: 0 });
  return loss;
}
