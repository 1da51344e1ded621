import type * as Comlink from "comlink";
import { batchesPerEpoch, batchOrder, gatherBatch, shardRange } from "../data/batches.ts";
import type { Dataset } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import type { LogRow, MethodState, MethodSummary, RunStatus } from "./checkpoint.ts";
import { isEvaluation } from "./checkpoint.ts";
import { combineEstimates } from "./combine.ts";
import { type Method, totalSteps, type TrainConfig } from "./config.ts";
import type { TrainingGraphs } from "../model/graphs.ts";
import { BackpropResultSchema, EvaluationSchema, ForwardResultSchema } from "../engine/messages.ts";
import { type MetricRow, RunningLoss } from "./metrics.ts";
import { createOptimizer, type OptimizerState } from "./optimizers.ts";
import type { ParamLayout } from "../model/params.ts";
import { learningRate } from "./schedules.ts";
import {
  FailureBudget,
  SupervisedPool,
  SUPERVISION_DEFAULTS,
  WorkerFailureError,
  type WorkerFailureEvent,
} from "./supervised_pool.ts";
import type { BackpropWorkerApi, ForwardWorkerApi } from "../engine/worker_api.ts";
import type { ProgressUpdate } from "../report/progress.ts";
import { type SpawnFn, spawnWorker } from "./spawn.ts";

/** What a method reports after each step: the progress display's update. */
export type MethodProgress = ProgressUpdate;

/** A method's summary plus what the outputs and the checkpoint need. */
export interface MethodResult extends MethodSummary {
  /** The evaluations (metrics.jsonl lines without an `event` field). */
  metrics: MetricRow[];
  /** Worker failures, in order. */
  events: WorkerFailureEvent[];
  /** The parameters at the end (the last good ones when the run stopped early). */
  params: Float32Array;
  /** Everything a checkpoint needs to continue (or, when complete, to rewrite the outputs). */
  state: MethodState;
  /** What stopped the run early (a DivergenceError or a WorkerFailureError). */
  cause?: Error;
}

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
  onProgress?: (p: MethodProgress) => void;
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

/** A non-finite loss or gradient, caught before it reaches the parameters. */
export class DivergenceError extends UserError {}

type AnyWorkerApi = ForwardWorkerApi | BackpropWorkerApi;

/**
 * Trains one way. Forward: W workers each estimate the gradient of their shard with K
 * tangents; the coordinator averages (weighted by shard size, so the mean is unbiased for the
 * batch) and steps. Backprop: one worker computes the exact batch gradient.
 *
 * Workers are supervised (supervised_pool.ts): a failed one is replaced and its part of the step
 * recomputed, bit-identically. An interrupted run (input.signal) returns with status
 * "interrupted". A run that diverges or runs out of worker retries throws the DivergenceError
 * or WorkerFailureError, after its final evaluation; `stoppedResult(error)` then gives the
 * result so far (status "diverged" or "failed", the last good state) for the outputs.
 */
export async function runMethod(input: MethodRunInput): Promise<MethodResult> {
  const { method, config, dataset, graphs, layout } = input;
  const params = new Float32Array(new SharedArrayBuffer(layout.total * 4));
  params.set(input.resume?.params ?? input.initial);
  // The step's gradient; shared so that workers can rebuild slices of it in shared mode.
  const grad = new Float32Array(new SharedArrayBuffer(layout.total * 4));
  const { featureShape } = dataset;
  const classes = dataset.classes.length;
  const evalSetup = {
    evaluation: graphs.evaluation,
    splits: { train: dataset.train, test: dataset.test },
  };
  const log: LogRow[] = [...(input.resume?.log ?? [])];
  const forward = method === "forward";
  const pool = new SupervisedPool<AnyWorkerApi>({
    kind: forward ? "forward_worker" : "backprop_worker",
    method,
    size: forward ? config.workers : 1,
    spawn: input.spawn ?? spawnWorker,
    initArgs: (w) =>
      forward
        ? {
          jvp: graphs.jvp,
          layout,
          params,
          featureShape,
          classes,
          K: config.tangents,
          seed: config.seed,
          dist: config.tangentDist,
          stream: config.tangentMode === "shared" ? 0 : w,
          rebuildInto: config.tangentMode === "shared" ? grad : undefined,
          eval: w === 0 ? evalSetup : undefined,
        }
        : { vjp: graphs.vjp, layout, params, featureShape, classes, eval: evalSetup },
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
    return await loop(input, pool, params, grad, log, classes);
  } finally {
    await pool.close();
  }
}

async function loop(
  input: MethodRunInput,
  pool: SupervisedPool<AnyWorkerApi>,
  params: Float32Array,
  grad: Float32Array,
  log: LogRow[],
  classes: number,
): Promise<MethodResult> {
  const { method, config, dataset, layout } = input;
  const n = layout.total;
  const perEpoch = batchesPerEpoch(dataset.train.count, config.batchSize);
  const budget = totalSteps(config, perEpoch);
  const lr0 = method === "forward" ? config.lrForward : config.lrBackprop;
  const optimizer = createOptimizer(config.optimizer, n);
  const running = new RunningLoss(Math.min(50, perEpoch));
  const evalEvery = config.evalEvery || Math.max(1, Math.round(budget / 40));
  const checkpointEvery = config.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY;

  let trainSeconds = 0;
  let step = 0;
  let reachedAt: { step: number; seconds: number } | null = null;
  const saved = input.resume;
  if (saved) {
    restoreInto(saved, optimizer, running, perEpoch);
    step = saved.step;
    trainSeconds = saved.trainSeconds;
    reachedAt = saved.reachedAt;
  }

  const snapshot = (status: RunStatus): MethodState => ({
    method,
    status,
    step,
    epoch: Math.floor(step / perEpoch),
    batch: step % perEpoch,
    trainSeconds,
    running: running.snapshot(),
    reachedAt,
    log: [...log],
    params: Float32Array.from(params),
    optimizer: copyState(optimizer.state()),
  });

  const evaluateSplit = async (split: "train" | "test") => {
    const what = `the ${split}-split evaluation after step ${step}`;
    return await pool.call(
      0,
      new FailureBudget(step, what),
      "evaluate",
      (api) => api.evaluate(split),
      (raw) => EvaluationSchema.parse(raw),
    );
  };
  const evaluate = async (record: boolean): Promise<MetricRow> => {
    const test = await evaluateSplit("test");
    const row: MetricRow = {
      method,
      step,
      epoch: step / perEpoch,
      wallSeconds: trainSeconds,
      trainLoss: running.mean,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      misclassified: test.misclassified,
    };
    if (record) {
      log.push(row);
      input.onEvaluation?.(row);
    }
    return row;
  };
  const lastEvaluation = () => log.filter(isEvaluation).at(-1);

  // Assigned in closures too, so TypeScript must not narrow it.
  let status = "complete" as RunStatus;
  let cause: Error | undefined;
  const stopOn = (e: unknown) => {
    if (e instanceof DivergenceError) status = "diverged";
    else if (e instanceof WorkerFailureError) status = "failed";
    else throw e;
    cause = e;
  };

  try {
    await pool.startAll(new FailureBudget(step, `starting the workers before step ${step}`));
    await input.onReady?.(snapshot("running"));
    // A run stopped by a failed evaluation owes the evaluation of the step it had finished.
    if (step > 0 && step % evalEvery === 0 && lastEvaluation()?.step !== step) {
      await evaluate(true);
    }
    // ... and the stopping rule's verdict on that step, which the failure pre-empted.
    if (saved && targetMet(config, running) && !reachedAt) {
      reachedAt = { step, seconds: trainSeconds };
    }
    let order: Int32Array[] = [];
    let orderEpoch = -1;
    while (step < budget && !reachedAt) {
      if (config.maxSeconds && trainSeconds >= config.maxSeconds) break;
      if (input.signal?.aborted) {
        status = "interrupted";
        break;
      }
      const epoch = Math.floor(step / perEpoch);
      const b = step % perEpoch;
      if (epoch !== orderEpoch) {
        order = batchOrder(dataset.train.count, config.batchSize, epoch, config.seed);
        orderEpoch = epoch;
      }
      const batch = gatherBatch(dataset.train, order[b], dataset.featureShape);
      const labels = batch.oneHot(classes);
      const B = order[b].length;
      const width = batch.x.length / B;
      const lr = learningRate(config.lrSchedule, lr0, step, {
        decay: config.lrDecay,
        totalSteps: budget,
      });

      const t0 = performance.now();
      const stepBudget = new FailureBudget(step, `step ${step}`);
      let loss = 0;
      grad.fill(0);
      if (method === "backprop") {
        const r = await pool.call(
          0,
          stepBudget,
          "step",
          (api) => api.step({ step, x: batch.x, labels, count: B, wantEstimate: false }),
          (raw) => BackpropResultSchema.parse(raw),
        );
        loss = r.loss;
        grad.set(r.gradient);
      } else {
        const shared = config.tangentMode === "shared";
        const shards = Array.from({ length: pool.size }, (_, w) => shardRange(B, pool.size, w));
        // allSettled: a worker whose retries ran out must not leave the others mid-restart.
        const settled = await Promise.allSettled(shards.map(async ({ start, end }, w) => {
          if (end <= start) return null;
          const message = {
            step,
            x: batch.x.slice(start * width, end * width),
            labels: labels.slice(start * classes, end * classes),
            count: end - start,
            wantEstimate: !shared,
          };
          const r = await pool.call(
            w,
            stepBudget,
            "step",
            (api) => api.step(message),
            (raw) => ForwardResultSchema.parse(raw),
          );
          return { weight: (end - start) / B, r };
        }));
        const failed = settled.find((s) => s.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
        const parts = settled
          .map((s) =>
            (s as PromiseFulfilledResult<
              { weight: number; r: ReturnType<typeof ForwardResultSchema.parse> } | null
            >).value
          )
          .filter((x) => x !== null)
          .map(({ weight, r }) => ({ weight, ...r }));
        if (shared) {
          // Σ_w weight·(∇f_w·v_k) per tangent, then each worker regenerates a slice of
          // (1/K) Σ_k s_k v_k into the shared gradient: the rebuild runs in parallel.
          const sums = new Float32Array(config.tangents);
          for (const p of parts) {
            loss += p.weight * p.loss;
            p.scalars.forEach((s, k) => (sums[k] += p.weight * s));
          }
          const slices = Array.from({ length: pool.size }, (_, w) => shardRange(n, pool.size, w));
          const rebuilt = await Promise.allSettled(
            slices.map(({ start, end }, w) =>
              end <= start ? null : pool.call(
                w,
                stepBudget,
                "step",
                (api) =>
                  (api as Comlink.Remote<ForwardWorkerApi>).rebuild({ step, sums, start, end }),
                () => null,
              )
            ),
          );
          const bad = rebuilt.find((s) => s.status === "rejected");
          if (bad) throw (bad as PromiseRejectedResult).reason;
        } else {
          loss = combineEstimates(parts, grad, null);
        }
      }
      checkFinite(loss, grad, step, method);
      optimizer.step(params, grad, lr);
      trainSeconds += (performance.now() - t0) / 1000;
      running.push(loss);
      step++;

      const done = step >= budget;
      const evaluated = step % evalEvery === 0 || done;
      let testAccuracy: number | undefined;
      if (evaluated) testAccuracy = (await evaluate(true)).testAccuracy;
      input.onProgress?.({
        step,
        epoch: Math.floor((step - 1) / perEpoch),
        loss: running.mean,
        testAccuracy,
        evaluated,
        stepsPerSecond: step / Math.max(trainSeconds, 1e-9),
        etaSeconds: (budget - step) * trainSeconds / step,
      });
      if (targetMet(config, running)) {
        reachedAt = { step, seconds: trainSeconds };
        break;
      }
      if (checkpointEvery > 0 && step % checkpointEvery === 0 && !done) {
        await input.onCheckpoint?.(snapshot("running"));
      }
    }
  } catch (e) {
    stopOn(e);
  }

  let final: MethodSummary["final"] = {
    trainLoss: NaN,
    testLoss: NaN,
    testAccuracy: NaN,
    misclassified: NaN,
  };
  const fromRow = (row: MetricRow | undefined) => {
    if (row) {
      final = {
        ...final,
        testLoss: row.testLoss,
        testAccuracy: row.testAccuracy,
        misclassified: row.misclassified,
      };
    }
  };
  if (status === "complete") {
    try {
      const latest = lastEvaluation();
      const last = latest?.step === step ? latest : await evaluate(true);
      const train = await evaluateSplit("train");
      final = {
        trainLoss: train.loss,
        testLoss: last.testLoss,
        testAccuracy: last.testAccuracy,
        misclassified: last.misclassified,
      };
    } catch (e) {
      stopOn(e);
      fromRow(lastEvaluation());
    }
  } else if (status === "failed") {
    fromRow(lastEvaluation());
  } else {
    // Interrupted or diverged: the workers are healthy; report the test split at this step
    // without adding a metrics row (a resumed run must log exactly what an uninterrupted one does).
    const latest = lastEvaluation();
    if (latest?.step === step) fromRow(latest);
    else {
      try {
        fromRow(await evaluate(false));
      } catch (e) {
        if (!(e instanceof WorkerFailureError)) throw e;
        fromRow(latest);
      }
    }
  }

  const state = snapshot(status);
  const events = log.filter((r): r is WorkerFailureEvent => !isEvaluation(r));
  const summary: MethodSummary = {
    method,
    status,
    ...(cause ? { error: cause.message } : {}),
    steps: step,
    epochs: step / perEpoch,
    wallSeconds: trainSeconds,
    stepsPerSecond: step / Math.max(trainSeconds, 1e-9),
    reachedTarget: reachedAt !== null,
    secondsToTarget: reachedAt?.seconds ?? null,
    stepsToTarget: reachedAt?.step ?? null,
    final,
    workerFailures: summarizeFailures(events),
  };
  state.summary = summary;
  if (cause) state.error = cause.message;
  const result: MethodResult = {
    ...summary,
    metrics: log.filter(isEvaluation),
    events,
    params: state.params,
    state,
    ...(cause ? { cause } : {}),
  };
  if (cause) {
    stopped.set(cause, result);
    throw cause;
  }
  return result;
}

const stopped = new WeakMap<Error, MethodResult>();

/** The result so far of the method that `error` (thrown by runMethod) stopped, if any. */
export function stoppedResult(error: unknown): MethodResult | undefined {
  return error instanceof Error ? stopped.get(error) : undefined;
}

/** A finished method's result rebuilt from its checkpointed state (no training). */
export function resultFromState(state: MethodState): MethodResult {
  if (!state.summary) throw new Error(`${state.method}: state has no summary`);
  const events = state.log.filter((r): r is WorkerFailureEvent => !isEvaluation(r));
  return {
    ...state.summary,
    metrics: state.log.filter(isEvaluation),
    events,
    params: state.params,
    state,
  };
}

export function summarizeFailures(
  events: readonly WorkerFailureEvent[],
): MethodSummary["workerFailures"] {
  const byKind = { error: 0, crash: 0, timeout: 0 };
  for (const e of events) byKind[e.kind]++;
  return { count: events.length, byKind, steps: [...new Set(events.map((e) => e.step))] };
}

function restoreInto(
  saved: MethodState,
  optimizer: ReturnType<typeof createOptimizer>,
  running: RunningLoss,
  perEpoch: number,
): void {
  if (saved.epoch !== Math.floor(saved.step / perEpoch) || saved.batch !== saved.step % perEpoch) {
    throw new UserError(
      `checkpoint: ${saved.method} is at step ${saved.step}, epoch ${saved.epoch}, batch ` +
        `${saved.batch}, which does not fit ${perEpoch} batches per epoch (data changed?)`,
    );
  }
  try {
    optimizer.load(saved.optimizer);
  } catch (e) {
    throw new UserError(`checkpoint: ${saved.method}: ${(e as Error).message}`);
  }
  running.restore(saved.running);
}

/** The stopping rule: the smoothed training loss fell below --target-loss. */
function targetMet(config: TrainConfig, running: RunningLoss): boolean {
  return config.targetLoss !== undefined && running.full && running.mean < config.targetLoss;
}

function copyState(state: OptimizerState): OptimizerState {
  const out: OptimizerState = {};
  for (const [k, v] of Object.entries(state)) {
    out[k] = typeof v === "number" ? v : Float32Array.from(v);
  }
  return out;
}

function checkFinite(loss: number, grad: Float32Array, step: number, method: Method): void {
  let ok = Number.isFinite(loss);
  for (let i = 0; ok && i < grad.length; i++) ok = Number.isFinite(grad[i]);
  if (!ok) {
    const flag = method === "forward" ? "--lr-forward" : "--lr-backprop";
    throw new DivergenceError(
      `${method} training diverged at step ${step} (non-finite loss or gradient); the ` +
        `parameters were not updated. Try a smaller learning rate (--lr or ${flag}).`,
    );
  }
}
