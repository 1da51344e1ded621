import type { Model } from "../types.ts";
import { mlp } from "./mlp.ts";

export interface PaperMlpOptions {
  inputShape?: number[];
  classes?: number;
  seed?: number;
}

/** The MLP of Baydin et al. (2022): 784-1024-1024-10 with ReLU, on flattened 28×28 images. */
export function paperMlp(
  { inputShape = [1, 28, 28], classes = 10, seed = 0 }: PaperMlpOptions = {},
): Model {
  const model = mlp({ inputShape, classes, hidden: [1024, 1024], activation: "relu", seed });
  model.graph.name = "paper-mlp";
  return model;
}
