/**
 * The weight-perturbation forward gradient as a step strategy: W workers each estimate the
 * gradient of their shard of the batch with K tangents (one JVP run); the estimates combine
 * weighted by shard size (combine.ts), so the result is unbiased for the batch gradient.
 *
 * Independent tangents: every worker draws its own (stream w) and sends its estimate vector.
 * Shared tangents: every worker draws the same (stream 0) and sends only its K scalars; the
 * workers then rebuild disjoint slices of the batch estimate into the shared gradient.
 *
 * @module
 */
import { shardRange } from "../../data/batches.ts";
import {
  type ForwardInit,
  type ForwardResult,
  ForwardResultSchema,
  type Rebuild,
  type Shard,
} from "../../engine/messages.ts";
import type { ForwardWorkerApi } from "../../engine/worker_api.ts";
import { settleAll } from "../supervised_pool.ts";
import { combineScalars, combineVectors } from "./combine.ts";
import type { StepCalls, StepSetup, StepStrategy } from "./strategy.ts";

/** A worker's reply with its share of the batch. */
export type ForwardReply = ForwardResult & { weight: number };

export function forwardStep(setup: StepSetup): StepStrategy<ForwardWorkerApi, ForwardReply> {
  const { config, graphs, layout, params, grad, featureShape, classes } = setup;
  const shared = config.tangentMode === "shared";
  return {
    kind: "forward_worker",
    workers: config.workers,
    init: (w): ForwardInit => ({
      jvp: graphs.jvp,
      layout,
      params,
      featureShape,
      classes,
      K: config.tangents,
      seed: config.seed,
      dist: config.tangentDist,
      stream: shared ? 0 : w,
      rebuildInto: shared ? grad : undefined,
      eval: w === 0 ? setup.eval : undefined,
    }),
    async fanOut({ step, x, labels, count: B }, { pool, budget }) {
      const width = x.length / B;
      const shards = Array.from({ length: pool.size }, (_, w) => shardRange(B, pool.size, w));
      const replies = await settleAll(shards.map(async ({ start, end }, w) => {
        if (end <= start) return null;
        const message: Shard = {
          step,
          x: x.slice(start * width, end * width),
          labels: labels.slice(start * classes, end * classes),
          count: end - start,
          wantEstimate: !shared,
        };
        const r = await pool.call(
          w,
          budget,
          "step",
          (api) => api.step(message),
          (raw) => ForwardResultSchema.parse(raw),
        );
        return { weight: (end - start) / B, ...r };
      }));
      return replies.filter((r) => r !== null);
    },
    async combine(replies, { step }, calls) {
      if (!shared) return combineVectors(replies, grad);
      const { loss, sums } = combineScalars(replies);
      await rebuildInParallel({ step, sums }, grad.length, calls);
      return loss;
    },
  };
}

/**
 * Shared mode: each worker regenerates a slice of (1/K) Σ_k s_k v_k into the shared gradient,
 * so the rebuild runs in parallel.
 */
async function rebuildInParallel(
  what: Pick<Rebuild, "step" | "sums">,
  n: number,
  { pool, budget }: StepCalls<ForwardWorkerApi>,
): Promise<void> {
  const slices = Array.from({ length: pool.size }, (_, w) => shardRange(n, pool.size, w));
  await settleAll(slices.map(({ start, end }, w) => {
    if (end <= start) return null;
    const message: Rebuild = { ...what, start, end };
    return pool.call(w, budget, "step", (api) => api.rebuild(message), () => null);
  }));
}
