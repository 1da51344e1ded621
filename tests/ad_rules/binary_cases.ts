import { floatTensor } from "../../src/onnx/tensor.ts";
import { opCase, type RuleCase } from "./case.ts";

const awayFromZero = (x: number) => Math.sign(x || 1) * (Math.abs(x) + 0.5);

/** Shape pairs covering equal shapes, numpy broadcasting both ways, size-1 dims and scalars. */
const PAIRS: [number[], number[]][] = [
  [[2, 3], [2, 3]],
  [[2, 3], [3]],
  [[4], [3, 1]],
  [[2, 1, 3], [5, 1]],
  [[], [2, 2]],
  [[1, 1], [1]],
];

const binary = (op: string, shift?: (x: number) => number): RuleCase[] => [
  ...PAIRS.map(([a, c]) =>
    opCase({
      op,
      label: `[${a}] with [${c}]`,
      operands: [{ name: "a", shape: a }, { name: "c", shape: c }],
      shift,
    })
  ),
  opCase({
    op,
    label: "input [N,3] with bias [3], K=3",
    operands: [{ name: "a", shape: [2, 3], kind: "input", declared: ["N", 3] }, {
      name: "c",
      shape: [3],
    }],
    shift,
    tangents: 3,
  }),
  opCase({
    op,
    label: "only the second operand differentiated",
    operands: [{ name: "a", shape: [2, 3], kind: "const" }, { name: "c", shape: [3] }],
    shift,
  }),
  opCase({
    op,
    label: "only the first operand differentiated",
    operands: [{ name: "a", shape: [3] }, { name: "c", shape: [2, 3], kind: "const" }],
    shift,
  }),
];

/** Opset 7 has no Expand or ConstantOfShape: one-sided broadcasting takes another path. */
const legacy = (op: string): RuleCase[] => [
  opCase({
    op,
    label: "opset 7, only a broadcast operand differentiated",
    operands: [{ name: "a", shape: [3] }, { name: "c", shape: [2, 3], kind: "const" }],
    opset: 7,
    shift: awayFromZero,
  }),
];

export const binaryCases: RuleCase[] = [
  ...legacy("Add"),
  ...legacy("Mul"),
  ...binary("Add"),
  ...binary("Sub"),
  ...binary("Mul"),
  ...binary("Div", awayFromZero),
  opCase({
    op: "Pow",
    label: "constant scalar exponent 3",
    operands: [{ name: "x", shape: [2, 3] }, {
      name: "p",
      shape: [],
      kind: "const",
      value: floatTensor([], [3]),
    }],
  }),
  opCase({
    op: "Pow",
    label: "constant exponent 0.5 on positive values, broadcast [3]",
    operands: [{ name: "x", shape: [2, 3] }, {
      name: "p",
      shape: [3],
      kind: "const",
      value: floatTensor([3], [0.5, 1.5, 2]),
    }],
    shift: (x) => Math.abs(x) + 0.5,
  }),
  opCase({
    op: "Where",
    label: "both branches, broadcast condition",
    operands: [
      {
        name: "cond",
        shape: [3],
        kind: "const",
        value: { dtype: "bool", dims: [3], data: Uint8Array.of(1, 0, 1) },
      },
      { name: "a", shape: [2, 3] },
      { name: "c", shape: [1] },
    ],
  }),
];
