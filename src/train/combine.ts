import { accumulateEstimate } from "../random/estimate.ts";
import type { TangentDist } from "../random/tangents.ts";

export interface WorkerEstimate {
  /** Shard size / batch size: the worker's share of the batch-mean loss. */
  weight: number;
  loss: number;
  scalars: Float32Array;
  estimate?: Float32Array;
}

/**
 * The batch estimate from the workers' shard estimates. Each is unbiased for its shard's
 * gradient, so the weighted sum is unbiased for the batch gradient.
 *
 * Independent mode: Σ_w weight_w·ĝ_w (each worker sent its vector).
 * Shared mode: every worker used the same K tangents (stream 0), so Σ_w weight_w·(∇f_w·v_k)
 * is the batch directional derivative along v_k; the coordinator rebuilds
 * (1/K) Σ_k s_k v_k from the seed and receives only K scalars per worker.
 */
export function combineEstimates(
  parts: WorkerEstimate[],
  grad: Float32Array,
  shared: { seed: number; step: number; dist: TangentDist } | null,
): number {
  grad.fill(0);
  let loss = 0;
  const K = parts[0]?.scalars.length ?? 0;
  const sums = new Float32Array(K);
  for (const p of parts) {
    loss += p.weight * p.loss;
    if (shared) {
      for (let k = 0; k < K; k++) sums[k] += p.weight * p.scalars[k];
    } else {
      const est = p.estimate!;
      for (let i = 0; i < grad.length; i++) grad[i] += p.weight * est[i];
    }
  }
  if (shared) {
    accumulateEstimate(grad, grad.length, sums, { ...shared, worker: 0, firstTangent: 0 });
  }
  return loss;
}
