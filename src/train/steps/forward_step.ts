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
} from "../../engine/messages.ts";
import { projectionCoefficients } from "../../random/projection.ts";
import type { ForwardWorkerApi } from "../../engine/worker_api.ts";
import { settleAll } from "../supervised_pool.ts";
import { combineScalars, combineVectors } from "./combine.ts";
import { fanOutShards } from "./shards.ts";
import {
  type StepCalls,
  type StepSetup,
  type StepStrategy,
  tangentWorkerInit,
} from "./strategy.ts";

/** A worker's reply with its share of the batch. */
export type ForwardReply = ForwardResult & { weight: number };

export function forwardStep(setup: StepSetup): StepStrategy<ForwardWorkerApi, ForwardReply> {
  const { config, graphs, grad, classes } = setup;
  const shared = config.tangentMode === "shared";
  const projection = config.combine === "projection";
  return {
    kind: "forward_worker",
    workers: config.workers,
    init: (w): ForwardInit => ({
      ...tangentWorkerInit(setup, w),
      jvp: graphs.jvp,
      stream: shared ? 0 : w,
      rebuildInto: shared ? grad : undefined,
      combine: config.combine ?? "mean",
      lowRank: config.tangentRank,
    }),
    fanOut(batch, calls) {
      const parse = (raw: unknown) => ForwardResultSchema.parse(raw);
      return fanOutShards(batch, calls, { classes, wantEstimate: !shared, parse });
    },
    async combine(replies, { step }, calls) {
      if (!shared) return combineVectors(replies, grad);
      const { loss, sums } = combineScalars(replies);
      if (!projection) {
        await rebuildInParallel({ step, sums }, grad.length, calls);
        return loss;
      }
      // Every worker drew the same tangents, so any one's Gram matrix is the batch's.
      const gram = replies[0].gram;
      if (!gram) throw new Error("internal: a projection worker sent no Gram matrix");
      const c = projectionCoefficients(gram, sums, grad.length);
      await rebuildInParallel({ step, sums: c, scale: 1 }, grad.length, calls);
      return loss;
    },
  };
}

/**
 * Shared mode: each worker regenerates a slice of (1/K) Σ_k s_k v_k into the shared gradient,
 * so the rebuild runs in parallel.
 */
async function rebuildInParallel(
  what: Pick<Rebuild, "step" | "sums" | "scale">,
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
