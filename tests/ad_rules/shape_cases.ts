import { emptyGraph, float, GraphBuilder } from "../../src/onnx/builder.ts";
import { int64Tensor } from "../../src/onnx/tensor.ts";
import type { Dim, Tensor } from "../../src/onnx/types.ts";
import { ruleFor } from "../../src/ad/table.ts";
import { opCase, type Operand, type RuleCase } from "./case.ts";

/** A constant int64 operand (axes, shapes, indices, pads, ...). */
const ints = (name: string, values: number[], dims = [values.length]): Operand => ({
  name,
  shape: dims,
  kind: "const",
  value: int64Tensor(dims, values),
});
/** Int64 extremes as ONNX exporters write them ("to the end" of a Slice). */
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const bigInts = (name: string, values: bigint[]): Operand => ({
  name,
  shape: [values.length],
  kind: "const",
  value: { dtype: "int64", dims: [values.length], data: BigInt64Array.from(values) },
});
const x = (shape: number[]): Operand => ({ name: "x", shape });
/** A differentiated graph input with a symbolic batch dim. */
const batch = (shape: number[], declared: Dim[]): Operand => ({
  name: "x",
  shape,
  kind: "input",
  declared,
});

/**
 * A hand-built multi-node model: `build` adds nodes reading the float input "x" (shape
 * `declared`, fed with `shape`) and the parameter "w", and returns the graph outputs.
 */
function graphCase(spec: {
  op: string;
  label: string;
  opset: number;
  shape: number[];
  declared: Dim[];
  w: number[];
  tangents?: number;
  build: (b: GraphBuilder) => string[];
}): RuleCase {
  return {
    op: spec.op,
    label: spec.label,
    tangents: spec.tangents ?? 2,
    inputShapes: { x: spec.shape },
    wrt: ["x", "w"],
    model: () => {
      const g = emptyGraph(spec.op);
      const b = new GraphBuilder(g);
      g.inputs.push({ name: "x", dtype: "float32", shape: spec.declared });
      const n = spec.w.reduce((a, c) => a * c, 1);
      const w: Tensor = {
        dtype: "float32",
        dims: spec.w,
        data: Float32Array.from({ length: n }, (_, i) => Math.sin(i + 1)),
      };
      g.initializers.set("w", w);
      for (const y of spec.build(b)) g.outputs.push({ name: y, dtype: "float32" });
      return { irVersion: 8, opsets: { "": spec.opset }, producerName: "test", graph: g };
    },
  };
}

const flattenCases: RuleCase[] = [
  opCase({ op: "Flatten", label: "default axis 1 on [2,3,4]", operands: [x([2, 3, 4])] }),
  opCase({
    op: "Flatten",
    label: "axis 0 → [1, 24]",
    operands: [x([2, 3, 4])],
    attrs: { axis: 0 },
  }),
  opCase({
    op: "Flatten",
    label: "negative axis -1 (opset 13)",
    operands: [x([2, 3, 4])],
    attrs: { axis: -1 },
    opset: 13,
  }),
  opCase({
    op: "Flatten",
    label: "axis = rank → [24, 1]",
    operands: [x([2, 3, 4])],
    attrs: { axis: 3 },
  }),
  opCase({
    op: "Flatten",
    label: "symbolic batch [N,3,2], axis 2, K=3",
    operands: [batch([2, 3, 2], ["N", 3, 2])],
    attrs: { axis: 2 },
    tangents: 3,
  }),
  opCase({
    op: "Flatten",
    label: "batch 1 [1,4], K=1",
    operands: [x([1, 4])],
    tangents: 1,
    opset: 9,
  }),
];

const reshapeCases: RuleCase[] = [
  opCase({
    op: "Reshape",
    label: "[2,3,2] → [3,-1]",
    operands: [x([2, 3, 2]), ints("s", [3, -1])],
  }),
  opCase({
    op: "Reshape",
    label: "0 copies a dim: [0,-1]",
    operands: [x([2, 3, 4]), ints("s", [0, -1])],
  }),
  opCase({
    op: "Reshape",
    label: "0 in the middle: [2,3,4] → [4,0,2] (opset 7)",
    operands: [x([2, 3, 4]), ints("s", [4, 0, 2])],
    opset: 7,
  }),
  opCase({
    op: "Reshape",
    label: "allowzero 1 without zeros (opset 14)",
    operands: [x([2, 6]), ints("s", [3, 2, 2])],
    attrs: { allowzero: 1 },
    opset: 14,
  }),
  opCase({
    op: "Reshape",
    label: "symbolic batch [N,3,4] → [0,12], K=3",
    operands: [batch([2, 3, 4], ["N", 3, 4]), ints("s", [0, 12])],
    tangents: 3,
  }),
  opCase({
    op: "Reshape",
    label: "to a scalar, K=1",
    operands: [x([1, 1]), ints("s", [], [0])],
    tangents: 1,
  }),
  graphCase({
    op: "Reshape",
    label: "runtime shape Shape→Gather→Unsqueeze→Concat (PyTorch view(n, -1)), K=3",
    opset: 13,
    shape: [3, 2, 2],
    declared: ["N", 2, 2],
    w: [2, 2],
    tangents: 3,
    build: (b) => {
      const xw = b.op("Mul", ["x", "w"]);
      const n = b.op("Gather", [b.op("Shape", [xw]), b.constant(int64Tensor([], [0]))], {
        axis: 0,
      });
      const s = b.op("Concat", [b.op("Unsqueeze", [n, b.ints([0])]), b.ints([-1])], { axis: 0 });
      return [b.op("Reshape", [xw, s])];
    },
  }),
  graphCase({
    op: "Reshape",
    label: "Shape start/end (opset 15) and a Constant value_ints target piece",
    opset: 15,
    shape: [2, 3, 2],
    declared: ["N", 3, 2],
    w: [3, 2],
    build: (b) => {
      const xw = b.op("Mul", ["x", "w"]);
      const lead = b.op("Shape", [xw], { start: 0, end: -2 });
      const rest = b.op("Constant", [], { value_ints: [3, 2] });
      const flat = b.op("Reshape", [xw, b.op("Concat", [lead, b.ints([-1])], { axis: 0 })]);
      return [b.op("Reshape", [flat, b.op("Concat", [lead, rest], { axis: 0 })])];
    },
  }),
  graphCase({
    op: "Reshape",
    label: "Constant tensor target, value_float scale, ConstantOfShape, Size",
    opset: 13,
    shape: [2, 3],
    declared: [2, 3],
    w: [3],
    build: (b) => {
      const two = b.op("Constant", [], { value_float: float(2.5) });
      const ones = b.op("ConstantOfShape", [b.op("Shape", ["x"])], {
        value: { dtype: "float32", dims: [1], data: Float32Array.of(1.5) },
      });
      const xw = b.op("Mul", [b.op("Mul", [b.op("Add", ["x", "w"]), two]), ones]);
      const size = b.op("Cast", [b.op("Size", [xw])], { to: 1 });
      const target = b.op("Constant", [], { value: int64Tensor([2], [3, -1]) });
      return [b.op("Mul", [b.op("Reshape", [xw, target]), size])];
    },
  }),
];

const transposeCases: RuleCase[] = [
  opCase({
    op: "Transpose",
    label: "default perm (reversed) on [2,3,4]",
    operands: [x([2, 3, 4])],
  }),
  opCase({
    op: "Transpose",
    label: "perm [1,0,2]",
    operands: [x([2, 3, 4])],
    attrs: { perm: [1, 0, 2] },
  }),
  opCase({
    op: "Transpose",
    label: "perm [0,2,3,1] on [2,1,3,2], K=1",
    operands: [x([2, 1, 3, 2])],
    attrs: { perm: [0, 2, 3, 1] },
    tangents: 1,
  }),
  opCase({
    op: "Transpose",
    label: "symbolic batch [N,3], K=3",
    operands: [batch([2, 3], ["N", 3])],
    attrs: { perm: [1, 0] },
    tangents: 3,
  }),
];

const squeezeCases: RuleCase[] = [
  opCase({
    op: "Squeeze",
    label: "opset 11 axes attribute [1]",
    operands: [x([2, 1, 3])],
    attrs: { axes: [1] },
    opset: 11,
  }),
  opCase({ op: "Squeeze", label: "opset 11 without axes", operands: [x([1, 2, 1, 3])], opset: 11 }),
  opCase({
    op: "Squeeze",
    label: "opset 13 axes input [-1]",
    operands: [x([2, 3, 1]), ints("axes", [-1])],
  }),
  opCase({
    op: "Squeeze",
    label: "opset 13 without axes: every size-1 dim",
    operands: [x([1, 2, 1, 3])],
  }),
  opCase({
    op: "Squeeze",
    label: "to a scalar, K=1",
    operands: [x([1, 1]), ints("axes", [0, 1])],
    tangents: 1,
  }),
  opCase({
    op: "Squeeze",
    label: "symbolic batch [N,1,3], K=3",
    operands: [batch([2, 1, 3], ["N", 1, 3]), ints("axes", [1])],
    tangents: 3,
  }),
];

const unsqueezeCases: RuleCase[] = [
  opCase({
    op: "Unsqueeze",
    label: "opset 11 axes attribute [0, 3]",
    operands: [x([2, 3])],
    attrs: { axes: [0, 3] },
    opset: 11,
  }),
  opCase({
    op: "Unsqueeze",
    label: "opset 13 axes input [-1]",
    operands: [x([2, 3]), ints("axes", [-1])],
  }),
  opCase({
    op: "Unsqueeze",
    label: "scalar to [1,1], K=1",
    operands: [x([]), ints("axes", [1, 0])],
    tangents: 1,
  }),
  opCase({
    op: "Unsqueeze",
    label: "symbolic batch [N,3] axes [1], K=3",
    operands: [batch([2, 3], ["N", 3]), ints("axes", [1])],
    tangents: 3,
  }),
];

const concatCases: RuleCase[] = [
  opCase({
    op: "Concat",
    label: "axis 0, two parameters",
    operands: [{ name: "a", shape: [2, 3] }, { name: "c", shape: [1, 3] }],
    attrs: { axis: 0 },
  }),
  opCase({
    op: "Concat",
    label: "axis -1, three inputs, the middle one constant",
    operands: [{ name: "a", shape: [2, 1] }, { name: "k", shape: [2, 2], kind: "const" }, {
      name: "c",
      shape: [2, 3],
    }],
    attrs: { axis: -1 },
  }),
  opCase({
    op: "Concat",
    label: "opset 7, axis 1 of rank 3, last input constant, K=1",
    operands: [{ name: "a", shape: [2, 2, 2] }, { name: "k", shape: [2, 1, 2], kind: "const" }],
    attrs: { axis: 1 },
    opset: 7,
    tangents: 1,
  }),
  opCase({
    op: "Concat",
    label: "symbolic batch [N,2] with constant [N,3] along axis 1, K=3",
    operands: [batch([2, 2], ["N", 2]), { name: "k", shape: [2, 3], kind: "const" }],
    attrs: { axis: 1 },
    tangents: 3,
  }),
  opCase({
    op: "Concat",
    label: "along the symbolic batch axis: [N,2] then [3,2]",
    operands: [batch([2, 2], ["N", 2]), { name: "c", shape: [3, 2] }],
    attrs: { axis: 0 },
  }),
];

const sliceCases: RuleCase[] = [
  opCase({
    op: "Slice",
    label: "opset 9 attributes starts [1] ends [3] axes [1]",
    operands: [x([2, 4])],
    attrs: { starts: [1], ends: [3], axes: [1] },
    opset: 9,
  }),
  opCase({
    op: "Slice",
    label: "opset 9 without axes, negative end, huge end",
    operands: [x([3, 4])],
    attrs: { starts: [1, 0], ends: [1000000, -1] },
    opset: 9,
  }),
  opCase({
    op: "Slice",
    label: "opset 13 inputs, INT64_MAX end, negative axis",
    operands: [
      x([3, 4]),
      ints("starts", [1, 1]),
      bigInts("ends", [INT64_MAX, -1n]),
      ints("axes", [0, -1]),
    ],
  }),
  opCase({
    op: "Slice",
    label: "step 2",
    operands: [
      x([2, 7]),
      ints("starts", [1]),
      ints("ends", [7]),
      ints("axes", [1]),
      ints("steps", [2]),
    ],
  }),
  opCase({
    op: "Slice",
    label: "step -1 reverses the whole axis (INT64_MIN end)",
    operands: [
      x([3, 2]),
      ints("starts", [-1]),
      bigInts("ends", [INT64_MIN]),
      ints("axes", [0]),
      ints("steps", [-1]),
    ],
  }),
  opCase({
    op: "Slice",
    label: "step -2 partial, and step 3 on another axis",
    operands: [
      x([6, 7]),
      ints("starts", [4, 0]),
      ints("ends", [0, 100]),
      ints("axes", [0, 1]),
      ints("steps", [-2, 3]),
    ],
  }),
  opCase({
    op: "Slice",
    label: "clamped out-of-range starts and ends (opset 10, no axes input)",
    operands: [x([3, 2]), ints("starts", [-10]), ints("ends", [100])],
    opset: 10,
  }),
  opCase({
    op: "Slice",
    label: "symbolic batch [N,5] along axis 1, K=3",
    operands: [batch([2, 5], ["N", 5]), ints("starts", [1]), ints("ends", [-1]), ints("axes", [1])],
    tangents: 3,
  }),
  opCase({
    op: "Slice",
    label: "along the symbolic batch axis, K=1",
    operands: [
      batch([3, 2], ["N", 2]),
      ints("starts", [1]),
      bigInts("ends", [INT64_MAX]),
      ints("axes", [0]),
    ],
    tangents: 1,
  }),
  graphCase({
    op: "Slice",
    label: "runtime end from Shape→Gather→Sub→Unsqueeze (x[:, :n-1])",
    opset: 13,
    shape: [2, 4],
    declared: ["N", 4],
    w: [4],
    build: (b) => {
      const xw = b.op("Mul", ["x", "w"]);
      const n = b.op("Gather", [b.op("Shape", [xw]), b.constant(int64Tensor([], [1]))], {
        axis: 0,
      });
      const end = b.op("Unsqueeze", [
        b.op("Sub", [n, b.constant(int64Tensor([], [1]))]),
        b.ints([0]),
      ]);
      return [b.op("Slice", [xw, b.ints([0]), end, b.ints([1])])];
    },
  }),
];

const padCases: RuleCase[] = [
  opCase({
    op: "Pad",
    label: "opset 18 constant mode with constant_value",
    operands: [x([2, 3]), ints("pads", [1, 0, 0, 2]), {
      name: "v",
      shape: [],
      kind: "const",
      value: { dtype: "float32", dims: [], data: Float32Array.of(0.5) },
    }],
  }),
  opCase({
    op: "Pad",
    label: "opset 10 pads and value attributes",
    operands: [x([2, 3])],
    attrs: { pads: [0, 1, 1, 0], value: float(0.25) },
    opset: 10,
  }),
  opCase({
    op: "Pad",
    label: "negative pads crop (opset 13)",
    operands: [x([3, 4]), ints("pads", [-1, 1, 0, -2])],
    opset: 13,
  }),
  opCase({
    op: "Pad",
    label: "opset 18 axes input [-1]",
    operands: [x([2, 3]), ints("pads", [2, 1]), {
      name: "v",
      shape: [],
      kind: "const",
      value: { dtype: "float32", dims: [], data: Float32Array.of(0) },
    }, ints("axes", [-1])],
  }),
  opCase({
    op: "Pad",
    label: "edge mode",
    operands: [x([2, 3]), ints("pads", [1, 2, 0, 1])],
    attrs: { mode: "edge" },
    opset: 13,
  }),
  opCase({
    op: "Pad",
    label: "reflect mode, K=1",
    operands: [x([3, 4]), ints("pads", [0, 3, 2, 1])],
    attrs: { mode: "reflect" },
    opset: 11,
    tangents: 1,
  }),
  opCase({
    op: "Pad",
    label: "wrap mode (opset 19)",
    operands: [x([2, 3]), ints("pads", [1, 2, 1, 1])],
    attrs: { mode: "wrap" },
    opset: 19,
  }),
  opCase({
    op: "Pad",
    label: "symbolic batch [N,3] padded on axis 1, K=3",
    operands: [batch([2, 3], ["N", 3]), ints("pads", [0, 1, 0, 1])],
    tangents: 3,
  }),
];

const scatterReady = !!ruleFor("ScatterND");

const gatherCases: RuleCase[] = [
  opCase({
    op: "Gather",
    label: "axis 0 with repeated indices",
    operands: [x([3, 4]), ints("i", [2, 0, 2])],
  }),
  opCase({
    op: "Gather",
    label: "axis 1 with negative indices",
    operands: [x([2, 3]), ints("i", [-1, 0])],
    attrs: { axis: 1 },
  }),
  opCase({
    op: "Gather",
    label: "scalar index, axis -1, K=1",
    operands: [x([2, 3]), ints("i", [1], [])],
    attrs: { axis: -1 },
    tangents: 1,
  }),
  opCase({
    op: "Gather",
    label: "2-D indices, axis 1 of rank 3",
    operands: [x([2, 3, 2]), ints("i", [0, 1, 1, 1], [2, 2])],
    attrs: { axis: 1 },
    opset: 11,
  }),
  opCase({
    op: "Gather",
    label: "symbolic batch [N,4], axis 1, K=3",
    operands: [batch([2, 4], ["N", 4]), ints("i", [3, 1])],
    attrs: { axis: 1 },
    tangents: 3,
  }),
  // Runtime indices go through ScatterND (the pool family's entry), once it is in the table.
  ...(scatterReady
    ? [
      opCase({
        op: "Gather",
        label: "runtime indices (graph input), axis 1, repeated and negative",
        operands: [
          x([2, 3, 2]),
          { name: "i", shape: [2, 2], kind: "input", value: int64Tensor([2, 2], [0, -1, 2, 0]) },
        ],
        attrs: { axis: 1 },
      }),
    ]
    : []),
];

const expandCases: RuleCase[] = [
  opCase({
    op: "Expand",
    label: "[3,1] to [2,3,4] (rank grows)",
    operands: [x([3, 1]), ints("s", [2, 3, 4])],
  }),
  opCase({
    op: "Expand",
    label: "[1,3] by [2,1] → [2,3]",
    operands: [x([1, 3]), ints("s", [2, 1])],
  }),
  opCase({
    op: "Expand",
    label: "identity shape, K=1",
    operands: [x([2, 2]), ints("s", [2, 2])],
    tangents: 1,
  }),
  opCase({
    op: "Expand",
    label: "symbolic batch [N,1] to [N,3], K=3",
    operands: [batch([2, 1], ["N", 1]), ints("s", [1, 3])],
    tangents: 3,
  }),
  graphCase({
    op: "Expand",
    label: "runtime target Shape(x)",
    opset: 13,
    shape: [2, 3],
    declared: ["N", 3],
    w: [3],
    build: (b) => [b.op("Mul", [b.op("Expand", ["w", b.op("Shape", ["x"])]), "x"])],
  }),
];

const tileCases: RuleCase[] = [
  opCase({ op: "Tile", label: "[2,3] repeats [2,1]", operands: [x([2, 3]), ints("r", [2, 1])] }),
  opCase({
    op: "Tile",
    label: "[2,1,3] repeats [1,3,2]",
    operands: [x([2, 1, 3]), ints("r", [1, 3, 2])],
  }),
  opCase({
    op: "Tile",
    label: "repeats all 1, K=1",
    operands: [x([2]), ints("r", [1])],
    tangents: 1,
  }),
  opCase({
    op: "Tile",
    label: "symbolic batch [N,3] repeats [2,2], K=3",
    operands: [batch([2, 3], ["N", 3]), ints("r", [2, 2])],
    tangents: 3,
  }),
];

const splitCases: RuleCase[] = [
  opCase({
    op: "Split",
    label: "opset 11 split attribute [1,2] on axis 1",
    operands: [x([2, 3])],
    attrs: { axis: 1, split: [1, 2] },
    outputs: 2,
    opset: 11,
  }),
  opCase({
    op: "Split",
    label: "opset 13 split input [2,1,1]",
    operands: [x([4, 2]), ints("split", [2, 1, 1])],
    outputs: 3,
    opset: 13,
  }),
  opCase({
    op: "Split",
    label: "opset 13 equal halves, axis -1",
    operands: [x([2, 4])],
    attrs: { axis: -1 },
    outputs: 2,
    opset: 13,
  }),
  opCase({
    op: "Split",
    label: "opset 18 num_outputs 3 on 7 (last chunk smaller)",
    operands: [x([7, 2])],
    attrs: { num_outputs: 3 },
    outputs: 3,
  }),
  opCase({
    op: "Split",
    label: "symbolic batch [N,4] split on axis 1, K=3",
    operands: [batch([2, 4], ["N", 4]), ints("split", [1, 3])],
    attrs: { axis: 1 },
    outputs: 2,
    tangents: 3,
  }),
  graphCase({
    op: "Split",
    label: "only one output used (the others' cotangents are zero)",
    opset: 13,
    shape: [2, 3],
    declared: [2, 3],
    w: [3],
    build: (b) => {
      const [first] = b.node("Split", [b.op("Mul", ["x", "w"])], { axis: 1 }, { outputs: 3 });
      return [first];
    },
  }),
];

const splitOldOpset = graphCase({
  op: "Split",
  label: "opset 8 split attribute, one output used",
  opset: 8,
  shape: [2, 3],
  declared: [2, 3],
  w: [3],
  build: (
    b,
  ) => [b.node("Split", [b.op("Mul", ["x", "w"])], { axis: 1, split: [2, 1] }, { outputs: 2 })[1]],
});

export const shapeCases: RuleCase[] = [
  ...flattenCases,
  ...reshapeCases,
  ...transposeCases,
  ...squeezeCases,
  ...unsqueezeCases,
  ...concatCases,
  ...sliceCases,
  ...padCases,
  ...gatherCases,
  ...expandCases,
  ...tileCases,
  ...splitCases,
  splitOldOpset,
];
