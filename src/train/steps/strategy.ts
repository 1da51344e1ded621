/**
 * The step strategy: how one gradient estimator takes a training step on the workers. The
 * coordinator stays the same for every estimator; a strategy, selected by the config (runMethod
 * in coordinator.ts picks one by `method`; forwardStep reads `tangentMode`), says
 *
 * - what its workers are (kind, count) and what each one's init holds,
 * - how a batch fans out to them (the calls and the parsed replies),
 * - how the replies combine into the gradient vector the optimizer steps with.
 *
 * forward_step.ts (weight perturbation, shared or independent tangents) and backprop_step.ts
 * (the exact gradient) are the two today.
 *
 * @module
 */
import type { EngineWorkerApi } from "../../engine/worker_api.ts";
import type { EvalSetup } from "../../engine/messages.ts";
import type { TrainingGraphs } from "../../model/graphs.ts";
import type { ParamLayout } from "../../model/params.ts";
import type { TrainConfig } from "../config.ts";
import type { WorkerKind } from "../spawn.ts";
import type { FailureBudget, SupervisedPool } from "../supervised_pool.ts";

/** What every strategy is built from: the run's config, graphs and shared vectors. */
export interface StepSetup {
  config: TrainConfig;
  graphs: TrainingGraphs;
  layout: ParamLayout;
  /** The coordinator's parameters, shared with every worker. */
  params: Float32Array;
  /** The step's gradient, shared too (shared-tangent workers rebuild slices of it). */
  grad: Float32Array;
  featureShape: number[];
  classes: number;
  /** What the evaluating worker (worker 0) is given besides its engine's setup. */
  eval: EvalSetup;
}

/** One training batch, as the coordinator gathered it. */
export interface StepBatch {
  step: number;
  x: Float32Array;
  /** One-hot labels, `classes` per example. */
  labels: Float32Array;
  /** Examples in the batch. */
  count: number;
}

/** What a strategy calls the workers through during one step. */
export interface StepCalls<Api extends EngineWorkerApi> {
  pool: SupervisedPool<Api>;
  /** The step's failures, counted against --max-retries. */
  budget: FailureBudget;
}

/** One gradient estimator, as the coordinator drives it (see the module comment). */
export interface StepStrategy<Api extends EngineWorkerApi, Reply> {
  /** The worker file (workers/<kind>.ts) and how many of them. */
  readonly kind: WorkerKind;
  readonly workers: number;
  /** (a) Worker w's init argument; a replacement worker gets the same. */
  init(w: number): unknown;
  /** (b) Sends the batch out to the workers; their replies, parsed. */
  fanOut(batch: StepBatch, calls: StepCalls<Api>): Promise<Reply[]>;
  /**
   * (c) Combines the replies into `grad` (the setup's gradient vector, zeroed before the
   * step); returns the batch loss.
   */
  combine(replies: Reply[], batch: StepBatch, calls: StepCalls<Api>): Promise<number>;
}

/**
 * The init fields every forward-gradient worker shares: the shared parameters, the data's
 * shape, the tangent stream (K, seed, distribution) and, for worker 0, the evaluation setup.
 */
export function tangentWorkerInit(setup: StepSetup, w: number) {
  const { config, layout, params, featureShape, classes } = setup;
  return {
    layout,
    params,
    featureShape,
    classes,
    K: config.tangents,
    seed: config.seed,
    dist: config.tangentDist,
    eval: w === 0 ? setup.eval : undefined,
  };
}
