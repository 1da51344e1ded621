import { z } from "zod";
import { UserError } from "../../errors.ts";
import type { Model } from "../types.ts";
import { cnn } from "./cnn.ts";
import { ACTIVATIONS } from "./layers.ts";
import { logreg } from "./logreg.ts";
import { mlp } from "./mlp.ts";
import { paperCnn } from "./paper_cnn.ts";
import { paperMlp } from "./paper_mlp.ts";

/** Names of the built-in models, as the CLI and configs spell them. */
export const MODEL_NAMES = ["logreg", "mlp", "cnn", "paper-mlp", "paper-cnn"] as const;
export type ModelName = typeof MODEL_NAMES[number];

/** What every model needs from the dataset and run, plus model-specific options. */
export interface ModelOptions {
  inputShape: number[];
  classes: number;
  seed: number;
  [option: string]: unknown;
}

const size = z.int().positive();
const common = {
  inputShape: z.array(size).min(1),
  classes: size,
  seed: z.int(),
};
const imageShape = z.array(size).length(3, "must be [channels, height, width]");

/** Options each model accepts; unknown keys are rejected so a typo is not silently ignored. */
export const MODEL_OPTIONS = {
  "logreg": z.strictObject(common),
  "mlp": z.strictObject({
    ...common,
    hidden: z.array(size).optional(),
    activation: z.enum(ACTIVATIONS).optional(),
  }),
  "cnn": z.strictObject({
    ...common,
    inputShape: imageShape,
    channels: z.array(size).min(1).optional(),
    kernel: size.optional(),
    poolEvery: size.optional(),
    dense: z.array(size).optional(),
  }),
  "paper-mlp": z.strictObject(common),
  "paper-cnn": z.strictObject({ ...common, inputShape: imageShape }),
} satisfies Record<ModelName, z.ZodType>;

export function isModelName(name: string): name is ModelName {
  return (MODEL_NAMES as readonly string[]).includes(name);
}

/** Builds the built-in model `name`; bad names and options throw UserError. */
export function createModel(name: string, options: ModelOptions): Model {
  if (!isModelName(name)) {
    throw new UserError(`unknown model "${name}"; built-in models: ${MODEL_NAMES.join(", ")}`);
  }
  switch (name) {
    case "logreg":
      return logreg(parse(name, MODEL_OPTIONS["logreg"], options));
    case "mlp":
      return mlp(parse(name, MODEL_OPTIONS["mlp"], options));
    case "cnn":
      return cnn(parse(name, MODEL_OPTIONS["cnn"], options));
    case "paper-mlp":
      return paperMlp(parse(name, MODEL_OPTIONS["paper-mlp"], options));
    case "paper-cnn":
      return paperCnn(parse(name, MODEL_OPTIONS["paper-cnn"], options));
  }
}

function parse<T>(name: ModelName, schema: z.ZodType<T>, options: ModelOptions): T {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "options"}: ${i.message}`);
  throw new UserError(`model "${name}": ${problems.join("; ")}`);
}
