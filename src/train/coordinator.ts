/**
 * The coordinator: trains one method. It picks the method's step strategy (steps/), starts
 * its supervised workers, and runs the loop: gather a batch, let the strategy fan it out and
 * combine the replies into the gradient, check it, step the optimizer, evaluate, report,
 * checkpoint, and stop by the rules in stopping.ts. It returns the result with how the run
 * ended (`status`, `cause`); only unexpected errors (a bug, bad input) are thrown.
 *
 * @module
 */
import { batchesPerEpoch, batchOrder, gatherBatch } from "../data/batches.ts";
import type { Dataset } from "../data/dataset.ts";
import { EvaluationSchema } from "../engine/messages.ts";
import type { EngineWorkerApi } from "../engine/worker_api.ts";
import type { TrainingGraphs } from "../model/graphs.ts";
import type { ParamLayout } from "../model/params.ts";
import type { LogRow, MethodState } from "./checkpoint.ts";
import { type Method, totalSteps, type TrainConfig } from "./config.ts";
import { Evaluations } from "./evaluation.ts";
import type { MetricRow } from "./metrics.ts";
import { learningRate } from "./schedules.ts";
import { type SpawnFn, spawnWorker } from "./spawn.ts";
import { activityStep } from "./steps/activity_step.ts";
import { backpropStep } from "./steps/backprop_step.ts";
import { clipGradNorm } from "./clip.ts";
import { defaultForwardLr } from "./defaults.ts";
import { forwardStep } from "./steps/forward_step.ts";
import type { StepBatch, StepSetup, StepStrategy } from "./steps/strategy.ts";
import { checkFinite, stopBeforeStep, stoppedBy, targetMet } from "./stopping.ts";
import { type Ending, type MethodResult, methodResult, type ProgressUpdate } from "./summary.ts";
import {
  FailureBudget,
  SupervisedPool,
  SUPERVISION_DEFAULTS,
  type WorkerFailureEvent,
} from "./supervised_pool.ts";
import { TrainingState } from "./training_state.ts";

export interface MethodRunInput {
  method: Method;
  config: TrainConfig;
  dataset: Dataset;
  graphs: TrainingGraphs;
  layout: ParamLayout;
  /** Initial parameters (copied: each method starts from the same weights). */
  initial: Float32Array;
  /** Continue from this saved state instead of starting at step 0. */
  resume?: MethodState;
  /** Stops the run after the current step (status "interrupted"). */
  signal?: AbortSignal;
  onProgress?: (p: ProgressUpdate) => void;
  onEvaluation?: (row: MetricRow) => void;
  onFailure?: (event: WorkerFailureEvent) => void;
  /** Called once the workers are up, before the first step, with the starting state. */
  onReady?: (state: MethodState) => Promise<void>;
  /** Called every `config.checkpointEvery` steps with the state to save. */
  onCheckpoint?: (state: MethodState) => Promise<void>;
  /** Test hook: how workers are made (fault injection). */
  spawn?: SpawnFn;
}

/** Default of `--checkpoint-every`. */
export const DEFAULT_CHECKPOINT_EVERY = 500;

/**
 * Trains one way: the method's step strategy (forward: W workers estimate the gradient of
 * their shards with K tangents each; backprop: one worker computes the exact batch gradient).
 *
 * Workers are supervised (supervised_pool.ts): a failed one is replaced and its part of the
 * step recomputed, bit-identically. An interrupted run (input.signal) ends with status
 * "interrupted"; one that diverges or runs out of worker retries ends, after its final
 * evaluation, with status "diverged" or "failed", its `cause`, and the last good state.
 */
export async function runMethod(input: MethodRunInput): Promise<MethodResult> {
  const setup = stepSetup(input);
  switch (input.method) {
    case "forward":
      // The estimator is a config choice: activity or weight perturbation (mean or projection).
      return input.config.perturb === "activations"
        ? await trainWith(input, setup, activityStep(setup))
        : await trainWith(input, setup, forwardStep(setup));
    case "backprop":
      return await trainWith(input, setup, backpropStep(setup));
  }
}

/** The shared vectors and what every strategy is built from. */
function stepSetup(input: MethodRunInput): StepSetup {
  const { config, dataset, graphs, layout } = input;
  const params = new Float32Array(new SharedArrayBuffer(layout.total * 4));
  params.set(input.resume?.params ?? input.initial);
  return {
    config,
    graphs,
    layout,
    params,
    // The step's gradient; shared so that workers can rebuild slices of it in shared mode.
    grad: new Float32Array(new SharedArrayBuffer(layout.total * 4)),
    featureShape: dataset.featureShape,
    classes: dataset.classes.length,
    eval: { evaluation: graphs.evaluation, splits: { train: dataset.train, test: dataset.test } },
  };
}

/** Starts the strategy's workers, trains, and closes them whatever happens. */
async function trainWith<Api extends EngineWorkerApi, Reply>(
  input: MethodRunInput,
  setup: StepSetup,
  strategy: StepStrategy<Api, Reply>,
): Promise<MethodResult> {
  const { method, config } = input;
  const log: LogRow[] = [...(input.resume?.log ?? [])];
  const pool = new SupervisedPool<Api>({
    kind: strategy.kind,
    method,
    size: strategy.workers,
    spawn: input.spawn ?? spawnWorker,
    initArgs: (w) => strategy.init(w),
    supervision: {
      maxRetries: config.maxRetries ?? SUPERVISION_DEFAULTS.maxRetries,
      callTimeoutMs: config.stepTimeout === undefined ? undefined : config.stepTimeout * 1000,
    },
    onFailure: (event) => {
      log.push(event);
      input.onFailure?.(event);
    },
  });
  try {
    return await loop({ input, setup, strategy, pool, log });
  } finally {
    await pool.close();
  }
}

interface LoopParts<Api extends EngineWorkerApi, Reply> {
  input: MethodRunInput;
  setup: StepSetup;
  strategy: StepStrategy<Api, Reply>;
  pool: SupervisedPool<Api>;
  log: LogRow[];
}

async function loop<Api extends EngineWorkerApi, Reply>(
  { input, setup, strategy, pool, log }: LoopParts<Api, Reply>,
): Promise<MethodResult> {
  const { method, config, dataset } = input;
  const perEpoch = batchesPerEpoch(dataset.train.count, config.batchSize);
  const budget = totalSteps(config, perEpoch);
  const evalEvery = config.evalEvery || Math.max(1, Math.round(budget / 40));
  const checkpointEvery = config.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;
  const state = new TrainingState({
    method,
    params: setup.params,
    log,
    perEpoch,
    optimizer: config.optimizer,
  });
  const saved = input.resume;
  if (saved) state.restore(saved);
  const evaluations = new Evaluations({
    state,
    onEvaluation: input.onEvaluation,
    call: (split, failures) =>
      pool.call(
        0,
        failures,
        "evaluate",
        (api) => api.evaluate(split),
        (raw) => EvaluationSchema.parse(raw),
      ),
  });
  const batches = new Batches(dataset, config, perEpoch, setup.classes);
  const step = trainingStep({ input, setup, strategy, pool, state, budget });

  let ending: Ending = { status: "complete" };
  try {
    await pool.startAll(
      new FailureBudget(state.step, `starting the workers before step ${state.step}`),
    );
    await input.onReady?.(state.snapshot("running"));
    // A run stopped by a failed evaluation owes the evaluation of the step it had finished.
    if (state.step > 0 && state.step % evalEvery === 0 && evaluations.last()?.step !== state.step) {
      await evaluations.test(true);
    }
    // ... and the stopping rule's verdict on that step, which the failure pre-empted.
    if (saved && targetMet(config, state.running) && !state.reachedAt) {
      state.reachedAt = { step: state.step, seconds: state.trainSeconds };
    }
    for (;;) {
      const stop = stopBeforeStep(state, budget, config, input.signal);
      if (stop === "interrupted") ending = { status: "interrupted" };
      if (stop) break;
      await step(batches.at(state.step));

      const done = state.step >= budget;
      const evaluated = state.step % evalEvery === 0 || done;
      let testAccuracy: number | undefined;
      if (evaluated) testAccuracy = (await evaluations.test(true)).testAccuracy;
      input.onProgress?.(progressOf(state, budget, evaluated, testAccuracy));
      if (targetMet(config, state.running)) {
        state.reachedAt = { step: state.step, seconds: state.trainSeconds };
        break;
      }
      if (checkpointEvery > 0 && state.step % checkpointEvery === 0 && !done) {
        await input.onCheckpoint?.(state.snapshot("running"));
      }
    }
  } catch (e) {
    ending = stoppedBy(e);
  }

  const { final, stopped } = await evaluations.final(ending.status);
  return methodResult(state, stopped ?? ending, final);
}

interface StepParts<Api extends EngineWorkerApi, Reply> {
  input: MethodRunInput;
  setup: StepSetup;
  strategy: StepStrategy<Api, Reply>;
  pool: SupervisedPool<Api>;
  state: TrainingState;
  budget: number;
}

/**
 * One training step: the strategy fans the batch out and combines the replies into the
 * gradient; a finite gradient steps the optimizer at the scheduled rate. Only the step's own
 * work counts as training time.
 */
function trainingStep<Api extends EngineWorkerApi, Reply>(
  { input, setup, strategy, pool, state, budget }: StepParts<Api, Reply>,
): (batch: StepBatch) => Promise<void> {
  const { method, config } = input;
  const { grad, params } = setup;
  const lr0 = method === "forward"
    ? config.lrForward ?? defaultForwardLr(config, setup.layout.total)
    : config.lrBackprop;
  return async (batch) => {
    const { step } = batch;
    const lr = learningRate(config.lrSchedule, lr0, step, {
      decay: config.lrDecay,
      totalSteps: budget,
    });
    const t0 = performance.now();
    const calls = { pool, budget: new FailureBudget(step, `step ${step}`) };
    grad.fill(0);
    const replies = await strategy.fanOut(batch, calls);
    const loss = await strategy.combine(replies, batch, calls);
    checkFinite(loss, grad, step, method);
    if (config.clipGradNorm) clipGradNorm(grad, config.clipGradNorm);
    state.optimizer.step(params, grad, lr);
    state.trainSeconds += (performance.now() - t0) / 1000;
    state.running.push(loss);
    state.step++;
  };
}

/** The training batches in each epoch's seeded order (the order is made once per epoch). */
class Batches {
  private order: Int32Array[] = [];
  private orderEpoch = -1;

  constructor(
    private readonly dataset: Dataset,
    private readonly config: TrainConfig,
    private readonly perEpoch: number,
    private readonly classes: number,
  ) {}

  /** The batch of step `step`. */
  at(step: number): StepBatch {
    const { dataset, config, perEpoch } = this;
    const epoch = Math.floor(step / perEpoch);
    if (epoch !== this.orderEpoch) {
      this.order = batchOrder(dataset.train.count, config.batchSize, epoch, config.seed);
      this.orderEpoch = epoch;
    }
    const indices = this.order[step % perEpoch];
    const batch = gatherBatch(dataset.train, indices, dataset.featureShape);
    return { step, x: batch.x, labels: batch.oneHot(this.classes), count: indices.length };
  }
}

function progressOf(
  state: TrainingState,
  budget: number,
  evaluated: boolean,
  testAccuracy: number | undefined,
): ProgressUpdate {
  const { step, trainSeconds, perEpoch } = state;
  return {
    step,
    epoch: Math.floor((step - 1) / perEpoch),
    loss: state.running.mean,
    testAccuracy,
    evaluated,
    stepsPerSecond: step / Math.max(trainSeconds, 1e-9),
    etaSeconds: (budget - step) * trainSeconds / step,
  };
}
