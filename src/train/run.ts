/**
 * A training run: loads the data and the model, trains each configured method in turn
 * (coordinator.ts) from the same initial weights, checkpoints, and writes the outputs
 * (summary.json, metrics.jsonl, plots, trained models). `resumeTrain` continues a run from its
 * checkpoint.
 *
 * @module
 */
import { loadDataset } from "../data/load.ts";
import { type Dataset, featureSize } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic, writeJsonAtomic } from "../fs/atomic.ts";
import { objectiveGraphs } from "../model/graphs.ts";
import { buildObjective } from "../model/objective.ts";
import { loadModelSource, type ModelSource } from "../model/model_source.ts";
import { type ParamLayout, paramLayout, sharedParams } from "../model/params.ts";
import { encodeModel } from "../onnx/encode.ts";
import { writeTrainingPlots } from "../report/plots.ts";
import { roundAccuracies } from "../report/round.ts";
import {
  encodeCheckpoint,
  isEvaluation,
  type MethodState,
  type MethodSummary,
  readCheckpoint,
  removeStrayTemps,
  type RunCheckpoint,
  type RunFingerprint,
  type RunStatus,
  writeCheckpoint,
} from "./checkpoint.ts";
import { sha256Hex } from "./checkpoint_format.ts";
import { checkEstimatorOptions, type Method, type TrainConfig } from "./config.ts";
import { isModelName } from "../onnx/models/registry.ts";
import { runMethod } from "./coordinator.ts";
import { assertFitsMemory, fitConfig } from "./fit.ts";
import { DivergenceError } from "./stopping.ts";
import { defaultForwardLr } from "./defaults.ts";
import { type MethodResult, type ProgressUpdate, resultFromState } from "./summary.ts";
import type { MetricRow } from "./metrics.ts";
import { WorkerFailureError, type WorkerFailureEvent } from "./supervised_pool.ts";
import type { SpawnFn } from "./spawn.ts";
import {
  assertFreshOutDir,
  createRunDir,
  removeIncomplete,
  writeIncomplete,
  writeMetricsLog,
} from "./run_dir.ts";

export interface RunSummary {
  /** complete, or why the run stopped early (interrupted, diverged, failed). */
  status: RunStatus;
  /** The error that stopped it (diverged, failed). */
  error?: string;
  config: TrainConfig;
  dataset: { name: string; split: string; train: number; test: number; notes: string[] };
  /** `frozen`: parameter tensors kept at their initial values (--freeze, buffers). */
  model: { name: string; parameters: number; frozen?: string[] };
  /** The methods started, in order. */
  runs: MethodSummary[];
  /** The checkpoint file in the run directory and how many times the run was resumed. */
  checkpoint: { file: string; resumes: number };
}

export interface RunHooks {
  onStart?: (
    info: {
      /** The run's settings with every default resolved (the forward rate among them). */
      config: TrainConfig;
      dataset: Dataset;
      parameters: number;
      methods: Method[];
      modelNotes?: string[];
      /** Where a resumed run continues: the methods left and the step each starts at. */
      resumed?: { method: Method; step: number }[];
    },
  ) => void;
  onProgress?: (method: Method, p: ProgressUpdate) => void;
  onEvaluation?: (row: MetricRow) => void;
  /** A worker failed (it was replaced, or the run stops: see `event.action`). */
  onFailure?: (event: WorkerFailureEvent) => void;
  /** A setting was adjusted to fit the data (one line, printed at start). */
  onNotice?: (line: string) => void;
}

export interface TrainOptions extends RunHooks {
  /** Aborting stops the run after the current step, with a checkpoint and outputs so far. */
  signal?: AbortSignal;
  /** The command-line flags of the run, kept in the checkpoint for `--resume` to compare. */
  argv?: string[];
  /** Test hook: how workers are made (fault injection). */
  spawn?: SpawnFn;
}

export interface TrainOutcome {
  summary: RunSummary;
  outDir: string;
  /** "complete" or "interrupted"; a diverged or failed run throws (after writing). */
  status: RunStatus;
}

/** Settings that change how a run survives trouble, never its result: a resume may change them. */
export const OPERATIONAL_KEYS = [
  "checkpointEvery",
  "maxRetries",
  "stepTimeout",
  "json",
  "out",
] as const;
export type OperationalKey = typeof OPERATIONAL_KEYS[number];

export interface ResumeOptions extends TrainOptions {
  /** New values of operational settings (OPERATIONAL_KEYS but `out`). */
  overrides?: Partial<Pick<TrainConfig, Exclude<OperationalKey, "out">>>;
  /** The checkpoint, when the caller has read it already. */
  checkpoint?: RunCheckpoint;
}

export function methodsOf(config: TrainConfig): Method[] {
  return config.method === "both" ? ["forward", "backprop"] : [config.method];
}

/** Default output directory: runs/<timestamp>-<model>-<dataset>. */
export function defaultOutDir(config: TrainConfig): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const data = config.dataset.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  // A model file is named by its base name: runs/<stamp>-mynet-kmnist for ./models/mynet.onnx.
  const model = config.model.replace(/^.*[\\/]/, "").replace(/\.onnx$/i, "") || "model";
  return `runs/${stamp}-${model}-${data}`;
}

/**
 * Trains the configured model with each method from the same initial weights and data order.
 *
 * The run directory appears (whole, with a first checkpoint) once the first method's workers
 * are up, so bad input of any kind leaves nothing behind. During the run it holds the latest
 * checkpoint; at the end, or when the run stops early, summary.json, metrics.jsonl, the plots
 * and the models so far are written (each atomically). An interrupted run (options.signal)
 * returns with status "interrupted"; a diverged or failed one throws after writing.
 */
export async function train(
  config: TrainConfig,
  options: TrainOptions = {},
): Promise<TrainOutcome> {
  const outDir = config.out ?? defaultOutDir(config);
  await assertFreshOutDir(outDir);
  return await execute({ ...config, out: outDir }, outDir, null, options.argv ?? null, options);
}

/**
 * Continues the run in `dir` from its checkpoint, with its saved configuration (plus
 * `overrides` of operational settings). Ends bit-identical to the same run never interrupted.
 * Resuming a complete run rewrites its outputs from the checkpoint and trains nothing.
 */
export async function resumeTrain(dir: string, options: ResumeOptions = {}): Promise<TrainOutcome> {
  const checkpoint = options.checkpoint ?? await readCheckpoint(dir, "--resume");
  const diverged = checkpoint.methods.find((m) => m.status === "diverged");
  const left = methodsOf(checkpoint.config).some((m) =>
    !checkpoint.methods.some((s) => s.method === m && ["complete", "diverged"].includes(s.status))
  );
  if (diverged && !left) {
    throw new UserError(
      `--resume: ${dir} diverged (${diverged.method} at step ${diverged.step}); resuming would ` +
        `diverge again at the same step. Start a new run with a smaller learning rate.`,
    );
  }
  await removeStrayTemps(dir);
  const config: TrainConfig = {
    ...checkpoint.config,
    ...dropUndefined(options.overrides ?? {}),
    out: dir,
  };
  return await execute(config, dir, checkpoint, checkpoint.argv, options);
}

async function execute(
  config: TrainConfig,
  outDir: string,
  saved: RunCheckpoint | null,
  argv: string[] | null,
  options: TrainOptions,
): Promise<TrainOutcome> {
  checkEstimatorOptions(config, !isModelName(config.model));
  const dataset = await loadDataset(config.dataset, {
    labelColumn: config.labelColumn,
    trainCount: config.trainCount,
    testCount: config.testCount,
    seed: config.seed,
  });
  // A built-in name or an ONNX file, in the same training form (input x, output logits).
  const source = await loadModelSource(config.model, {
    data: {
      featureShape: dataset.featureShape,
      classes: dataset.classes.length,
      name: dataset.name,
    },
    seed: config.seed,
    hidden: config.hidden,
    input: config.input,
    output: config.output,
    train: config.trainOnly,
    freeze: config.freeze,
  });
  const model = source.model;
  const objective = buildObjective(model, {
    parameters: source.trainable,
    localLosses: config.localLosses ? (config.blocks ?? "layers") : undefined,
    seed: config.seed,
    source: config.model,
    perExample: config.perturb === "activations",
  });
  // The layout holds the local heads too (they train); the exported model leaves them out.
  const layout = paramLayout(objective.model, objective.wrt);
  const initial = sharedParams(objective.model, layout);
  const exportLayout = withoutNames(layout, objective.heads);
  // The effective forward rate is part of the run's settings (summary.json, --resume).
  if (config.lrForward === undefined) {
    config = { ...config, lrForward: defaultForwardLr(config, layout.total) };
  }
  if (config.combine === "projection" && config.tangents > layout.total) {
    throw new UserError(
      `--combine projection: --tangents ${config.tangents} is more than the model's ` +
        `${layout.total} parameters, so the tangents cannot be independent`,
    );
  }
  const fit = {
    trainCount: dataset.train.count,
    featureSize: featureSize(dataset.featureShape),
    parameters: layout.total,
    forward: methodsOf(config).includes("forward"),
  };
  config = fitConfig(config, fit, (line) => options.onNotice?.(line));
  assertFitsMemory(config, fit);
  const fingerprint = await fingerprintOf(dataset, layout, initial);
  if (saved) checkFingerprint(saved.fingerprint, fingerprint, outDir);

  const methods = methodsOf(config);
  const savedStates = new Map(saved?.methods.map((m) => [m.method, m]) ?? []);
  const results: MethodResult[] = [];
  // A method that ended (complete, or diverged: it would diverge again) is never rerun.
  const ended = (m: Method) => ["complete", "diverged"].includes(savedStates.get(m)?.status ?? "");
  for (const m of methods) {
    if (ended(m)) results.push(resultFromState(savedStates.get(m)!));
  }
  const remaining = methods.filter((m) => !ended(m));
  options.onStart?.({
    config,
    dataset,
    parameters: layout.total,
    methods,
    modelNotes: source.notes,
    ...(saved
      ? { resumed: remaining.map((m) => ({ method: m, step: savedStates.get(m)?.step ?? 0 })) }
      : {}),
  });

  const forward = remaining.includes("forward");
  const activity = config.perturb === "activations";
  const graphs = objectiveGraphs(model, objective, config.tangents, {
    jvp: forward && !activity,
    vjp: remaining.includes("backprop"),
    activity: forward && activity,
    lowRank: config.tangentRank,
  });
  const resumes = saved ? saved.resumes + 1 : 0;
  const checkpointOf = (status: RunStatus, states: MethodState[]): RunCheckpoint => ({
    status,
    writtenAt: new Date().toISOString(),
    config,
    argv,
    fingerprint,
    resumes,
    methods: states,
  });
  const states = (
    extra?: MethodState,
  ) => [...results.map((r) => r.state), ...(extra ? [extra] : [])];
  let dirReady = saved !== null;
  let stoppedBetween = false;

  for (const method of remaining) {
    if (dirReady && options.signal?.aborted) {
      // Interrupted as a method ended: the next one has not started and has no state yet.
      stoppedBetween = true;
      break;
    }
    const result = await runMethod({
      method,
      config,
      dataset,
      graphs,
      layout,
      initial,
      resume: savedStates.get(method),
      signal: options.signal,
      spawn: options.spawn,
      onProgress: (p) => options.onProgress?.(method, p),
      onEvaluation: options.onEvaluation,
      onFailure: options.onFailure,
      onReady: async (state) => {
        if (dirReady) return;
        await createRunDir(outDir, await encodeCheckpoint(checkpointOf("running", states(state))));
        dirReady = true;
      },
      onCheckpoint: async (state) => {
        await writeCheckpoint(outDir, checkpointOf("running", states(state)));
        await writeMetricsLog(outDir, states(state).flatMap((s) => s.log));
      },
    });
    results.push(result);
    // A diverged method does not stop the others: the comparison still gets its baseline.
    if (result.status !== "complete" && result.status !== "diverged") break;
    if (method !== remaining.at(-1)) {
      // A finished method is never recomputed, whatever happens to the next one.
      await writeCheckpoint(outDir, checkpointOf("running", states()));
    }
  }

  const stoppedEarly = results.find((r) => r.status === "interrupted" || r.status === "failed");
  const firstDiverged = results.find((r) => r.status === "diverged");
  const last = stoppedEarly ?? firstDiverged ?? results.at(-1);
  const status: RunStatus = stoppedBetween
    ? "interrupted"
    : stoppedEarly
    ? stoppedEarly.status
    : firstDiverged
    ? "diverged"
    : "complete";
  if (!dirReady) {
    // The workers never started: nothing was trained and no directory was made.
    throw last?.cause ?? new Error("internal: the run stopped before it started");
  }
  const summary: RunSummary = {
    status,
    ...(last?.cause ? { error: last.cause.message } : {}),
    config,
    dataset: {
      name: dataset.name,
      split: dataset.split,
      train: dataset.train.count,
      test: dataset.test.count,
      notes: dataset.notes,
    },
    model: {
      name: config.model,
      parameters: layout.total,
      ...(source.frozen.length > 0 ? { frozen: source.frozen } : {}),
    },
    runs: results.map(summaryOf),
    checkpoint: { file: "checkpoint.bin", resumes },
  };
  await writeCheckpoint(outDir, checkpointOf(status, states()));
  await writeOutputs(outDir, summary, results, source, exportLayout);
  if (status === "complete" || status === "diverged") await removeIncomplete(outDir);
  else {
    const next = remaining[results.length - (methods.length - remaining.length)];
    const where = stoppedBetween ? `${next} not started` : `${last!.method} at step ${last!.steps}`;
    await writeIncomplete(outDir, outDir, status, where);
  }

  const cause = last?.cause;
  if (cause instanceof DivergenceError) {
    throw new RunDivergedError(
      `${cause.message} The outputs up to the last good step are in ${outDir}.`,
      summary,
      outDir,
    );
  }
  if (cause instanceof WorkerFailureError) {
    throw new WorkerFailureError(
      `${cause.message}; checkpoint at step ${last!.steps} and outputs so far are in ${outDir}; ` +
        `continue with: deno task train --resume ${outDir}`,
      cause.event,
    );
  }
  return { summary, outDir, status };
}

/**
 * A run in which a method diverged: thrown after every method ran and the outputs were
 * written, carrying the summary so that a caller can still show the methods that finished.
 */
export class RunDivergedError extends DivergenceError {
  constructor(message: string, readonly summary: RunSummary, readonly outDir: string) {
    super(message);
  }
}

/** The layout of the tensors not in `names`, at their offsets in the same flat vector. */
function withoutNames(layout: ParamLayout, names: readonly string[]): ParamLayout {
  const keep = layout.names.map((n) => !names.includes(n));
  const pick = <T>(xs: T[]) => xs.filter((_, i) => keep[i]);
  return {
    names: pick(layout.names),
    dims: pick(layout.dims),
    offsets: pick(layout.offsets),
    sizes: pick(layout.sizes),
    total: layout.total,
  };
}

/** Writes summary.json (last: it marks the outputs as written), metrics, plots and models. */
async function writeOutputs(
  outDir: string,
  summary: RunSummary,
  results: MethodResult[],
  source: ModelSource,
  layout: ParamLayout,
): Promise<void> {
  const log = results.flatMap((r) => r.state.log);
  await writeMetricsLog(outDir, log);
  await writeTrainingPlots(outDir, log.filter(isEvaluation));
  for (const r of results) {
    await writeFileAtomic(
      `${outDir}/model-${r.method}.onnx`,
      encodeModel(source.exportModel(layout, r.params)),
    );
  }
  // Accuracies shown to 6 significant digits; the checkpoint keeps the exact values.
  await writeJsonAtomic(
    `${outDir}/summary.json`,
    JSON.parse(JSON.stringify(summary, roundAccuracies)),
  );
}

function summaryOf(r: MethodResult): MethodSummary {
  const { metrics: _m, events: _e, params: _p, state: _s, cause: _c, ...rest } = r;
  return rest;
}

/** What a resume must find unchanged: the data and the model's initial weights. */
async function fingerprintOf(
  dataset: Dataset,
  layout: ParamLayout,
  initial: Float32Array,
): Promise<RunFingerprint> {
  const { train, test } = dataset;
  return {
    parameters: layout.total,
    names: layout.names,
    initialParams: await sha256Hex(initial),
    dataset: {
      name: dataset.name,
      train: train.count,
      test: test.count,
      sha256: await sha256Hex(train.x, train.y, test.x, test.y),
    },
  };
}

function checkFingerprint(saved: RunFingerprint, now: RunFingerprint, dir: string): void {
  const where = `--resume: ${dir}`;
  if (saved.dataset.train !== now.dataset.train || saved.dataset.test !== now.dataset.test) {
    throw new UserError(
      `${where}: the dataset ${now.dataset.name} now has ${now.dataset.train} train / ` +
        `${now.dataset.test} test examples; the run had ${saved.dataset.train} / ${saved.dataset.test}`,
    );
  }
  if (saved.dataset.sha256 !== now.dataset.sha256) {
    throw new UserError(
      `${where}: the dataset ${now.dataset.name} has changed since the run started`,
    );
  }
  if (saved.parameters !== now.parameters || saved.names.join("\n") !== now.names.join("\n")) {
    throw new UserError(
      `${where}: the model now has ${now.parameters} trainable parameters in ` +
        `${now.names.length} tensors; the run had ${saved.parameters} in ${saved.names.length}`,
    );
  }
  if (saved.initialParams !== now.initialParams) {
    throw new UserError(
      `${where}: the model's initial weights differ from the run's (model file changed?)`,
    );
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
