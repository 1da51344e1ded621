import type { Model } from "../types.ts";
import { classifier, dense, featureCount, flatten } from "./layers.ts";

export interface LogregOptions {
  /** Shape of one example, e.g. `[4]` or `[1, 28, 28]`. */
  inputShape: number[];
  classes: number;
  seed?: number;
}

/** Multinomial logistic regression: one linear layer (`dense1`); softmax lives in the loss. */
export function logreg({ inputShape, classes, seed = 0 }: LogregOptions): Model {
  return classifier("logreg", inputShape, classes, seed, (net, x) => {
    const flat = inputShape.length > 1 ? flatten(net, x) : x;
    return dense(net, "dense1", flat, featureCount(inputShape), classes, "logits");
  });
}
