import { float } from "../../src/onnx/builder.ts";
import { opCase, type Operand, type RuleCase } from "./case.ts";

/** Keeps the declared symbolic dims through the transforms (no concrete inputShapes). */
const symbolic = (c: RuleCase): RuleCase => ({ ...c, inputShapes: {} });

const p = (name: string, shape: number[]): Operand => ({ name, shape });

/** Numpy matmul shapes: vectors on either side, batch broadcasting from 2-D up to 4-D. */
const MATMUL: [string, Operand[], number?][] = [
  ["[2,3]×[3,4]", [p("a", [2, 3]), p("b", [3, 4])]],
  ["[2,3]×[3,4], K=1", [p("a", [2, 3]), p("b", [3, 4])], 1],
  ["batch 1: [1,3]×[3,1]", [p("a", [1, 3]), p("b", [3, 1])]],
  ["vector × matrix [3]×[3,4]", [p("a", [3]), p("b", [3, 4])]],
  ["matrix × vector [2,3]×[3], K=3", [p("a", [2, 3]), p("b", [3])], 3],
  ["vector × vector [3]×[3]", [p("a", [3]), p("b", [3])]],
  ["vector × batch [3]×[2,3,4]", [p("a", [3]), p("b", [2, 3, 4])]],
  ["batch × vector [2,2,3]×[3]", [p("a", [2, 2, 3]), p("b", [3])]],
  ["[N,I]×[K,I,O] with N=2", [p("a", [2, 3]), p("b", [4, 3, 2])], 3],
  ["[2,1,3,4]×[5,4,2]", [p("a", [2, 1, 3, 4]), p("b", [5, 4, 2])]],
  ["[3,4]×[2,1,4,5]", [p("a", [3, 4]), p("b", [2, 1, 4, 5])], 1],
  ["size-1 batch both sides [2,1,2,3]×[1,3,3,2]", [p("a", [2, 1, 2, 3]), p("b", [1, 3, 3, 2])]],
];

const matmul: RuleCase[] = [
  ...MATMUL.map(([label, operands, tangents]) =>
    opCase({ op: "MatMul", label, operands, tangents })
  ),
  symbolic(opCase({
    op: "MatMul",
    label: "symbolic batch input [N,2,3]×[3,4], K=3",
    operands: [
      { name: "a", shape: [3, 2, 3], kind: "input", declared: ["N", 2, 3] },
      p("b", [3, 4]),
    ],
    tangents: 3,
  })),
  symbolic(opCase({
    op: "MatMul",
    label: "symbolic batch input [N,3] against a batch of weights [4,3,2]",
    operands: [{ name: "a", shape: [2, 3], kind: "input", declared: ["N", 3] }, p("b", [4, 3, 2])],
  })),
  symbolic(opCase({
    op: "MatMul",
    label: "symbolic batch on the right [3]×[N,3,2]",
    operands: [p("a", [3]), { name: "b", shape: [2, 3, 2], kind: "input", declared: ["N", 3, 2] }],
  })),
  opCase({
    op: "MatMul",
    label: "only the right operand differentiated",
    operands: [{ name: "a", shape: [2, 2, 3], kind: "const" }, p("b", [3, 4])],
  }),
  opCase({
    op: "MatMul",
    label: "only the left operand differentiated, opset 9",
    operands: [p("a", [3]), { name: "b", shape: [2, 3, 2], kind: "const" }],
    opset: 9,
  }),
];

const ab = (a: number[], b: number[]): Operand[] => [p("a", a), p("b", b)];

const gemm: RuleCase[] = [
  opCase({ op: "Gemm", label: "no C (opset 11+)", operands: ab([2, 3], [3, 4]), opset: 11 }),
  opCase({
    op: "Gemm",
    label: "no C, K=1, opset 21",
    operands: ab([2, 3], [3, 4]),
    opset: 21,
    tangents: 1,
  }),
  ...([[], [4], [1, 4], [2, 1], [2, 4]] as number[][]).map((c) =>
    opCase({ op: "Gemm", label: `C [${c}]`, operands: [...ab([2, 3], [3, 4]), p("c", c)] })
  ),
  opCase({
    op: "Gemm",
    label: "transA, alpha 0.5, beta 2, K=3",
    operands: [...ab([3, 2], [3, 4]), p("c", [4])],
    attrs: { transA: 1, alpha: float(0.5), beta: float(2) },
    tangents: 3,
  }),
  opCase({
    op: "Gemm",
    label: "transB, C [2,1]",
    operands: [...ab([2, 3], [4, 3]), p("c", [2, 1])],
    attrs: { transB: 1 },
  }),
  opCase({
    op: "Gemm",
    label: "transA and transB, alpha 2 beta 0.25",
    operands: [...ab([3, 2], [4, 3]), p("c", [2, 4])],
    attrs: { transA: 1, transB: 1, alpha: float(2), beta: float(0.25) },
  }),
  opCase({
    op: "Gemm",
    label: "opset 7: C required, [M,N]",
    operands: [...ab([2, 3], [3, 4]), p("c", [2, 4])],
    opset: 7,
  }),
  opCase({
    op: "Gemm",
    label: "opset 9: C broadcast [N], transB",
    operands: [...ab([2, 3], [4, 3]), p("c", [4])],
    attrs: { transB: 1 },
    opset: 9,
  }),
  symbolic(opCase({
    op: "Gemm",
    label: "symbolic batch input [N,3] (a linear layer), K=3",
    operands: [
      { name: "a", shape: [3, 3], kind: "input", declared: ["N", 3] },
      p("b", [4, 3]),
      p("c", [4]),
    ],
    attrs: { transB: 1 },
    tangents: 3,
  })),
  symbolic(opCase({
    op: "Gemm",
    label: "symbolic M with transA: A [3,M], C [1,4]",
    operands: [
      { name: "a", shape: [3, 2], kind: "input", declared: [3, "M"] },
      p("b", [3, 4]),
      p("c", [1, 4]),
    ],
    attrs: { transA: 1 },
  })),
  opCase({
    op: "Gemm",
    label: "batch 1, only B and C differentiated",
    operands: [{ name: "a", shape: [1, 3], kind: "const" }, p("b", [3, 2]), p("c", [1, 2])],
  }),
  opCase({
    op: "Gemm",
    label: "only C differentiated, scalar C broadcast",
    operands: [{ name: "a", shape: [2, 3], kind: "const" }, {
      name: "b",
      shape: [3, 2],
      kind: "const",
    }, p("c", [])],
    attrs: { beta: float(1.5) },
  }),
];

export const matmulCases: RuleCase[] = [...matmul, ...gemm];
