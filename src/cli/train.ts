import { z } from "zod";
import { UserError } from "../errors.ts";
import { createModel, isModelName, MODEL_NAMES } from "../onnx/models/registry.ts";
import { createProgress } from "../report/progress.ts";
import { formatTable } from "../report/table.ts";
import { roundAccuracies } from "../report/round.ts";
import {
  CombineSchema,
  LrScheduleSchema,
  MethodChoiceSchema,
  OptimizerSchema,
  PerturbSchema,
  TangentDistSchema,
  TangentModeSchema,
  type TrainConfig,
  TrainConfigSchema,
} from "../train/config.ts";
import {
  defaultBackpropLr,
  defaultDataset,
  defaultForwardLr,
  FORWARD_LR_SCALE,
} from "../train/defaults.ts";
import { parameterCount } from "../onnx/models/parameters.ts";
import { looksLikeModelFile } from "../model/model_source.ts";
import {
  methodsOf,
  resumeTrain,
  RunDivergedError,
  type RunSummary,
  train,
  type TrainOptions,
} from "../train/run.ts";
import { type CliOption, parseCli } from "./args.ts";
import { runMain } from "./main_wrapper.ts";
import { listenForStop } from "./stop_signals.ts";
import { planResume, splitResume } from "./train_resume.ts";
import { datasetArg, userPath } from "./user_path.ts";

const cores = navigator.hardwareConcurrency || 1;

/** The default forward rate of each built-in model on its default dataset, K = 1, SGD. */
function forwardDefaults(): string {
  return MODEL_NAMES.map((m) => {
    const tabular = defaultDataset(m) === "penguins";
    const model = createModel(m, {
      inputShape: tabular ? [4] : [1, 28, 28],
      classes: tabular ? 3 : 10,
      seed: 0,
    });
    const lr = defaultForwardLr(
      { lrBackprop: defaultBackpropLr(m, "sgd"), optimizer: "sgd", tangents: 1 },
      parameterCount(model),
    );
    return `${m} ${lr}`;
  }).join(", ");
}

const options: Record<string, CliOption> = {
  model: {
    type: "string",
    default: "mlp",
    help: `model: ${MODEL_NAMES.join(", ")}, or an ONNX file (e.g. from torch.onnx.export)`,
    valueName: "<name|file.onnx>",
  },
  input: {
    type: "string",
    help: "a model file's data input (default: its first float input)",
    valueName: "<name>",
  },
  output: {
    type: "string",
    help: 'a model file\'s logits output (default: its only output, or "logits")',
    valueName: "<name>",
  },
  train: {
    type: "string",
    multiple: true,
    help: "train only parameters matching this glob, e.g. 'fc.*' (repeatable)",
    valueName: "<glob>",
  },
  freeze: {
    type: "string",
    multiple: true,
    help: "keep parameters matching this glob at their initial values, e.g. 'conv1' (repeatable)",
    valueName: "<glob>",
  },
  hidden: { type: "string", help: "mlp hidden sizes, e.g. 64,64", valueName: "<n,n>" },
  dataset: {
    type: "string",
    help:
      "penguins, kmnist, fashion-mnist, a directory of IDX files or a CSV file (default: penguins for logreg/mlp, kmnist otherwise)",
  },
  "label-column": {
    type: "string",
    help: "class column of a CSV dataset (default: species, else its last non-numeric column)",
  },
  "train-count": {
    type: "string",
    help: "training examples (image datasets; default 500 for a re-split)",
    valueName: "<n>",
  },
  "test-count": {
    type: "string",
    help: "test examples (image datasets; default 100 for a re-split)",
    valueName: "<n>",
  },
  method: {
    type: "string",
    default: "both",
    help: "forward, backprop or both (same data order and initial weights)",
  },
  workers: {
    type: "string",
    default: String(cores),
    help: "forward-gradient workers (the default is the number of cores here)",
    valueName: "<n>",
  },
  tangents: {
    type: "string",
    default: "1",
    help: "tangents K per worker and step",
    valueName: "<k>",
  },
  "tangent-mode": {
    type: "string",
    default: "independent",
    help:
      "independent (each worker its own tangents) or shared (same tangents, workers send K scalars)",
  },
  "tangent-dist": { type: "string", default: "normal", help: "normal or rademacher" },
  "tangent-structure": {
    type: "string",
    default: "dense",
    help: "weight tangents: dense, rank1 or rank:R (each weight's tangent a sum of R outer " +
      "products: sampling O(rows + columns), and Gemm/Conv use the factors directly)",
  },
  perturb: {
    type: "string",
    default: "weights",
    help: "forward gradients' noise: on every weight (the paper's FG-W) or on every layer's " +
      "output, per example (activations: FG-A, far lower variance; independent mode)",
  },
  combine: {
    type: "string",
    default: "mean",
    help: "K weight tangents: their mean, or projection onto their span (scaled to be unbiased)",
  },
  "local-losses": {
    type: "boolean",
    help: "one classifier head and loss per block, blocks cut by stop-gradients (both methods); " +
      "built-in blocks: one per layer (mlp: each dense layer; cnn: each conv layer with its " +
      "pooling, then the dense head; logreg has one layer and cannot be split)",
  },
  blocks: {
    type: "string",
    help: "block boundaries of a model file for --local-losses: tensor names, comma-separated",
    valueName: "<t,t>",
  },
  "clip-grad-norm": {
    type: "string",
    help: "scale each step's gradient (estimate) down to at most this L2 norm (both methods)",
    valueName: "<x>",
  },
  "batch-size": { type: "string", default: "32", help: "examples per step", valueName: "<n>" },
  optimizer: { type: "string", default: "sgd", help: "sgd, momentum or adam" },
  lr: {
    type: "string",
    help: "learning rate for both methods (default: --lr-forward's and --lr-backprop's)",
    valueName: "<x>",
  },
  "lr-forward": {
    type: "string",
    // A getter: the per-model values build every built-in model, so only --help pays for them.
    get help() {
      return `learning rate of the forward-gradient run (default, SGD: ${FORWARD_LR_SCALE.weights}` +
        ` × lr-backprop × √(K/parameters), at most lr-backprop; with --perturb activations ` +
        `${FORWARD_LR_SCALE.activations} × lr-backprop; Adam: a tenth. At K = 1: ${forwardDefaults()}; the start line prints the value used)`;
    },
    valueName: "<x>",
  },
  "lr-backprop": {
    type: "string",
    help: `learning rate of the backprop run (default, SGD: ${
      MODEL_NAMES.map((m) => `${m} ${defaultBackpropLr(m, "sgd")}`).join(", ")
    }, a model file ${defaultBackpropLr(undefined, "sgd")}; Adam: a tenth)`,
    valueName: "<x>",
  },
  "lr-schedule": {
    type: "string",
    default: "constant",
    help: "constant, exp (η₀·e^(−i·k), the paper's) or cosine",
  },
  "lr-decay": {
    type: "string",
    default: "0.0001",
    help: "k of the exp schedule",
    valueName: "<k>",
  },
  steps: { type: "string", help: "number of steps", valueName: "<n>" },
  epochs: {
    type: "string",
    help: "number of epochs (default 40 when --steps is not given)",
    valueName: "<n>",
  },
  "target-loss": {
    type: "string",
    help: "stop when the smoothed training loss falls below this",
    valueName: "<x>",
  },
  "max-seconds": {
    type: "string",
    help: "stop after this many seconds of training per method",
    valueName: "<s>",
  },
  seed: {
    type: "string",
    default: "0",
    help: "run seed (data split and order, initial weights, tangents)",
    valueName: "<n>",
  },
  "eval-every": {
    type: "string",
    help: "evaluate on the test split every n steps (default: about 40 evaluations per run)",
    valueName: "<n>",
  },
  out: {
    type: "string",
    help: "output directory (default runs/<timestamp>-<model>-<dataset>)",
    valueName: "<dir>",
  },
  json: { type: "boolean", help: "print the summary as JSON instead of a table" },
  resume: {
    type: "string",
    help: "continue the interrupted run in <dir> from its checkpoint, with its saved settings",
    valueName: "<dir>",
  },
  "checkpoint-every": {
    type: "string",
    help: "write a checkpoint every n steps (0: only when the run ends or stops; default 500)",
    valueName: "<n>",
  },
  "max-retries": {
    type: "string",
    help: "recompute a step at most n times after worker failures, then stop (default 3)",
    valueName: "<n>",
  },
  "step-timeout": {
    type: "string",
    help:
      "seconds a worker may take to answer before it is replaced (default: max(30, 20 × median))",
    valueName: "<s>",
  },
};

const count = z.coerce.number().int().positive();
const positive = z.coerce.number().positive();
const FlagsSchema = z.object({
  model: z.string().refine(
    (m) => isModelName(m) || looksLikeModelFile(m),
    `expected one of ${MODEL_NAMES.join(", ")}, or a path to an .onnx file`,
  ),
  input: z.string().optional(),
  output: z.string().optional(),
  train: z.array(z.string()).optional(),
  freeze: z.array(z.string()).optional(),
  hidden: z.string().regex(/^\d+(,\d+)*$/, "expected sizes like 64,64").optional(),
  dataset: z.string().optional(),
  "label-column": z.string().optional(),
  "train-count": count.optional(),
  "test-count": count.optional(),
  method: z.enum(MethodChoiceSchema.options),
  workers: count,
  tangents: count,
  "tangent-mode": z.enum(TangentModeSchema.options),
  "tangent-dist": z.enum(TangentDistSchema.options),
  "tangent-structure": z.string().regex(
    /^(dense|rank1|rank:[1-9]\d*)$/,
    "expected dense, rank1 or rank:R",
  ),
  perturb: z.enum(PerturbSchema.options),
  combine: z.enum(CombineSchema.options),
  "local-losses": z.boolean().default(false),
  blocks: z.string().regex(/^[^,]+(,[^,]+)*$/, "expected tensor names like a,b").optional(),
  "clip-grad-norm": positive.optional(),
  "batch-size": count,
  optimizer: z.enum(OptimizerSchema.options),
  lr: positive.optional(),
  "lr-forward": positive.optional(),
  "lr-backprop": positive.optional(),
  "lr-schedule": z.enum(LrScheduleSchema.options),
  "lr-decay": z.coerce.number().nonnegative(),
  steps: count.optional(),
  epochs: count.optional(),
  "target-loss": positive.optional(),
  "max-seconds": positive.optional(),
  seed: z.coerce.number().int().nonnegative(),
  "eval-every": count.optional(),
  out: z.string().optional(),
  json: z.boolean().default(false),
  resume: z.string().min(1).optional(),
  "checkpoint-every": z.coerce.number().int().nonnegative().optional(),
  "max-retries": z.coerce.number().int().nonnegative().optional(),
  "step-timeout": positive.optional(),
});

export const TRAIN_USAGE = `usage: deno task train [options]

Trains a model with forward gradients and with backprop (the baseline) and compares them.`;

/** Flags → the full resolved configuration. */
export function resolveConfig(
  argv: string[],
): ReturnType<typeof TrainConfigSchema.parse> | { help: string } {
  const parsed = parseCli(argv, { options, schema: FlagsSchema, usage: TRAIN_USAGE });
  if (parsed.kind === "help") return { help: parsed.text };
  const f = parsed.values;
  const lrBackprop = defaultBackpropLr(isModelName(f.model) ? f.model : undefined, f.optimizer);
  if (!isModelName(f.model) && f.dataset === undefined) {
    throw new UserError(`--dataset: required with a model file (e.g. --dataset kmnist)`);
  }
  const epochs = f.steps ? undefined : (f.epochs ?? 40);
  return TrainConfigSchema.parse({
    model: isModelName(f.model) ? f.model : userPath(f.model),
    hidden: f.hidden?.split(",").map(Number),
    trainOnly: f.train,
    freeze: f.freeze,
    input: f.input,
    output: f.output,
    dataset: f.dataset === undefined
      ? (isModelName(f.model) ? defaultDataset(f.model) : "")
      : datasetArg(f.dataset),
    labelColumn: f["label-column"],
    trainCount: f["train-count"],
    testCount: f["test-count"],
    method: f.method,
    workers: f.workers,
    tangents: f.tangents,
    tangentMode: f["tangent-mode"],
    tangentDist: f["tangent-dist"],
    tangentRank: tangentRank(f["tangent-structure"]),
    perturb: f.perturb,
    combine: f.combine,
    localLosses: f["local-losses"] || undefined,
    blocks: f.blocks?.split(","),
    clipGradNorm: f["clip-grad-norm"],
    batchSize: f["batch-size"],
    optimizer: f.optimizer,
    lrForward: f["lr-forward"] ?? f.lr,
    lrBackprop: f["lr-backprop"] ?? f.lr ?? lrBackprop,
    lrSchedule: f["lr-schedule"],
    lrDecay: f["lr-decay"],
    steps: f.steps,
    epochs,
    targetLoss: f["target-loss"],
    maxSeconds: f["max-seconds"],
    seed: f.seed,
    evalEvery: f["eval-every"] ?? 0,
    out: f.out === undefined ? undefined : userPath(f.out),
    json: f.json,
    checkpointEvery: f["checkpoint-every"],
    maxRetries: f["max-retries"],
    stepTimeout: f["step-timeout"],
  });
}

/** dense → undefined, rank1 → 1, rank:R → R. */
function tangentRank(structure: string): number | undefined {
  if (structure === "dense") return undefined;
  return structure === "rank1" ? 1 : Number(structure.slice("rank:".length));
}

/** How a method trains, in words: its learning rate and, for forward, its estimator. */
export function methodLine(config: TrainConfig, method: "forward" | "backprop"): string {
  const local = config.localLosses ? ", local losses" : "";
  const clip = config.clipGradNorm ? `, clip-grad-norm ${config.clipGradNorm}` : "";
  const opt = `${config.optimizer}, lr ${config.lrBackprop}`;
  if (method === "backprop") return `backprop (${opt}${local}${clip})`;
  const estimator = config.perturb === "activations"
    ? "activity perturbation"
    : `weight perturbation, ${config.combine ?? "mean"}, ${config.tangentMode} ${
      config.tangentRank ? `rank-${config.tangentRank}` : "dense"
    } tangents`;
  return `forward (${config.optimizer}, lr ${config.lrForward}; ${config.workers} worker(s) × ` +
    `${config.tangents} ${config.tangentDist} tangent(s), ${estimator}${local}${clip})`;
}

function fmt(x: number | null, digits = 4): string {
  return x === null || !Number.isFinite(x) ? "—" : x.toFixed(digits);
}

export function comparisonTable(summary: RunSummary): string {
  const runs = summary.runs;
  const row = (
    label: string,
    f: (r: RunSummary["runs"][number]) => string | number,
  ) => [label, ...runs.map(f)];
  return formatTable(["", ...runs.map((r) => r.method)], [
    row("status", (r) => r.status),
    row("steps", (r) => r.steps),
    row("epochs", (r) => r.epochs.toFixed(1)),
    row("wall time (s)", (r) => r.wallSeconds.toFixed(2)),
    row("steps/s", (r) => r.stepsPerSecond.toFixed(1)),
    ...(summary.config.targetLoss === undefined ? [] : [
      row(
        `time to loss < ${summary.config.targetLoss} (s)`,
        (r) => (r.reachedTarget ? fmt(r.secondsToTarget, 2) : "not reached"),
      ),
      row("steps to target", (r) => (r.reachedTarget ? String(r.stepsToTarget) : "not reached")),
    ]),
    row("final train loss", (r) => fmt(r.final.trainLoss)),
    row("final test loss", (r) => fmt(r.final.testLoss)),
    row("test accuracy", (r) => `${(100 * r.final.testAccuracy).toFixed(1)}%`),
    row("misclassified", (r) => `${r.final.misclassified}/${summary.dataset.test}`),
  ]);
}

async function main(): Promise<number> {
  const config = resolveConfig(Deno.args);
  if ("help" in config) {
    console.log(config.help);
    return 0;
  }
  // --resume DIR: the run's saved settings (checked against the other flags given).
  const resumeArg = splitResume(Deno.args).dir;
  const resumeDir = resumeArg === undefined ? undefined : userPath(resumeArg);
  const plan = resumeDir === undefined
    ? null
    : await planResume(resumeDir, Deno.args, resolveConfig);
  const run = plan?.config ?? config;
  const progress = run.json ? undefined : createProgress({ methods: methodsOf(run) });
  const say = (line: string) => (progress ? progress.log(line) : console.error(line));
  const stop = listenForStop(say);
  const hooks: TrainOptions = {
    signal: stop.signal,
    onFailure: (e) =>
      say(
        `worker failure: ${e.method} worker ${e.worker} during ${e.during} at step ${e.step}: ` +
          `${e.reason}; ${e.action === "restarted" ? "replaced, recomputing" : "giving up"}`,
      ),
    onStart: ({ config, dataset, parameters, methods, modelNotes, resumed }) => {
      if (resumed) {
        const where = resumed.map((r) => `${r.method} from step ${r.step}`).join(", then ");
        say(`resuming ${plan!.dir}: ${where || "already complete; rewriting its outputs"}`);
      }
      progress?.log(
        `model ${config.model} (${
          parameters.toLocaleString("en-US")
        } parameters) on ${dataset.name}: ${dataset.split}`,
      );
      if (modelNotes?.length) progress?.log(`model: ${modelNotes.join("; ")}`);
      progress?.log(
        `train ${dataset.train.count} / test ${dataset.test.count} examples; ${
          dataset.notes.join("; ")
        }`,
      );
      progress?.log(`methods: ${methods.map((m) => methodLine(config, m)).join("; ")}`);
    },
    onProgress: (method, p) => progress?.update(method, p),
    onNotice: (line) => say(`note: ${line}`),
  };
  const report = (summary: RunSummary, outDir: string) => {
    if (run.json) {
      console.log(JSON.stringify({ ...summary, outDir }, roundAccuracies, 2));
      return;
    }
    console.log(`\n${comparisonTable(summary)}\n`);
    console.log(`dataset: ${summary.dataset.split}`);
    console.log(
      `outputs: ${outDir}/ (summary.json, metrics.jsonl, *.svg plots, model-*.onnx, checkpoint.bin)`,
    );
  };
  let outcome;
  try {
    outcome = await (plan
      ? resumeTrain(plan.dir, { ...hooks, checkpoint: plan.checkpoint, overrides: plan.overrides })
      : train(config, { ...hooks, argv: Deno.args })).finally(() =>
        stop.dispose()
      );
  } catch (e) {
    progress?.done();
    // One method diverged: the others ran; show them, then the error line (exit 2).
    if (e instanceof RunDivergedError && e.summary.runs.some((r) => r.status === "complete")) {
      report(e.summary, e.outDir);
    }
    throw e;
  }
  const { summary, outDir, status } = outcome;
  progress?.done();
  report(summary, outDir);
  if (status === "interrupted") {
    console.error(
      `interrupted: checkpoint and outputs so far in ${outDir}; continue with: ` +
        `deno task train --resume ${outDir}`,
    );
    return stop.exitCode || 130;
  }
  return 0;
}

if (import.meta.main) runMain(main);
