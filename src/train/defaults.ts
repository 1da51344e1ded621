/**
 * Default learning rates and datasets per built-in model.
 *
 * @module
 */
import type { ModelName } from "../onnx/models/registry.ts";
import type { OptimizerName } from "./optimizers.ts";

/**
 * Learning rates per model and method, for plain SGD. Forward gradients need far smaller
 * steps than backprop (their variance grows with the parameter count: Flügel et al.), so each method has its own. Chosen by the sweeps in bench/ (time to target).
 */
export const DEFAULT_LR: Record<ModelName, { forward: number; backprop: number }> = {
  "logreg": { forward: 0.05, backprop: 0.2 },
  "mlp": { forward: 0.02, backprop: 0.1 },
  "cnn": { forward: 0.01, backprop: 0.05 },
  "paper-mlp": { forward: 2e-4, backprop: 0.03 },
  "paper-cnn": { forward: 2e-4, backprop: 0.03 },
};

/** Adam's usual step sizes are smaller than SGD's. */
export function defaultLr(
  model: ModelName,
  optimizer: OptimizerName,
): { forward: number; backprop: number } {
  const base = DEFAULT_LR[model];
  if (optimizer !== "adam") return base;
  return { forward: base.forward / 10, backprop: base.backprop / 10 };
}

/** Default dataset of each model: penguins for the tabular ones, KMNIST for image models. */
export function defaultDataset(model: ModelName): string {
  return model === "logreg" || model === "mlp" ? "penguins" : "kmnist";
}
