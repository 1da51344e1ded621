/**
 * Default learning rates and datasets. Backprop's rate is per model (plain SGD). The forward
 * gradient's rate follows from the estimator's variance rather than a table, so that a model
 * nobody here tuned (a user's file) gets a safe one too:
 *
 * - weight perturbation: the estimate's length is about √(n/K) times the gradient's (n
 *   parameters, K tangents), so the rate is FORWARD_LR_SCALE.weights · lr_backprop · √(K/n),
 *   capped at lr_backprop. (Flügel et al.'s tuned MLP rates follow the same √(K/n) law.)
 * - activity perturbation: its variance hardly grows with n (the noise is per layer output and
 *   the layers feeding the loss are exact), so FORWARD_LR_SCALE.activations · lr_backprop.
 *
 * Adam's usual step sizes are a tenth of SGD's. The scales were chosen by the `defaults`
 * benchmark (bench/results/defaults.json): the largest that diverged on no built-in model and
 * no model file in the sweep, halved for margin.
 *
 * @module
 */
import type { ModelName } from "../onnx/models/registry.ts";
import type { TrainConfig } from "./config.ts";
import type { OptimizerName } from "./optimizers.ts";

/** Backprop's rate per built-in model, for plain SGD (the time-to-target sweeps). */
export const DEFAULT_BACKPROP_LR: Record<ModelName, number> = {
  "logreg": 0.2,
  "mlp": 0.1,
  "cnn": 0.05,
  "paper-mlp": 0.03,
  "paper-cnn": 0.03,
};

/** Backprop's rate for a model file (as the built-in CNN's). */
export const FILE_BACKPROP_LR = 0.05;

/** See the module comment; set from bench/results/defaults.json. */
export const FORWARD_LR_SCALE = { weights: 4, activations: 0.5 } as const;

/** The default backprop rate of a built-in model (or a file, `model` undefined). */
export function defaultBackpropLr(model: ModelName | undefined, optimizer: OptimizerName): number {
  const base = model ? DEFAULT_BACKPROP_LR[model] : FILE_BACKPROP_LR;
  return optimizer === "adam" ? base / 10 : base;
}

/**
 * The default forward-gradient rate for a model with `parameters` trainable values, from the
 * run's backprop rate (its SGD-equivalent: Adam's is scaled back first) and estimator.
 */
export function defaultForwardLr(
  config: Pick<TrainConfig, "lrBackprop" | "optimizer" | "tangents" | "perturb">,
  parameters: number,
): number {
  const adam = config.optimizer === "adam";
  const backprop = adam ? config.lrBackprop * 10 : config.lrBackprop;
  const sgd = config.perturb === "activations" ? FORWARD_LR_SCALE.activations * backprop : Math.min(
    backprop,
    FORWARD_LR_SCALE.weights * backprop * Math.sqrt(config.tangents / parameters),
  );
  // Three significant digits, so the printed value is the value used.
  return Number((adam ? sgd / 10 : sgd).toPrecision(3));
}

/** Default dataset of each model: penguins for the tabular ones, KMNIST for image models. */
export function defaultDataset(model: ModelName): string {
  return model === "logreg" || model === "mlp" ? "penguins" : "kmnist";
}
