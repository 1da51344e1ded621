import { int64Tensor } from "../../src/onnx/tensor.ts";
import { opCase, type RuleCase } from "./case.ts";

const axes = (values: number[]) => ({
  name: "axes",
  shape: [values.length],
  kind: "const" as const,
  value: int64Tensor([values.length], values),
});

const reduce = (op: string, axesSince: number): RuleCase[] => [
  opCase({
    op,
    label: "axes [1] keepdims 0",
    operands: [{ name: "x", shape: [2, 3, 4] }, axes([1])],
    attrs: { keepdims: 0 },
  }),
  opCase({
    op,
    label: "axes [-1, 0] keepdims 1",
    operands: [{ name: "x", shape: [2, 3, 4] }, axes([-1, 0])],
  }),
  opCase({
    op,
    label: "all axes (no axes input)",
    operands: [{ name: "x", shape: [2, 3] }],
    attrs: { keepdims: 0 },
  }),
  opCase({
    op,
    label: "noop_with_empty_axes",
    operands: [{ name: "x", shape: [2, 3] }],
    attrs: { noop_with_empty_axes: 1 },
  }),
  opCase({
    op,
    label: `axes attribute (opset ${axesSince - 1})`,
    operands: [{ name: "x", shape: [3, 1, 2] }],
    attrs: { axes: [0, 2], keepdims: 0 },
    opset: axesSince - 1,
  }),
  opCase({
    op,
    label: "symbolic batch input, K=4",
    operands: [{ name: "x", shape: [3, 2], kind: "input", declared: ["N", 2] }, axes([0])],
    tangents: 4,
  }),
];

export const reduceCases: RuleCase[] = [...reduce("ReduceSum", 13), ...reduce("ReduceMean", 18)];
