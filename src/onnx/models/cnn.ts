import { UserError } from "../../errors.ts";
import type { Model } from "../types.ts";
import {
  activation,
  classifier,
  conv2d,
  convOutSize,
  denseStack,
  flatten,
  maxPool2,
} from "./layers.ts";

export interface CnnOptions {
  /** `[channels, height, width]`. */
  inputShape?: number[];
  classes?: number;
  /** Output channels of each conv layer. */
  channels?: number[];
  /** Square kernel side; padding keeps the size ("same", pads 1 for 3). */
  kernel?: number;
  /** A 2×2 max-pool follows every `poolEvery`-th conv layer. */
  poolEvery?: number;
  /** Hidden widths of the dense head (ReLU), before the final `classes` layer. */
  dense?: number[];
  seed?: number;
}

/**
 * Conv (ReLU) stack with periodic 2×2 max-pooling, then Flatten and a dense head. Layers are
 * `conv1` … and `dense1` …. The defaults are small on purpose: the forward pass of a batch of
 * 64 MNIST-sized images takes a few ms in onnxruntime-web on one core, and with no hidden dense
 * layer the model has 9k parameters rather than 52k (a forward gradient's cosine to the true
 * gradient shrinks like √(K/n), so a small n matters more to it than to backprop).
 */
export function cnn({
  inputShape = [1, 28, 28],
  classes = 10,
  channels = [8, 16],
  kernel = 3,
  poolEvery = 1,
  dense = [],
  seed = 0,
}: CnnOptions = {}): Model {
  if (inputShape.length !== 3) {
    throw new UserError(`cnn: inputShape must be [channels, height, width], got [${inputShape}]`);
  }
  return classifier("cnn", inputShape, classes, seed, (net, x) => {
    let [c, h, w] = inputShape;
    let y = x;
    channels.forEach((out, i) => {
      y = activation(net, conv2d(net, `conv${i + 1}`, y, c, out, kernel), "relu");
      [c, h, w] = [out, convOutSize(h, kernel), convOutSize(w, kernel)];
      if ((i + 1) % poolEvery === 0) {
        y = maxPool2(net, y);
        [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
      }
      if (h < 1 || w < 1) {
        throw new UserError(
          `cnn: a ${inputShape.join("×")} input shrinks to nothing at conv${i + 1}`,
        );
      }
    });
    return denseStack(net, flatten(net, y), c * h * w, dense, classes, "relu");
  });
}
