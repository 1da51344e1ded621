/**
 * The training configuration: every resolved option, as a zod schema. Its option enums are
 * the one source of truth for the command line's choices too (`XSchema.options`).
 *
 * @module
 */
import { z } from "zod";
import { UserError } from "../errors.ts";
import { TangentDistSchema } from "../engine/messages.ts";
import { MODEL_NAMES } from "../onnx/models/registry.ts";

export { TangentDistSchema };
/** Which methods a run trains. */
export const MethodChoiceSchema = z.enum(["forward", "backprop", "both"]);
/** How forward-gradient workers draw their tangents. */
export const TangentModeSchema = z.enum(["independent", "shared"]);
export const OptimizerSchema = z.enum(["sgd", "momentum", "adam"]);
export const LrScheduleSchema = z.enum(["constant", "exp", "cosine"]);
/** Where forward gradients put their noise: on every weight, or on every layer's output. */
export const PerturbSchema = z.enum(["weights", "activations"]);
/** How K weight tangents' scalars become the estimate: their mean, or the projection. */
export const CombineSchema = z.enum(["mean", "projection"]);

/** Every resolved training option; summary.json records it in full. */
export const TrainConfigSchema = z.strictObject({
  /** A built-in model name or the path of an ONNX file (model/model_source.ts). */
  model: z.union([z.enum(MODEL_NAMES), z.string().min(1)]),
  /** A model option: hidden sizes for mlp (e.g. [64, 64]). */
  hidden: z.array(z.int().positive()).optional(),
  /** Glob patterns of the parameters to train (default: all but buffers) and to freeze. */
  trainOnly: z.array(z.string().min(1)).optional(),
  freeze: z.array(z.string().min(1)).optional(),
  /** A model file's data input and logits output (default: its first float input, its output). */
  input: z.string().min(1).optional(),
  output: z.string().min(1).optional(),
  dataset: z.string(),
  labelColumn: z.string().optional(),
  trainCount: z.int().positive().optional(),
  testCount: z.int().positive().optional(),
  method: MethodChoiceSchema,
  workers: z.int().positive(),
  tangents: z.int().positive(),
  tangentMode: TangentModeSchema,
  tangentDist: TangentDistSchema,
  batchSize: z.int().positive(),
  optimizer: OptimizerSchema,
  /** Learning rate per method (forward gradients need smaller steps than backprop). */
  /** Default (undefined): from the parameter count, K and the estimator (defaults.ts). */
  lrForward: z.number().positive().optional(),
  lrBackprop: z.number().positive(),
  lrSchedule: LrScheduleSchema,
  lrDecay: z.number().nonnegative(),
  steps: z.int().positive().optional(),
  epochs: z.int().positive().optional(),
  targetLoss: z.number().positive().optional(),
  maxSeconds: z.number().positive().optional(),
  seed: z.int().nonnegative(),
  /** Evaluate every n steps; 0 picks about 40 evaluations per run. */
  evalEvery: z.int().nonnegative(),
  out: z.string().optional(),
  json: z.boolean(),
  /**
   * Reliability (checkpoint.ts, supervised_pool.ts). They change how a run survives trouble, never
   * its result, so a resumed run may change them. Checkpoint every n steps (0: only when the
   * run stops; default 500); recomputations of one step after worker failures (default 3);
   * seconds a worker may take to answer (default: max(30 s, 20 × the median call)).
   */
  checkpointEvery: z.int().nonnegative().optional(),
  maxRetries: z.int().nonnegative().optional(),
  stepTimeout: z.number().positive().optional(),
  /**
   * The forward-gradient estimator (src/train/steps/): weight or activity perturbation
   * (default weights), mean or projection of K weight tangents (default mean), local losses
   * (one head and loss per block, for both methods; `blocks` names a model file's boundaries).
   */
  perturb: PerturbSchema.optional(),
  combine: CombineSchema.optional(),
  localLosses: z.boolean().optional(),
  blocks: z.array(z.string().min(1)).optional(),
  /** Rank R of the weight tangents (`--tangent-structure rank:R`); dense when absent. */
  tangentRank: z.int().positive().optional(),
  /** Rescale a step's gradient (estimate) to at most this L2 norm, for both methods. */
  clipGradNorm: z.number().positive().optional(),
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
/** One training method (a run trains one or both). */
export type Method = Exclude<z.infer<typeof MethodChoiceSchema>, "both">;

/** The step budget: --steps, else --epochs worth of batches. */
export function totalSteps(config: TrainConfig, stepsPerEpoch: number): number {
  if (config.steps) return config.steps;
  return (config.epochs ?? 1) * stepsPerEpoch;
}

/**
 * Refuses estimator options that do not go together, with one line naming the flags (the
 * combinations that remain all work, for both methods where they apply).
 */
export function checkEstimatorOptions(config: TrainConfig, isModelFile: boolean): void {
  const refuse = (why: string) => {
    throw new UserError(why);
  };
  if (config.perturb === "activations") {
    if (config.tangentMode === "shared") {
      refuse(
        "--perturb activations: needs --tangent-mode independent (its estimate is formed from " +
          "each worker's own examples, so there are no scalars to share)",
      );
    }
    if (config.combine === "projection") {
      refuse(
        "--combine projection: applies to weight tangents (--perturb weights); activity " +
          "tangents are per example and layer",
      );
    }
  }
  if (config.tangentRank !== undefined) {
    if (config.perturb === "activations") {
      refuse("--tangent-structure: applies to weight tangents (--perturb weights)");
    }
    if (config.combine === "projection") {
      refuse("--combine projection: needs --tangent-structure dense (its Gram matrix is dense)");
    }
  }
  if (config.blocks && !config.localLosses) refuse("--blocks: only applies with --local-losses");
  if (config.localLosses && isModelFile && !config.blocks) {
    refuse(
      `--local-losses: for a model file, name the block boundaries with --blocks ` +
        `TENSOR,TENSOR,... (the outputs after which each block ends)`,
    );
  }
}
