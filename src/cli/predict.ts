import { z } from "zod";
import { loadDataset } from "../data/load.ts";
import { encodeModel } from "../onnx/encode.ts";
import { withLoss } from "../onnx/models/loss.ts";
import { Evaluator } from "../engine/evaluator.ts";
import { loadModelSource } from "../model/model_source.ts";
import { type CliOption, parseCli } from "./args.ts";
import { runMain } from "./main_wrapper.ts";
import { datasetArg, userPath } from "./user_path.ts";

const options: Record<string, CliOption> = {
  dataset: { type: "string", default: "penguins", help: "dataset, as for train" },
  "label-column": { type: "string", help: "class column of a CSV dataset" },
  "train-count": {
    type: "string",
    help: "as for train (the split must match the run's)",
    valueName: "<n>",
  },
  "test-count": { type: "string", help: "as for train", valueName: "<n>" },
  seed: {
    type: "string",
    default: "0",
    help: "the run's seed (it fixes the split and standardisation)",
    valueName: "<n>",
  },
  split: { type: "string", default: "test", help: "test or train" },
  input: { type: "string", help: "the model's data input, as for train", valueName: "<name>" },
  output: { type: "string", help: "the model's logits output, as for train", valueName: "<name>" },
};

const count = z.coerce.number().int().positive();
const FlagsSchema = z.object({
  dataset: z.string(),
  "label-column": z.string().optional(),
  "train-count": count.optional(),
  "test-count": count.optional(),
  seed: z.coerce.number().int().nonnegative(),
  split: z.enum(["test", "train"]),
  input: z.string().optional(),
  output: z.string().optional(),
});

const USAGE = `usage: deno task predict MODEL.onnx --dataset NAME [--seed N]

Reports the loss, accuracy and misclassified count of a trained model (e.g. a run's
model-forward.onnx) on a dataset split. Use the run's dataset flags and seed.`;

async function main(): Promise<number> {
  const parsed = parseCli(Deno.args, {
    options,
    schema: FlagsSchema,
    usage: USAGE,
    positionals: z.array(z.string()).length(1, "expected exactly one MODEL.onnx"),
  });
  if (parsed.kind === "help") {
    console.log(parsed.text);
    return 0;
  }
  const path = userPath(parsed.positionals[0]);
  const f = parsed.values;
  const dataset = await loadDataset(datasetArg(f.dataset), {
    labelColumn: f["label-column"],
    trainCount: f["train-count"],
    testCount: f["test-count"],
    seed: f.seed,
  });
  // Fed as train feeds it: a file's own input and output names are mapped to x and logits.
  const { model: prepared } = await loadModelSource(path, {
    data: {
      featureShape: dataset.featureShape,
      classes: dataset.classes.length,
      name: dataset.name,
    },
    input: f.input,
    output: f.output,
  });
  const evaluator = await Evaluator.create(
    encodeModel(withLoss(prepared)),
    dataset.featureShape,
    dataset.classes.length,
  );
  try {
    const r = await evaluator.evaluate({}, f.split === "test" ? dataset.test : dataset.train);
    const n = f.split === "test" ? dataset.test.count : dataset.train.count;
    console.log(`${path} on ${dataset.name} (${f.split}): ${dataset.split}`);
    console.log(
      `loss ${r.loss.toFixed(4)}, accuracy ${
        (100 * r.accuracy).toFixed(1)
      }%, misclassified ${r.misclassified}/${n}`,
    );
  } finally {
    await evaluator.release();
  }
  return 0;
}

if (import.meta.main) runMain(main);
