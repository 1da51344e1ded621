import { z } from "zod";
import { loadDataset } from "../data/load.ts";
import { encodeModel } from "../onnx/encode.ts";
import { withLoss } from "../onnx/models/loss.ts";
import { Evaluator } from "../engine/evaluator.ts";
import { loadModelSource } from "../model/model_source.ts";
import { type CliOption, parseCli } from "./args.ts";
import { runMain } from "./main_wrapper.ts";
import { basename, join } from "node:path";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { formatPredictions, type Prediction, predictionsOf } from "../report/predictions.ts";
import { readCheckpoint } from "../train/checkpoint.ts";
import { datasetArg, userPath } from "./user_path.ts";

const options: Record<string, CliOption> = {
  dataset: {
    type: "string",
    help: "dataset, as for train (default: a run directory's, else penguins)",
  },
  "label-column": { type: "string", help: "class column of a CSV dataset" },
  "train-count": {
    type: "string",
    help: "as for train (the split must match the run's)",
    valueName: "<n>",
  },
  "test-count": { type: "string", help: "as for train", valueName: "<n>" },
  seed: {
    type: "string",
    help:
      "the run's seed (it fixes the split and standardisation; default: a run directory's, else 0)",
    valueName: "<n>",
  },
  split: { type: "string", default: "test", help: "test or train" },
  method: {
    type: "string",
    help: "with a run directory: forward or backprop (default: every model the run saved)",
  },
  predictions: {
    type: "string",
    help: "write per-example predictions (index, label, predicted class, probabilities)",
    valueName: "<file.csv|file.jsonl>",
  },
  input: { type: "string", help: "the model's data input, as for train", valueName: "<name>" },
  output: { type: "string", help: "the model's logits output, as for train", valueName: "<name>" },
};

const count = z.coerce.number().int().positive();
const FlagsSchema = z.object({
  dataset: z.string().optional(),
  "label-column": z.string().optional(),
  "train-count": count.optional(),
  "test-count": count.optional(),
  seed: z.coerce.number().int().nonnegative().optional(),
  split: z.enum(["test", "train"]),
  method: z.enum(["forward", "backprop"]).optional(),
  predictions: z.string().regex(/\.(csv|jsonl)$/i, "expected a .csv or .jsonl file").optional(),
  input: z.string().optional(),
  output: z.string().optional(),
});

const USAGE =
  `usage: deno task predict RUN-DIR|MODEL.onnx [--dataset NAME] [--seed N] [--predictions FILE]

Reports the loss, accuracy and misclassified count of a trained model on a dataset split.
Given a run directory (runs/<dir>), evaluates the models it saved on the run's own dataset,
split and seed; given a model file (e.g. a run's model-forward.onnx), use the run's dataset
flags and seed.`;

type Flags = z.infer<typeof FlagsSchema>;

/** The data settings to evaluate with: the run's (when given a run directory), else flags. */
interface DataSettings {
  dataset: string;
  labelColumn?: string;
  trainCount?: number;
  testCount?: number;
  seed: number;
  input?: string;
  output?: string;
}

/** The models of a run directory and its data settings; flags that differ win, with a note. */
async function fromRunDir(
  dir: string,
  f: Flags,
): Promise<{ models: string[]; data: DataSettings }> {
  const { config } = await readCheckpoint(dir, "predict");
  const run: DataSettings = {
    dataset: config.dataset,
    labelColumn: config.labelColumn,
    trainCount: config.trainCount,
    testCount: config.testCount,
    seed: config.seed,
    input: config.input,
    output: config.output,
  };
  const flags: [keyof DataSettings, string, string | number | undefined][] = [
    ["dataset", "--dataset", f.dataset === undefined ? undefined : datasetArg(f.dataset)],
    ["labelColumn", "--label-column", f["label-column"]],
    ["trainCount", "--train-count", f["train-count"]],
    ["testCount", "--test-count", f["test-count"]],
    ["seed", "--seed", f.seed],
    ["input", "--input", f.input],
    ["output", "--output", f.output],
  ];
  const data = { ...run };
  for (const [key, flag, value] of flags) {
    if (value === undefined || value === run[key]) continue;
    console.error(
      `note: ${flag} ${value} differs from the run's (${run[key] ?? "unset"}); using ${value}`,
    );
    (data as Record<string, unknown>)[key] = value;
  }
  const methods = f.method ? [f.method] : ["forward", "backprop"];
  const models: string[] = [];
  for (const m of methods) {
    const file = join(dir, `model-${m}.onnx`);
    if (await Deno.stat(file).then(() => true, () => false)) models.push(file);
  }
  if (models.length === 0) {
    throw new UserError(
      `predict: ${dir} has no ${f.method ? `model-${f.method}.onnx` : "model-*.onnx"} ` +
        `(the run has not finished a method yet?)`,
    );
  }
  return { models, data };
}

async function main(): Promise<number> {
  const parsed = parseCli(Deno.args, {
    options,
    schema: FlagsSchema,
    usage: USAGE,
    positionals: z.array(z.string()).length(1, "expected exactly one RUN-DIR or MODEL.onnx"),
  });
  if (parsed.kind === "help") {
    console.log(parsed.text);
    return 0;
  }
  const path = userPath(parsed.positionals[0]);
  const f = parsed.values;
  const isDir = (await Deno.stat(path).catch(() => null))?.isDirectory ?? false;
  if (!isDir && f.method) throw new UserError(`--method: applies to a run directory only`);
  const { models, data } = isDir ? await fromRunDir(path, f) : {
    models: [path],
    data: {
      dataset: datasetArg(f.dataset ?? "penguins"),
      labelColumn: f["label-column"],
      trainCount: f["train-count"],
      testCount: f["test-count"],
      seed: f.seed ?? 0,
      input: f.input,
      output: f.output,
    },
  };
  const dataset = await loadDataset(data.dataset, {
    labelColumn: data.labelColumn,
    trainCount: data.trainCount,
    testCount: data.testCount,
    seed: data.seed,
  });
  const split = f.split === "test" ? dataset.test : dataset.train;
  const rows: Prediction[] = [];
  for (const model of models) {
    // Fed as train feeds it: a file's own input and output names are mapped to x and logits.
    const { model: prepared } = await loadModelSource(model, {
      data: {
        featureShape: dataset.featureShape,
        classes: dataset.classes.length,
        name: dataset.name,
      },
      input: data.input,
      output: data.output,
    });
    const evaluator = await Evaluator.create(
      encodeModel(withLoss(prepared)),
      dataset.featureShape,
      dataset.classes.length,
    );
    const name = basename(model).replace(/^model-|\.onnx$/gi, "");
    try {
      const r = await evaluator.evaluate({}, split, 1000, (start, logits) => {
        if (f.predictions) {
          rows.push(...predictionsOf(name, start, logits, split.y, dataset.classes));
        }
      });
      console.log(`${model} on ${dataset.name} (${f.split}): ${dataset.split}`);
      console.log(
        `loss ${r.loss.toFixed(4)}, accuracy ${
          (100 * r.accuracy).toFixed(1)
        }%, misclassified ${r.misclassified}/${split.count}`,
      );
    } finally {
      await evaluator.release();
    }
  }
  if (f.predictions) {
    const out = userPath(f.predictions);
    await writeFileAtomic(out, formatPredictions(out, rows, dataset.classes));
    console.log(`predictions: ${out} (${rows.length} rows)`);
  }
  return 0;
}

if (import.meta.main) runMain(main);
