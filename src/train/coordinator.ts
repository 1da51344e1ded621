import type * as Comlink from "comlink";
import { batchesPerEpoch, batchOrder, gatherBatch, shardRange } from "../data/batches.ts";
import type { Dataset } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import type { BackpropWorkerApi } from "../../workers/backprop_worker.ts";
import type { ForwardWorkerApi } from "../../workers/forward_worker.ts";
import { combineEstimates } from "./combine.ts";
import { type Method, totalSteps, type TrainConfig } from "./config.ts";
import type { TrainingGraphs } from "./graphs.ts";
import { BackpropResultSchema, EvaluationSchema, ForwardResultSchema } from "./messages.ts";
import { type MetricRow, RunningLoss } from "./metrics.ts";
import { createOptimizer } from "./optimizers.ts";
import type { ParamLayout } from "./params.ts";
import { learningRate } from "./schedules.ts";
import { type Spawned, spawnWorker, type WorkerKind } from "./worker_pool.ts";

export interface MethodProgress {
  step: number;
  epoch: number;
  loss: number;
  testAccuracy?: number;
  stepsPerSecond: number;
  etaSeconds?: number;
  evaluated?: boolean;
}

export interface MethodResult {
  method: Method;
  steps: number;
  epochs: number;
  wallSeconds: number;
  stepsPerSecond: number;
  reachedTarget: boolean;
  secondsToTarget: number | null;
  stepsToTarget: number | null;
  final: { trainLoss: number; testLoss: number; testAccuracy: number; misclassified: number };
  metrics: MetricRow[];
  params: Float32Array;
}

export interface MethodRunInput {
  method: Method;
  config: TrainConfig;
  dataset: Dataset;
  graphs: TrainingGraphs;
  layout: ParamLayout;
  /** Initial parameters (copied: each method starts from the same weights). */
  initial: Float32Array;
  onProgress?: (p: MethodProgress) => void;
  onEvaluation?: (row: MetricRow) => void;
  /** Test hook: how workers are made. */
  spawn?: <T>(kind: WorkerKind) => Spawned<T>;
}

/** A non-finite loss or gradient, caught before it reaches the parameters. */
export class DivergenceError extends UserError {}

/**
 * Trains one way. Forward: W workers each estimate the gradient of their shard with K
 * tangents; the coordinator averages (weighted by shard size, so the mean is unbiased for the
 * batch) and steps. Backprop: one worker computes the exact batch gradient.
 */
export async function runMethod(input: MethodRunInput): Promise<MethodResult> {
  const { method, config, dataset, graphs, layout } = input;
  const spawn = input.spawn ?? spawnWorker;
  const params = new Float32Array(new SharedArrayBuffer(layout.total * 4));
  params.set(input.initial);
  const { featureShape } = dataset;
  const classes = dataset.classes.length;
  const evalSetup = {
    evaluation: graphs.evaluation,
    splits: { train: dataset.train, test: dataset.test },
  };

  const W = method === "forward" ? config.workers : 1;
  const workers: Spawned<ForwardWorkerApi | BackpropWorkerApi>[] = [];
  try {
    if (method === "forward") {
      for (let w = 0; w < W; w++) {
        const sp = spawn<ForwardWorkerApi>("forward_worker");
        workers.push(sp);
        await sp.api.init({
          jvp: graphs.jvp, layout, params, featureShape, classes,
          K: config.tangents, seed: config.seed, dist: config.tangentDist,
          stream: config.tangentMode === "shared" ? 0 : w,
          eval: w === 0 ? evalSetup : undefined,
        });
      }
    } else {
      const sp = spawn<BackpropWorkerApi>("backprop_worker");
      workers.push(sp);
      await sp.api.init({ vjp: graphs.vjp, layout, params, featureShape, classes, eval: evalSetup });
    }
    return await loop(input, workers, params, W, classes);
  } finally {
    for (const w of workers) {
      await w.api.release().catch(() => {});
      w.terminate();
    }
  }
}

async function loop(
  input: MethodRunInput,
  workers: Spawned<ForwardWorkerApi | BackpropWorkerApi>[],
  params: Float32Array,
  W: number,
  classes: number,
): Promise<MethodResult> {
  const { method, config, dataset, layout } = input;
  const n = layout.total;
  const perEpoch = batchesPerEpoch(dataset.train.count, config.batchSize);
  const budget = totalSteps(config, perEpoch);
  const lr0 = method === "forward" ? config.lrForward : config.lrBackprop;
  const optimizer = createOptimizer(config.optimizer, n);
  const running = new RunningLoss(Math.min(50, perEpoch));
  const metrics: MetricRow[] = [];
  const grad = new Float32Array(n);
  const evalEvery = config.evalEvery || Math.max(1, Math.round(budget / 40));
  const evaluator = workers[0].api as Comlink.Remote<{ evaluate(split: string): Promise<unknown> }>;

  let trainSeconds = 0;
  let step = 0;
  let epoch = 0;
  let reachedAt: { step: number; seconds: number } | null = null;
  let order = batchOrder(dataset.train.count, config.batchSize, 0, config.seed);

  const evaluate = async () => {
    const test = EvaluationSchema.parse(await evaluator.evaluate("test"));
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
    metrics.push(row);
    input.onEvaluation?.(row);
    return row;
  };

  while (step < budget) {
    if (config.maxSeconds && trainSeconds >= config.maxSeconds) break;
    const b = step % perEpoch;
    if (b === 0 && step > 0) {
      epoch++;
      order = batchOrder(dataset.train.count, config.batchSize, epoch, config.seed);
    }
    const batch = gatherBatch(dataset.train, order[b], dataset.featureShape);
    const labels = batch.oneHot(classes);
    const B = order[b].length;
    const width = batch.x.length / B;
    const lr = learningRate(config.lrSchedule, lr0, step, { decay: config.lrDecay, totalSteps: budget });

    const t0 = performance.now();
    let loss = 0;
    grad.fill(0);
    if (method === "backprop") {
      const r = BackpropResultSchema.parse(
        await workers[0].api.step({ step, x: batch.x, labels, count: B, wantEstimate: false }),
      );
      loss = r.loss;
      grad.set(r.gradient);
    } else {
      const shared = config.tangentMode === "shared";
      const shards = Array.from({ length: W }, (_, w) => shardRange(B, W, w));
      const results = await Promise.all(shards.map(async ({ start, end }, w) => {
        if (end <= start) return null;
        const raw = await workers[w].api.step({
          step,
          x: batch.x.slice(start * width, end * width),
          labels: labels.slice(start * classes, end * classes),
          count: end - start,
          wantEstimate: !shared,
        });
        return { weight: (end - start) / B, r: ForwardResultSchema.parse(raw) };
      }));
      const parts = results.filter((x) => x !== null).map(({ weight, r }) => ({ weight, ...r }));
      loss = combineEstimates(parts, grad, shared ? { seed: config.seed, step, dist: config.tangentDist } : null);
    }
    checkFinite(loss, grad, step, method);
    optimizer.step(params, grad, lr);
    trainSeconds += (performance.now() - t0) / 1000;
    running.push(loss);
    step++;

    const done = step >= budget;
    const evaluated = step % evalEvery === 0 || done;
    let testAccuracy: number | undefined;
    if (evaluated) testAccuracy = (await evaluate()).testAccuracy;
    input.onProgress?.({
      step, epoch, loss: running.mean, testAccuracy, evaluated,
      stepsPerSecond: step / Math.max(trainSeconds, 1e-9),
      etaSeconds: (budget - step) * trainSeconds / step,
    });
    if (config.targetLoss !== undefined && !reachedAt && running.full && running.mean < config.targetLoss) {
      reachedAt = { step, seconds: trainSeconds };
      break;
    }
  }

  const last = metrics.at(-1)?.step === step ? metrics.at(-1)! : await evaluate();
  const train = EvaluationSchema.parse(await evaluator.evaluate("train"));
  return {
    method,
    steps: step,
    epochs: step / perEpoch,
    wallSeconds: trainSeconds,
    stepsPerSecond: step / Math.max(trainSeconds, 1e-9),
    reachedTarget: reachedAt !== null,
    secondsToTarget: reachedAt?.seconds ?? null,
    stepsToTarget: reachedAt?.step ?? null,
    final: { trainLoss: train.loss, testLoss: last.testLoss, testAccuracy: last.testAccuracy, misclassified: last.misclassified },
    metrics,
    params: Float32Array.from(params),
  };
}

function checkFinite(loss: number, grad: Float32Array, step: number, method: Method): void {
  let ok = Number.isFinite(loss);
  for (let i = 0; ok && i < grad.length; i++) ok = Number.isFinite(grad[i]);
  if (!ok) {
    throw new DivergenceError(
      `${method} training diverged at step ${step} (non-finite loss or gradient); the parameters were not updated. Try a smaller learning rate (--lr).`,
    );
  }
}
