import type { AttrInput } from "../../src/onnx/builder.ts";
import { opCase, type Operand, type RuleCase } from "./case.ts";

/** Keeps the declared symbolic dims through the transforms (no concrete inputShapes). */
const symbolic = (c: RuleCase): RuleCase => ({ ...c, inputShapes: {} });

interface Spec {
  label: string;
  x: number[];
  w: number[];
  /** Bias length (omitted: no bias). */
  bias?: number;
  attrs?: Record<string, AttrInput>;
  tangents?: number;
  opset?: number;
  /** x as a graph input with these declared dims (symbolic batch). */
  declared?: (number | string)[];
  /** Operands that are fixed (not differentiated). */
  fixed?: string[];
}

function convCase(op: string, s: Spec): RuleCase {
  const kind = (name: string) => (s.fixed?.includes(name) ? "const" as const : undefined);
  const operands: Operand[] = [
    s.declared
      ? { name: "x", shape: s.x, kind: "input", declared: s.declared }
      : { name: "x", shape: s.x, kind: kind("x") },
    { name: "w", shape: s.w, kind: kind("w") },
    ...(s.bias ? [{ name: "b", shape: [s.bias], kind: kind("b") }] : []),
  ];
  const c = opCase({
    op,
    label: s.label,
    operands,
    attrs: s.attrs,
    tangents: s.tangents,
    opset: s.opset,
  });
  return s.declared ? symbolic(c) : c;
}

const CONV: Spec[] = [
  { label: "2-D, no bias, K=1", x: [1, 2, 5, 6], w: [3, 2, 3, 2], tangents: 1 },
  {
    label: "strides, asymmetric pads, dilations, bias, odd sizes, K=3",
    x: [2, 2, 7, 6],
    w: [3, 2, 3, 2],
    bias: 3,
    attrs: { strides: [2, 3], pads: [1, 0, 2, 1], dilations: [2, 1] },
    tangents: 3,
  },
  {
    label: "group 2, stride 2 not dividing",
    x: [2, 4, 7, 5],
    w: [6, 2, 2, 3],
    bias: 6,
    attrs: { group: 2, strides: [2, 2] },
  },
  {
    label: "depthwise (group = channels), K=3",
    x: [1, 3, 5, 4],
    w: [3, 1, 3, 2],
    attrs: { group: 3, pads: [1, 1, 1, 1] },
    tangents: 3,
  },
  {
    label: "group 2 with channel multiplier and dilation",
    x: [1, 2, 6, 6],
    w: [4, 1, 2, 2],
    bias: 4,
    attrs: { group: 2, dilations: [2, 3], strides: [1, 2] },
  },
  {
    label: "auto_pad SAME_UPPER, odd total pad",
    x: [1, 2, 7, 6],
    w: [3, 2, 2, 3],
    bias: 3,
    attrs: { auto_pad: "SAME_UPPER", strides: [2, 3] },
  },
  {
    label: "auto_pad SAME_LOWER, odd total pad",
    x: [1, 2, 6, 5],
    w: [3, 2, 4, 2],
    attrs: { auto_pad: "SAME_LOWER", strides: [1, 2] },
  },
  {
    label: "auto_pad VALID with strides",
    x: [2, 2, 7, 6],
    w: [3, 2, 2, 3],
    attrs: { auto_pad: "VALID", strides: [2, 2] },
  },
  {
    label: "kernel_shape attribute, 1×1 kernel, stride 3",
    x: [1, 3, 7, 5],
    w: [2, 3, 1, 1],
    attrs: { kernel_shape: [1, 1], strides: [3, 3] },
  },
  {
    label: "1-D with pads and stride",
    x: [2, 3, 7],
    w: [4, 3, 3],
    bias: 4,
    attrs: { strides: [2], pads: [1, 2] },
  },
  {
    label: "3-D",
    x: [1, 2, 4, 5, 3],
    w: [2, 2, 2, 3, 2],
    bias: 2,
    attrs: { strides: [1, 2, 1], pads: [0, 1, 1, 1, 0, 0] },
  },
  {
    label: "symbolic batch input [N,2,5,6], K=3",
    x: [3, 2, 5, 6],
    w: [3, 2, 3, 3],
    bias: 3,
    declared: ["N", 2, 5, 6],
    attrs: { strides: [2, 2], pads: [1, 1, 1, 1] },
    tangents: 3,
  },
  {
    label: "symbolic batch input, batch 1, group 2",
    x: [1, 4, 5, 5],
    w: [2, 2, 3, 3],
    declared: ["N", 4, 5, 5],
    attrs: { group: 2 },
  },
  {
    label: "only the weight differentiated, opset 9 (stride crop)",
    x: [1, 1, 5, 5],
    w: [2, 1, 2, 2],
    attrs: { strides: [2, 2] },
    fixed: ["x"],
    opset: 9,
  },
  {
    label: "only the input differentiated, opset 11",
    x: [2, 2, 5, 4],
    w: [2, 2, 3, 3],
    bias: 2,
    attrs: { pads: [1, 1, 1, 1] },
    fixed: ["w", "b"],
    opset: 11,
  },
  {
    label: "only the bias differentiated",
    x: [1, 2, 4, 4],
    w: [3, 2, 2, 2],
    bias: 3,
    fixed: ["x", "w"],
  },
];

const CONV_TRANSPOSE: Spec[] = [
  { label: "2-D, no bias, K=1", x: [1, 2, 3, 4], w: [2, 3, 3, 2], tangents: 1 },
  {
    label: "strides, pads, dilations, output_padding, bias, K=3",
    x: [2, 2, 3, 4],
    w: [2, 3, 3, 2],
    bias: 3,
    attrs: { strides: [2, 3], pads: [1, 0, 0, 2], dilations: [1, 2], output_padding: [1, 2] },
    tangents: 3,
  },
  {
    label: "group 2",
    x: [1, 4, 3, 3],
    w: [4, 2, 2, 3],
    bias: 4,
    attrs: { group: 2, strides: [2, 1] },
  },
  {
    label: "output_shape with an odd total pad",
    x: [1, 2, 3, 4],
    w: [2, 3, 3, 2],
    attrs: { output_shape: [6, 8], strides: [2, 2] },
  },
  {
    label: "auto_pad SAME_UPPER",
    x: [1, 2, 3, 4],
    w: [2, 3, 3, 2],
    bias: 3,
    attrs: { auto_pad: "SAME_UPPER", strides: [2, 2] },
  },
  {
    label: "auto_pad SAME_LOWER",
    x: [1, 2, 3, 4],
    w: [2, 3, 2, 3],
    attrs: { auto_pad: "SAME_LOWER", strides: [2, 2] },
  },
  {
    label: "auto_pad VALID",
    x: [1, 2, 3, 4],
    w: [2, 3, 2, 3],
    attrs: { auto_pad: "VALID", strides: [2, 2] },
  },
  {
    label: "1-D",
    x: [2, 3, 5],
    w: [3, 2, 3],
    bias: 2,
    attrs: { strides: [2], pads: [1, 0], output_padding: [1] },
  },
  {
    label: "3-D",
    x: [1, 2, 2, 3, 2],
    w: [2, 2, 2, 2, 3],
    bias: 2,
    attrs: { strides: [2, 1, 2], pads: [0, 1, 0, 1, 0, 1] },
  },
  {
    label: "symbolic batch input, group 2, K=3",
    x: [2, 4, 3, 3],
    w: [4, 1, 3, 2],
    bias: 2,
    declared: ["N", 4, 3, 3],
    attrs: { group: 2, strides: [2, 2], output_padding: [1, 0] },
    tangents: 3,
  },
  {
    label: "only the weight differentiated, opset 9 (crop)",
    x: [1, 2, 3, 3],
    w: [2, 1, 2, 2],
    attrs: { strides: [2, 2], output_padding: [1, 1] },
    fixed: ["x"],
    opset: 9,
  },
];

export const convCases: RuleCase[] = [
  ...CONV.map((s) => convCase("Conv", s)),
  ...CONV_TRANSPOSE.map((s) => convCase("ConvTranspose", s)),
];
