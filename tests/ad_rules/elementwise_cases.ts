import { float } from "../../src/onnx/builder.ts";
import { opCase, type RuleCase } from "./case.ts";

/** Away from 0, so kinks (Relu, Abs) and poles (Log, Reciprocal) stay outside the FD step. */
const awayFromZero = (x: number) => Math.sign(x || 1) * (Math.abs(x) + 0.2);
const positive = (x: number) => Math.abs(x) + 0.3;

const unary = (op: string, shift?: (x: number) => number, attrs = {}): RuleCase[] => [
  opCase({ op, label: "[2,3]", operands: [{ name: "x", shape: [2, 3] }], shift, attrs }),
  opCase({ op, label: "scalar input", operands: [{ name: "x", shape: [] }], shift, attrs }),
  opCase({
    op,
    label: "graph input [1,5,1], K=3",
    operands: [{ name: "x", shape: [1, 5, 1], kind: "input", declared: ["N", 5, 1] }],
    shift,
    attrs,
    tangents: 3,
  }),
];

export const elementwiseCases: RuleCase[] = [
  ...unary("Neg"),
  ...unary("Identity"),
  ...unary("Relu", awayFromZero),
  ...unary("LeakyRelu", awayFromZero),
  ...unary("LeakyRelu", awayFromZero, { alpha: float(0.3) }),
  ...unary("Elu", awayFromZero),
  ...unary("Elu", awayFromZero, { alpha: float(0.7) }),
  ...unary("Sigmoid"),
  ...unary("Tanh"),
  ...unary("Softplus"),
  ...unary("Exp"),
  ...unary("Log", positive),
  ...unary("Reciprocal", awayFromZero),
  ...unary("Sqrt", positive),
  ...unary("Abs", awayFromZero),
  ...unary("Sin"),
  ...unary("Cos"),
  ...unary("Erf"),
  opCase({
    op: "Dropout",
    label: "inference mode, with mask output",
    operands: [{ name: "x", shape: [3, 2] }],
    outputs: 2,
    outputTypes: ["float32", "bool"],
  }),
  opCase({
    op: "Dropout",
    label: "opset 10 ratio attribute",
    operands: [{ name: "x", shape: [3, 2] }],
    opset: 10,
    attrs: { ratio: float(0.3) },
  }),
  opCase({
    op: "Cast",
    label: "float to float",
    operands: [{ name: "x", shape: [4] }],
    attrs: { to: 1 },
  }),
];
