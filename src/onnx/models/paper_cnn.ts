import type { Model } from "../types.ts";
import { cnn } from "./cnn.ts";

export interface PaperCnnOptions {
  inputShape?: number[];
  classes?: number;
  seed?: number;
}

/**
 * The CNN of Baydin et al. (2022): four 3×3 conv layers of 64 channels with ReLU, a 2×2
 * max-pool after the 2nd and 4th, then dense 1024 (ReLU) and dense `classes`.
 */
export function paperCnn(
  { inputShape = [1, 28, 28], classes = 10, seed = 0 }: PaperCnnOptions = {},
): Model {
  const model = cnn({
    inputShape,
    classes,
    channels: [64, 64, 64, 64],
    kernel: 3,
    poolEvery: 2,
    dense: [1024],
    seed,
  });
  model.graph.name = "paper-cnn";
  return model;
}
