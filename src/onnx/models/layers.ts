/**
 * Building blocks shared by the built-in models. Each layer adds its parameters as float32
 * initializers named `<layer>.weight` / `<layer>.bias` (PyTorch's names, so checkpoints and
 * reports read the same) and its node under the layer's name.
 */
import { UserError } from "../../errors.ts";
import { emptyGraph, float, GraphBuilder } from "../builder.ts";
import type { Model, Tensor } from "../types.ts";
import { layerInit } from "./init.ts";

/** Activation functions the MLP offers, each one ONNX op. */
export const ACTIVATIONS = ["relu", "tanh", "sigmoid", "leaky_relu", "elu", "softplus"] as const;
export type Activation = typeof ACTIVATIONS[number];

/** Opset and IR version of every built-in model. */
export const OPSET = 18;
export const IR_VERSION = 8;

/** A builder plus the seed its layers draw their initial values from. */
export interface Net {
  b: GraphBuilder;
  seed: number;
}

function param(net: Net, name: string, t: Tensor): string {
  // Parameter names are API (checkpoints, reports): never let NameGen rename one silently.
  const got = net.b.constant(t, name);
  if (got !== name) throw new Error(`parameter name "${name}" is already used in the graph`);
  return got;
}

/** `x·Wᵀ + b` as PyTorch's Linear: Gemm with transB=1 and weight [out, in]. */
export function dense(
  net: Net,
  layer: string,
  x: string,
  inFeatures: number,
  outFeatures: number,
  output?: string,
): string {
  const { weight, bias } = layerInit(layer, [outFeatures, inFeatures], inFeatures, net.seed);
  const w = param(net, `${layer}.weight`, weight);
  const bias_ = param(net, `${layer}.bias`, bias);
  const outputs = output ? [output] : undefined;
  return net.b.node("Gemm", [x, w, bias_], { transB: 1 }, { name: layer, outputs })[0];
}

/** Square-kernel 2-D convolution, stride 1, "same" padding (pads ⌊k/2⌋; 1 for k = 3). */
export function conv2d(
  net: Net,
  layer: string,
  x: string,
  inChannels: number,
  outChannels: number,
  kernel: number,
): string {
  const dims = [outChannels, inChannels, kernel, kernel];
  const { weight, bias } = layerInit(layer, dims, inChannels * kernel * kernel, net.seed);
  const w = param(net, `${layer}.weight`, weight);
  const bias_ = param(net, `${layer}.bias`, bias);
  const p = Math.floor(kernel / 2);
  const attrs = { kernel_shape: [kernel, kernel], pads: [p, p, p, p], strides: [1, 1] };
  return net.b.op("Conv", [x, w, bias_], attrs, layer);
}

/** Output side length of `conv2d` for an input side `n`. */
export function convOutSize(n: number, kernel: number): number {
  return n + 2 * Math.floor(kernel / 2) - kernel + 1;
}

/** 2×2 max-pool with stride 2: halves height and width (rounding down). */
export function maxPool2(net: Net, x: string): string {
  return net.b.op("MaxPool", [x], { kernel_shape: [2, 2], strides: [2, 2] });
}

/** [batch, ...] → [batch, product(...)]. */
export function flatten(net: Net, x: string): string {
  return net.b.op("Flatten", [x], { axis: 1 });
}

export function activation(net: Net, x: string, kind: Activation): string {
  switch (kind) {
    case "relu":
      return net.b.op("Relu", [x]);
    case "tanh":
      return net.b.op("Tanh", [x]);
    case "sigmoid":
      return net.b.op("Sigmoid", [x]);
    case "leaky_relu":
      // PyTorch's slope, rounded to float32 as ONNX stores it so the IR round-trips exactly.
      return net.b.op("LeakyRelu", [x], { alpha: float(Math.fround(0.01)) });
    case "elu":
      return net.b.op("Elu", [x], { alpha: float(1) });
    case "softplus":
      return net.b.op("Softplus", [x]);
  }
}

/**
 * A classifier model: graph input `x` [batch, ...inputShape], output `logits`
 * [batch, classes]. `body` builds the layers from `x` and must return "logits".
 */
export function classifier(
  name: string,
  inputShape: readonly number[],
  classes: number,
  seed: number,
  body: (net: Net, x: string) => string,
): Model {
  checkShape(name, inputShape, classes);
  const graph = emptyGraph(name);
  graph.inputs.push({ name: "x", dtype: "float32", shape: ["batch", ...inputShape] });
  graph.outputs.push({ name: "logits", dtype: "float32", shape: ["batch", classes] });
  const out = body({ b: new GraphBuilder(graph), seed }, "x");
  if (out !== "logits") throw new Error(`${name}: body returned "${out}", not "logits"`);
  return { irVersion: IR_VERSION, opsets: { "": OPSET }, producerName: "fwdgrad", graph };
}

function checkShape(name: string, inputShape: readonly number[], classes: number): void {
  const positive = (n: number) => Number.isInteger(n) && n > 0;
  if (inputShape.length === 0 || !inputShape.every(positive)) {
    throw new UserError(`${name}: inputShape must be positive integers, got [${inputShape}]`);
  }
  if (!positive(classes)) throw new UserError(`${name}: classes must be a positive integer`);
}

/** Number of features after flattening `inputShape`. */
export function featureCount(inputShape: readonly number[]): number {
  return inputShape.reduce((a, b) => a * b, 1);
}

/** Dense layers `dense1`, `dense2`, ... ending in `logits`; hidden layers get `act`. */
export function denseStack(
  net: Net,
  x: string,
  inFeatures: number,
  hidden: readonly number[],
  classes: number,
  act: Activation,
): string {
  let h = x;
  let width = inFeatures;
  hidden.forEach((size, i) => {
    h = activation(net, dense(net, `dense${i + 1}`, h, width, size), act);
    width = size;
  });
  return dense(net, `dense${hidden.length + 1}`, h, width, classes, "logits");
}
