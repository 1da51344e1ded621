import { normals } from "../../src/ad/check/check_grads.ts";
import { emptyGraph, float, GraphBuilder } from "../../src/onnx/builder.ts";
import { withLoss } from "../../src/onnx/models/loss.ts";
import { floatTensor, int64Tensor } from "../../src/onnx/tensor.ts";
import type { Model } from "../../src/onnx/types.ts";
import { opCase, type RuleCase } from "./case.ts";
import { rewire } from "./normalization_cases.ts";

const axes = (values: number[]) => ({
  name: "axes",
  shape: [values.length],
  kind: "const" as const,
  value: int64Tensor([values.length], values),
});

// Normal draws: ties in a max have probability zero, so the cases are tie-free.
const reduceMax: RuleCase[] = [
  opCase({
    op: "ReduceMax",
    label: "opset 13, axes [1] attribute, keepdims 0",
    operands: [{ name: "x", shape: [2, 3, 4] }],
    attrs: { axes: [1], keepdims: 0 },
    opset: 13,
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 13, axes [0, -1], keepdims 1",
    operands: [{ name: "x", shape: [2, 3, 4] }],
    attrs: { axes: [0, -1] },
    opset: 13,
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 11, all axes (no attribute), K=1",
    operands: [{ name: "x", shape: [3, 2] }],
    attrs: { keepdims: 0 },
    opset: 11,
    tangents: 1,
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 8, axes [-2] attribute",
    operands: [{ name: "x", shape: [3, 2] }],
    attrs: { axes: [-2] },
    opset: 8,
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 18, axes input [-1], keepdims 0",
    operands: [{ name: "x", shape: [2, 3, 4] }, axes([-1])],
    attrs: { keepdims: 0 },
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 18, axes input [0, 2] on [1,3,1]",
    operands: [{ name: "x", shape: [1, 3, 1] }, axes([0, 2])],
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 18, no axes: all",
    operands: [{ name: "x", shape: [2, 3] }],
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 18, noop_with_empty_axes",
    operands: [{ name: "x", shape: [2, 3] }],
    attrs: { noop_with_empty_axes: 1 },
  }),
  opCase({
    op: "ReduceMax",
    label: "opset 18, symbolic batch input [N,4], axes [1], K=3",
    operands: [{ name: "x", shape: [3, 4], kind: "input", declared: ["N", 4] }, axes([1])],
    tangents: 3,
  }),
];

const bound = (name: string, v: number, kind: "const" | "param" = "const") => ({
  name,
  shape: [],
  kind,
  value: floatTensor([], [v]),
});

// Bounds ±0.5 against N(0, 1) draws: both sides of each bound are hit, none within the FD step.
const clip: RuleCase[] = [
  opCase({
    op: "Clip",
    label: "opset 10, min and max attributes",
    operands: [{ name: "x", shape: [3, 4] }],
    attrs: { min: float(-0.5), max: float(0.5) },
    opset: 10,
  }),
  opCase({
    op: "Clip",
    label: "opset 9, min attribute only, K=1",
    operands: [{ name: "x", shape: [2, 1, 3] }],
    attrs: { min: float(-0.5) },
    opset: 9,
    tangents: 1,
  }),
  opCase({
    op: "Clip",
    label: "opset 11, no bounds (identity)",
    operands: [{ name: "x", shape: [2, 3] }],
    opset: 11,
  }),
  opCase({
    op: "Clip",
    label: "opset 11, constant min and max inputs",
    operands: [{ name: "x", shape: [3, 4] }, bound("lo", -0.5), bound("hi", 0.5)],
    opset: 11,
  }),
  opCase({
    op: "Clip",
    label: "opset 13, min input only",
    operands: [{ name: "x", shape: [3, 4] }, bound("lo", -0.5)],
    opset: 13,
  }),
  rewire(
    opCase({
      op: "Clip",
      label: 'opset 13, max input only (min omitted as "")',
      operands: [{ name: "x", shape: [3, 4] }, bound("hi", 0.5)],
      opset: 13,
    }),
    ["x", "", "hi"],
  ),
  opCase({
    op: "Clip",
    label: "opset 13, differentiated min and max, K=3",
    operands: [
      { name: "x", shape: [2, 3, 4] },
      bound("lo", -0.5, "param"),
      bound("hi", 0.5, "param"),
    ],
    opset: 13,
    tangents: 3,
  }),
  opCase({
    op: "Clip",
    label: "opset 13, min > max: every value is max, differentiated bounds",
    operands: [{ name: "x", shape: [2, 3] }, bound("lo", 0.5, "param"), bound("hi", -0.5, "param")],
    opset: 13,
  }),
  opCase({
    op: "Clip",
    label: "opset 18, symbolic batch input [N,5], K=3",
    operands: [
      { name: "x", shape: [2, 5], kind: "input", declared: ["N", 5] },
      bound("lo", -0.5),
      bound("hi", 0.5),
    ],
    tangents: 3,
  }),
];

const gelu = (approximate: "none" | "tanh"): RuleCase[] => [
  opCase({
    op: "Gelu",
    label: `opset 20, approximate ${approximate}, [2,3,4]`,
    operands: [{ name: "x", shape: [2, 3, 4] }],
    attrs: { approximate },
    opset: 20,
  }),
  opCase({
    op: "Gelu",
    label: `opset 20, approximate ${approximate}, symbolic batch [N,1,3], K=1`,
    operands: [{ name: "x", shape: [2, 1, 3], kind: "input", declared: ["N", 1, 3] }],
    attrs: { approximate },
    opset: 20,
    tangents: 1,
  }),
];

/** Gelu as older exporters write it: x·0.5·(1 + Erf(x/√2)). */
function decomposedGelu(): Model {
  const g = emptyGraph("decomposed_gelu");
  g.initializers.set("x", floatTensor([2, 3], normals(6, 7)));
  const b = new GraphBuilder(g);
  const s = (v: number) => b.constant(floatTensor([], [v]), "c");
  const e = b.op("Erf", [b.op("Div", ["x", s(Math.SQRT2)])]);
  const half = b.op("Mul", [b.op("Mul", ["x", s(0.5)]), b.op("Add", [e, s(1)])]);
  b.node("Identity", [half], {}, { outputs: ["y"] });
  g.outputs.push({ name: "y", dtype: "float32" });
  return { irVersion: 8, opsets: { "": 13 }, producerName: "test", graph: g };
}

/** A tiny logits model, logits = x·w + b (elementwise), with the models' cross-entropy loss. */
function tinyClassifier(opset: number): Model {
  const g = emptyGraph("tiny");
  g.inputs.push({ name: "x", dtype: "float32", shape: ["N", 3] });
  g.initializers.set("w", floatTensor([3], normals(3, 11)));
  g.initializers.set("b", floatTensor([3], normals(3, 12)));
  const b = new GraphBuilder(g);
  b.node("Add", [b.op("Mul", ["x", "w"]), "b"], {}, { outputs: ["logits"] });
  g.outputs.push({ name: "logits", dtype: "float32", shape: ["N", 3] });
  return withLoss({ irVersion: 8, opsets: { "": opset }, producerName: "test", graph: g });
}

function oneHot(labels: number[], classes: number) {
  const data = new Float32Array(labels.length * classes);
  labels.forEach((c, i) => (data[i * classes + c] = 1));
  return { dtype: "float32" as const, dims: [labels.length, classes], data };
}

const lossGraphs: RuleCase[] = [
  {
    op: "LogSoftmax",
    label: "softmax cross-entropy (withLoss) on a tiny classifier, opset 13, K=3",
    model: () => tinyClassifier(13),
    wrt: ["w", "b", "x"],
    tangents: 3,
    inputs: {
      x: { dtype: "float32", dims: [4, 3], data: normals(12, 13) },
      labels: oneHot([0, 2, 1, 2], 3),
    },
  },
  {
    op: "LogSoftmax",
    label: "softmax cross-entropy (withLoss), opset 18, batch 1, K=1",
    model: () => tinyClassifier(18),
    wrt: ["w", "b"],
    tangents: 1,
    inputs: { x: { dtype: "float32", dims: [1, 3], data: normals(3, 14) }, labels: oneHot([1], 3) },
  },
  { op: "Erf", label: "decomposed Gelu x·0.5·(1 + Erf(x/√2))", model: decomposedGelu, tangents: 2 },
];

export const lossCases: RuleCase[] = [
  ...reduceMax,
  ...clip,
  ...gelu("none"),
  ...gelu("tanh"),
  ...lossGraphs,
];
