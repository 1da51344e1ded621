/**
 * Activity perturbation (FG-A; with local losses LG-FG-A) as a step strategy: W workers each
 * put K independent tangents on every example's layer outputs in their shard, and the activity
 * graph returns the shard's gradient estimate, formed layer by layer (src/ad/activity.ts).
 * The estimates combine weighted by shard size (combine.ts), unbiased for the batch gradient.
 * Tangents are keyed by the worker's index (independent mode; the estimate needs the
 * examples, so there is no scalars-only shared mode).
 *
 * @module
 */
import {
  type ActivityInit,
  type ActivityResult,
  ActivityResultSchema,
} from "../../engine/messages.ts";
import type { ActivityWorkerApi } from "../../engine/worker_api.ts";
import { combineVectors } from "./combine.ts";
import { fanOutShards } from "./shards.ts";
import { type StepSetup, type StepStrategy, tangentWorkerInit } from "./strategy.ts";

/** A worker's reply with its share of the batch. */
export type ActivityReply = ActivityResult & { weight: number };

export function activityStep(setup: StepSetup): StepStrategy<ActivityWorkerApi, ActivityReply> {
  const { config, graphs, grad, classes } = setup;
  if (!graphs.activity) throw new Error("internal: activity perturbation without its graph");
  const activity = graphs.activity;
  return {
    kind: "activity_worker",
    workers: config.workers,
    init: (w): ActivityInit => ({
      ...tangentWorkerInit(setup, w),
      graph: activity.graph,
      sites: activity.sites,
      stream: w,
    }),
    fanOut(batch, calls) {
      const parse = (raw: unknown) => ActivityResultSchema.parse(raw);
      return fanOutShards(batch, calls, { classes, wantEstimate: true, parse });
    },
    combine(replies) {
      const parts = replies.map((r) => ({
        weight: r.weight,
        loss: r.loss,
        scalars: new Float32Array(),
        estimate: r.gradient,
      }));
      return Promise.resolve(combineVectors(parts, grad));
    },
  };
}
