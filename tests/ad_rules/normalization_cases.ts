import { float } from "../../src/onnx/builder.ts";
import { floatTensor } from "../../src/onnx/tensor.ts";
import { opCase, type RuleCase } from "./case.ts";

/** A one-node case with its node's inputs/outputs renamed, e.g. "" for an omitted optional one. */
export function rewire(c: RuleCase, inputs?: string[], outputs?: string[]): RuleCase {
  return {
    ...c,
    model: () => {
      const m = c.model();
      const node = m.graph.nodes[0];
      if (inputs) node.inputs = inputs;
      if (outputs) {
        node.outputs = outputs;
        m.graph.outputs = m.graph.outputs.filter((o) => outputs.includes(o.name));
      }
      return m;
    },
  };
}

/** Softmax-family cases: axes 0, 1, -1 on rank 3 under both axis semantics, odd shapes, K. */
const softmax = (op: string): RuleCase[] => [
  // Opset ≥ 13: one axis, default -1.
  ...[0, 1, -1, -2].map((axis) =>
    opCase({
      op,
      label: `opset 13, axis ${axis} on [2,3,4]`,
      operands: [{ name: "x", shape: [2, 3, 4] }],
      attrs: { axis },
    })
  ),
  opCase({ op, label: "opset 13, default axis (-1)", operands: [{ name: "x", shape: [2, 3, 4] }] }),
  opCase({
    op,
    label: "opset 18, batch 1 with size-1 dims [1,1,3], axis 1, K=1",
    operands: [{ name: "x", shape: [1, 1, 3] }],
    attrs: { axis: 1 },
    tangents: 1,
  }),
  opCase({
    op,
    label: "opset 13, symbolic batch [N,3,2], axis -1, K=3",
    operands: [{ name: "x", shape: [2, 3, 2], kind: "input", declared: ["N", 3, 2] }],
    attrs: { axis: -1 },
    tangents: 3,
  }),
  // Opset < 13: coerced to 2-D at `axis` (default 1): normalises over every axis from it on.
  ...[0, 1, -1].map((axis) =>
    opCase({
      op,
      label: `opset 11, axis ${axis} on [2,3,4] (all trailing axes)`,
      operands: [{ name: "x", shape: [2, 3, 4] }],
      attrs: { axis },
      opset: 11,
    })
  ),
  opCase({
    op,
    label: "opset 11, default axis (1) on [2,3,4]",
    operands: [{ name: "x", shape: [2, 3, 4] }],
    opset: 11,
  }),
  opCase({
    op,
    label: "opset 7, default axis, batch 1 [1,4], K=1",
    operands: [{ name: "x", shape: [1, 4] }],
    opset: 7,
    tangents: 1,
  }),
  opCase({
    op,
    label: "opset 12, symbolic batch [N,2,3], axis 1, K=3",
    operands: [{ name: "x", shape: [3, 2, 3], kind: "input", declared: ["N", 2, 3] }],
    attrs: { axis: 1 },
    opset: 12,
    tangents: 3,
  }),
];

/** Per-channel [C] parameters of BatchNormalization; the variance is kept positive. */
const bnParams = (c: number) => [
  { name: "scale", shape: [c] },
  { name: "bias", shape: [c] },
  { name: "mean", shape: [c] },
  {
    name: "var",
    shape: [c],
    value: floatTensor([c], Array.from({ length: c }, (_, i) => 0.5 + 0.4 * i)),
  },
];

const batchNorm: RuleCase[] = [
  opCase({
    op: "BatchNormalization",
    label: "opset 15, [2,3,2,2], all five inputs differentiated",
    operands: [{ name: "x", shape: [2, 3, 2, 2] }, ...bnParams(3)],
    opset: 15,
  }),
  opCase({
    op: "BatchNormalization",
    label: "opset 14, [2,3] (no spatial axes), epsilon 0.1, training_mode 0",
    operands: [{ name: "x", shape: [2, 3] }, ...bnParams(3)],
    opset: 14,
    attrs: { epsilon: float(0.1), training_mode: 0 },
  }),
  opCase({
    op: "BatchNormalization",
    label: "opset 9, batch 1 [1,2,3], momentum, K=1",
    operands: [{ name: "x", shape: [1, 2, 3] }, ...bnParams(2)],
    opset: 9,
    attrs: { momentum: float(0.8) },
    tangents: 1,
  }),
  opCase({
    op: "BatchNormalization",
    label: "opset 7, spatial 1, [2,2,1,3]",
    operands: [{ name: "x", shape: [2, 2, 1, 3] }, ...bnParams(2)],
    opset: 7,
    attrs: { spatial: 1 },
  }),
  opCase({
    op: "BatchNormalization",
    label: "opset 15, symbolic batch input [N,3,2], constant statistics, K=3",
    operands: [
      { name: "x", shape: [2, 3, 2], kind: "input", declared: ["N", 3, 2] },
      { name: "scale", shape: [3] },
      { name: "bias", shape: [3] },
      { name: "mean", shape: [3], kind: "const" },
      { name: "var", shape: [3], kind: "const", value: floatTensor([3], [0.3, 1, 2]) },
    ],
    opset: 15,
    tangents: 3,
  }),
  opCase({
    op: "BatchNormalization",
    label: "opset 15, only the statistics differentiated",
    operands: [
      { name: "x", shape: [2, 2, 3], kind: "const" },
      { name: "scale", shape: [2], kind: "const" },
      { name: "bias", shape: [2], kind: "const" },
      { name: "mean", shape: [2] },
      { name: "var", shape: [2], value: floatTensor([2], [0.7, 1.3]) },
    ],
    opset: 15,
  }),
];

const ln = (shape: number[], axis: number) => [
  { name: "x", shape },
  { name: "scale", shape: shape.slice(axis < 0 ? axis + shape.length : axis) },
  { name: "bias", shape: shape.slice(axis < 0 ? axis + shape.length : axis) },
];

const layerNorm: RuleCase[] = [
  ...[0, 1, -1].map((axis) =>
    opCase({
      op: "LayerNormalization",
      label: `opset 17, axis ${axis} on [2,3,4]`,
      operands: ln([2, 3, 4], axis),
      attrs: { axis },
      opset: 17,
    })
  ),
  opCase({
    op: "LayerNormalization",
    label: "opset 17, default axis, no bias, epsilon 0.01",
    operands: ln([3, 4], -1).slice(0, 2),
    attrs: { epsilon: float(0.01) },
    opset: 17,
  }),
  opCase({
    op: "LayerNormalization",
    label: "opset 17, Mean and InvStdDev outputs, axis 1",
    operands: ln([2, 3, 2], 1),
    attrs: { axis: 1, stash_type: 1 },
    outputs: 3,
    opset: 17,
  }),
  rewire(
    opCase({
      op: "LayerNormalization",
      label: "opset 18, InvStdDev output without Mean, size-1 dim [2,1,4], K=1",
      operands: ln([2, 1, 4], -1),
      outputs: 3,
      opset: 18,
      tangents: 1,
    }),
    undefined,
    ["y0", "", "y2"],
  ),
  opCase({
    op: "LayerNormalization",
    label: "opset 18, batch 1 [1,5]",
    operands: ln([1, 5], -1),
    opset: 18,
  }),
  opCase({
    op: "LayerNormalization",
    label: "opset 17, symbolic batch input [N,2,3], axis -2, K=3",
    operands: [
      { name: "x", shape: [3, 2, 3], kind: "input", declared: ["N", 2, 3] },
      ...ln([2, 3], 0).slice(1),
    ],
    attrs: { axis: -2 },
    opset: 17,
    tangents: 3,
  }),
  opCase({
    op: "LayerNormalization",
    label: "opset 18, symbolic batch input [N,2] normalised with axis 0, all outputs",
    operands: [{ name: "x", shape: [3, 2], kind: "input", declared: ["N", 2] }, {
      name: "scale",
      shape: [3, 2],
    }],
    attrs: { axis: 0 },
    outputs: 3,
    opset: 18,
  }),
];

export const normalizationCases: RuleCase[] = [
  ...softmax("Softmax"),
  ...softmax("LogSoftmax"),
  ...batchNorm,
  ...layerNorm,
];
