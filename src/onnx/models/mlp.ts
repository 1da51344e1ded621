import type { Model } from "../types.ts";
import { type Activation, classifier, denseStack, featureCount, flatten } from "./layers.ts";

export interface MlpOptions {
  /** Shape of one example, e.g. `[4]` or `[1, 28, 28]` (flattened first). */
  inputShape: number[];
  classes: number;
  /** Hidden layer widths; the default suits penguins and is still cheap for 28×28 images. */
  hidden?: number[];
  activation?: Activation;
  seed?: number;
}

/** Fully connected network: `dense1` … `dense<n+1>`, activation after each hidden layer. */
export function mlp(
  { inputShape, classes, hidden = [32, 32], activation = "relu", seed = 0 }: MlpOptions,
): Model {
  return classifier("mlp", inputShape, classes, seed, (net, x) => {
    const flat = inputShape.length > 1 ? flatten(net, x) : x;
    return denseStack(net, flat, featureCount(inputShape), hidden, classes, activation);
  });
}
