import { z } from "zod";
import { MODEL_NAMES } from "../onnx/models/registry.ts";

/** Every resolved training option; summary.json records it in full. */
export const TrainConfigSchema = z.strictObject({
  model: z.enum(MODEL_NAMES),
  /** A model option: hidden sizes for mlp (e.g. [64, 64]). */
  hidden: z.array(z.int().positive()).optional(),
  dataset: z.string(),
  labelColumn: z.string().optional(),
  trainCount: z.int().positive().optional(),
  testCount: z.int().positive().optional(),
  method: z.enum(["forward", "backprop", "both"]),
  workers: z.int().positive(),
  tangents: z.int().positive(),
  tangentMode: z.enum(["independent", "shared"]),
  tangentDist: z.enum(["normal", "rademacher"]),
  batchSize: z.int().positive(),
  optimizer: z.enum(["sgd", "momentum", "adam"]),
  /** Learning rate per method (forward gradients need smaller steps than backprop). */
  lrForward: z.number().positive(),
  lrBackprop: z.number().positive(),
  lrSchedule: z.enum(["constant", "exp", "cosine"]),
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
});
export type TrainConfig = z.infer<typeof TrainConfigSchema>;
export type Method = "forward" | "backprop";

/** The step budget: --steps, else --epochs worth of batches. */
export function totalSteps(config: TrainConfig, stepsPerEpoch: number): number {
  if (config.steps) return config.steps;
  return (config.epochs ?? 1) * stepsPerEpoch;
}
