/**
 * The fan-out every data-parallel step strategy shares: split the batch into one even shard
 * per worker, call each worker's `step` on its shard (supervised, all settled before a
 * failure is thrown), and tag each reply with its shard's share of the batch.
 *
 * @module
 */
import { shardRange } from "../../data/batches.ts";
import type { Shard } from "../../engine/messages.ts";
import type { EngineWorkerApi } from "../../engine/worker_api.ts";
import { settleAll } from "../supervised_pool.ts";
import type { StepBatch, StepCalls } from "./strategy.ts";

/** A worker that takes a shard per step. */
type ShardWorker = EngineWorkerApi & { step(raw: unknown): Promise<unknown> };

export async function fanOutShards<Api extends ShardWorker, R>(
  { step, x, labels, count: B }: StepBatch,
  { pool, budget }: StepCalls<Api>,
  options: { classes: number; wantEstimate: boolean; parse: (raw: unknown) => R },
): Promise<(R & { weight: number })[]> {
  const { classes, wantEstimate, parse } = options;
  const width = x.length / B;
  const shards = Array.from({ length: pool.size }, (_, w) => shardRange(B, pool.size, w));
  const replies = await settleAll(shards.map(async ({ start, end }, w) => {
    if (end <= start) return null;
    const message: Shard = {
      step,
      x: x.slice(start * width, end * width),
      labels: labels.slice(start * classes, end * classes),
      count: end - start,
      wantEstimate,
    };
    const r = await pool.call(w, budget, "step", (api) => api.step(message), parse);
    return { weight: (end - start) / B, ...r };
  }));
  return replies.filter((r) => r !== null);
}
