import { emptyGraph, GraphBuilder } from "../../src/onnx/builder.ts";
import { int64Tensor } from "../../src/onnx/tensor.ts";
import type { AttrInput } from "../../src/onnx/builder.ts";
import type { Dim, Tensor } from "../../src/onnx/types.ts";
import { opCase, type RuleCase } from "./case.ts";

/**
 * Distinct values (a shuffled arange, 0.1 apart, centred): no two elements of a window tie,
 * so a max has one argmax and finite differences see a smooth function.
 */
function distinct(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const order = Array.from({ length: n }, (_, i) => i);
  let s = seed >>> 0;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return {
    dtype: "float32",
    dims: shape,
    data: Float32Array.from(order, (v) => (v - n / 2) * 0.1),
  };
}

const ints = (name: string, dims: number[], values: number[]) => ({
  name,
  shape: dims,
  kind: "const" as const,
  value: int64Tensor(dims, values),
});

interface PoolSpec {
  label: string;
  shape: number[];
  attrs: Record<string, AttrInput>;
  /** Symbolic declared shape: x becomes a graph input. */
  declared?: Dim[];
  tangents?: number;
  opset?: number;
  /** MaxPool: also output Indices (its rule then reuses that output). */
  indices?: boolean;
}

let poolSeed = 1;

function maxPool(s: PoolSpec): RuleCase {
  return opCase({
    op: "MaxPool",
    label: s.label,
    operands: [{
      name: "x",
      shape: s.shape,
      value: distinct(s.shape, poolSeed++),
      ...(s.declared ? { kind: "input" as const, declared: s.declared } : {}),
    }],
    attrs: s.attrs,
    outputs: s.indices ? 2 : 1,
    outputTypes: ["float32", "int64"],
    tangents: s.tangents,
    opset: s.opset,
  });
}

function averagePool(s: PoolSpec): RuleCase {
  return opCase({
    op: "AveragePool",
    label: s.label,
    operands: [{
      name: "x",
      shape: s.shape,
      ...(s.declared ? { kind: "input" as const, declared: s.declared } : {}),
    }],
    attrs: s.attrs,
    tangents: s.tangents,
    opset: s.opset,
  });
}

/** Window variants shared by MaxPool and AveragePool. */
const WINDOWS: PoolSpec[] = [
  {
    label: "2-D kernel 2 stride 2, batch 1, K=1",
    shape: [1, 1, 4, 4],
    attrs: { kernel_shape: [2, 2], strides: [2, 2] },
    tangents: 1,
  },
  {
    label: "overlapping kernel 3 stride 1, C=3, K=3",
    shape: [2, 3, 5, 5],
    attrs: { kernel_shape: [3, 3] },
    tangents: 3,
  },
  {
    label: "kernel [3,2] strides 2, asymmetric pads",
    shape: [2, 2, 5, 6],
    attrs: { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] },
  },
  {
    label: "ceil_mode, partial last windows",
    shape: [1, 2, 5, 5],
    attrs: { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 },
  },
  {
    label: "ceil_mode with pads (last window clipped)",
    shape: [1, 2, 6, 5],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 },
  },
  {
    label: "auto_pad SAME_UPPER, strides 2",
    shape: [1, 2, 5, 6],
    attrs: { kernel_shape: [3, 2], auto_pad: "SAME_UPPER", strides: [2, 2] },
  },
  {
    label: "auto_pad SAME_LOWER",
    shape: [1, 2, 5, 6],
    attrs: { kernel_shape: [2, 3], auto_pad: "SAME_LOWER", strides: [2, 1] },
  },
  {
    label: "auto_pad VALID",
    shape: [1, 2, 5, 6],
    attrs: { kernel_shape: [3, 2], auto_pad: "VALID", strides: [2, 2] },
  },
  {
    label: "1-D kernel 3 stride 2 pads",
    shape: [2, 2, 7],
    attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] },
  },
  {
    label: "3-D kernel [2,3,2]",
    shape: [1, 2, 4, 5, 4],
    attrs: { kernel_shape: [2, 3, 2], strides: [2, 1, 2], pads: [1, 0, 0, 0, 1, 1] },
  },
  {
    label: "symbolic batch input [N,2,5,5], K=3",
    shape: [3, 2, 5, 5],
    declared: ["N", 2, 5, 5],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    tangents: 3,
  },
];

/** Dilations: MaxPool since opset 10, AveragePool since opset 19. */
const DILATED: PoolSpec[] = [
  {
    label: "dilations [2,2]",
    shape: [1, 2, 7, 6],
    attrs: { kernel_shape: [2, 2], dilations: [2, 2] },
    opset: 19,
  },
  {
    label: "dilations [2,1] with strides and pads",
    shape: [1, 2, 7, 6],
    attrs: { kernel_shape: [2, 3], dilations: [2, 1], strides: [2, 1], pads: [1, 1, 1, 0] },
    opset: 19,
  },
  {
    label: "1-D dilation 2 ceil_mode",
    shape: [1, 2, 8],
    attrs: { kernel_shape: [2], dilations: [2], strides: [3], pads: [0, 1], ceil_mode: 1 },
    opset: 19,
  },
];

const maxPoolCases: RuleCase[] = [
  ...[...WINDOWS, ...DILATED].map(maxPool),
  maxPool({
    label: "with its Indices output",
    shape: [2, 2, 5, 6],
    attrs: { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] },
    indices: true,
  }),
  maxPool({
    label: "storage_order 1 Indices output",
    shape: [1, 2, 4, 5],
    attrs: { kernel_shape: [2, 2], storage_order: 1 },
    indices: true,
  }),
  maxPool({
    label: "opset 13, disjoint windows (plain scatter)",
    shape: [2, 2, 4, 6],
    attrs: { kernel_shape: [2, 3], strides: [2, 3] },
    opset: 13,
  }),
  maxPool({
    label: "opset 12, overlapping windows (one-hot scatter-add)",
    shape: [2, 2, 5, 5],
    attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
    opset: 12,
  }),
  maxPool({
    label: "opset 8, overlapping windows with Indices output (one-hot gather)",
    shape: [1, 2, 4, 5],
    attrs: { kernel_shape: [2, 2] },
    indices: true,
    opset: 8,
  }),
  maxPool({
    label: "opset 11, dilated disjoint windows",
    shape: [1, 2, 6, 6],
    attrs: { kernel_shape: [2, 2], strides: [4, 4], dilations: [2, 2] },
    opset: 11,
  }),
];

const averagePoolCases: RuleCase[] = [
  ...WINDOWS.map(averagePool),
  ...WINDOWS.filter((w) => w.attrs.pads || w.attrs.auto_pad || w.attrs.ceil_mode).map((w) =>
    averagePool({
      ...w,
      label: `${w.label}, count_include_pad`,
      attrs: { ...w.attrs, count_include_pad: 1 },
    })
  ),
  ...DILATED.map(averagePool),
  ...DILATED.map((w) =>
    averagePool({
      ...w,
      label: `${w.label}, count_include_pad`,
      attrs: { ...w.attrs, count_include_pad: 1 },
    })
  ),
  averagePool({
    label: "opset 11",
    shape: [2, 2, 5, 5],
    attrs: { kernel_shape: [2, 3], strides: [1, 2], pads: [1, 1, 0, 1] },
    opset: 11,
  }),
];

const globalAveragePoolCases: RuleCase[] = [
  opCase({
    op: "GlobalAveragePool",
    label: "2-D, K=1",
    operands: [{ name: "x", shape: [2, 3, 4, 5] }],
    tangents: 1,
  }),
  opCase({
    op: "GlobalAveragePool",
    label: "1-D, batch 1, K=3",
    operands: [{ name: "x", shape: [1, 3, 5] }],
    tangents: 3,
  }),
  opCase({
    op: "GlobalAveragePool",
    label: "3-D",
    operands: [{ name: "x", shape: [2, 2, 3, 2, 2] }],
  }),
  opCase({
    op: "GlobalAveragePool",
    label: "symbolic batch and spatial dims",
    operands: [{ name: "x", shape: [3, 2, 4, 3], kind: "input", declared: ["N", 2, "H", "W"] }],
  }),
];

const gatherScatterCases: RuleCase[] = [
  opCase({
    op: "GatherElements",
    label: "axis 0, repeated indices",
    operands: [{ name: "x", shape: [3, 4] }, ints("i", [2, 4], [0, 2, 2, 1, 2, 2, 0, 0])],
  }),
  opCase({
    op: "GatherElements",
    label: "axis -1, negative indices, smaller indices, K=3",
    operands: [
      { name: "x", shape: [2, 3, 4] },
      ints("i", [2, 2, 3], [0, -1, 3, 1, 1, 2, 3, 0, -4, 2, 2, 1]),
    ],
    attrs: { axis: -1 },
    tangents: 3,
  }),
  opCase({
    op: "GatherElements",
    label: "opset 13, distinct constant indices",
    operands: [{ name: "x", shape: [3, 2] }, ints("i", [2, 2], [2, 0, 0, 1])],
    opset: 13,
  }),
  opCase({
    op: "ScatterElements",
    label: "reduction none, distinct indices, axis 1",
    operands: [{ name: "d", shape: [2, 4] }, ints("i", [2, 2], [3, 0, 1, 2]), {
      name: "u",
      shape: [2, 2],
    }],
    attrs: { axis: 1 },
  }),
  opCase({
    op: "ScatterElements",
    label: "reduction add, repeated indices, K=1",
    operands: [{ name: "d", shape: [3, 2] }, ints("i", [3, 2], [0, 0, 0, 2, -1, 0]), {
      name: "u",
      shape: [3, 2],
    }],
    attrs: { reduction: "add" },
    tangents: 1,
  }),
  opCase({
    op: "ScatterElements",
    label: "only the updates differentiated",
    operands: [{ name: "d", shape: [2, 3], kind: "const" }, ints("i", [1, 3], [1, 0, 1]), {
      name: "u",
      shape: [1, 3],
    }],
  }),
  opCase({
    op: "ScatterElements",
    label: "only the data differentiated, opset 13",
    operands: [{ name: "d", shape: [2, 3] }, ints("i", [1, 3], [1, 0, 1]), {
      name: "u",
      shape: [1, 3],
      kind: "const",
    }],
    opset: 13,
  }),
  opCase({
    op: "ScatterND",
    label: "reduction none, row slices",
    operands: [{ name: "d", shape: [4, 3] }, ints("i", [2, 1], [3, 1]), {
      name: "u",
      shape: [2, 3],
    }],
  }),
  opCase({
    op: "ScatterND",
    label: "reduction add, repeated element tuples, K=3",
    operands: [{ name: "d", shape: [2, 3, 2] }, ints("i", [3, 2], [0, 1, 1, -1, 0, 1]), {
      name: "u",
      shape: [3, 2],
    }],
    attrs: { reduction: "add" },
    tangents: 3,
  }),
  opCase({
    op: "ScatterND",
    label: "only the updates differentiated, opset 13",
    operands: [{ name: "d", shape: [3, 2], kind: "const" }, ints("i", [1, 2, 1], [2, 0]), {
      name: "u",
      shape: [1, 2, 2],
    }],
    opset: 13,
    tangents: 1,
  }),
  opCase({
    op: "GatherND",
    label: "element tuples, repeated",
    operands: [{ name: "x", shape: [3, 4] }, ints("i", [3, 2], [0, 1, 2, 3, 0, 1])],
  }),
  opCase({
    op: "GatherND",
    label: "slices, negative index, K=3",
    operands: [{ name: "x", shape: [2, 3, 2] }, ints("i", [2, 1, 1], [1, -2])],
    tangents: 3,
  }),
];

/** MaxPool → MaxUnpool (the classic pair): gradients flow through both, with the Indices. */
function poolUnpool(
  label: string,
  shape: number[],
  a: Record<string, AttrInput>,
  outputShape?: number[],
): RuleCase {
  const x = distinct(shape, poolSeed++);
  return {
    op: "MaxUnpool",
    label,
    tangents: 2,
    model: () => {
      const g = emptyGraph("MaxUnpool");
      const b = new GraphBuilder(g);
      g.initializers.set("x", x);
      const [y, i] = b.node("MaxPool", ["x"], a, { outputs: 2 });
      const inputs = [y, i];
      if (outputShape) inputs.push(b.ints(outputShape));
      const { kernel_shape, strides, pads } = a;
      const unpoolAttrs = Object.fromEntries(
        Object.entries({ kernel_shape, strides, pads }).filter(([, v]) => v !== undefined),
      );
      b.node("MaxUnpool", inputs, unpoolAttrs as Record<string, AttrInput>, { outputs: ["z"] });
      g.outputs.push({ name: "z", dtype: "float32" });
      return { irVersion: 8, opsets: { "": 18 }, producerName: "test", graph: g };
    },
  };
}

const maxUnpoolCases: RuleCase[] = [
  poolUnpool("after MaxPool kernel 2 stride 2", [2, 2, 4, 4], {
    kernel_shape: [2, 2],
    strides: [2, 2],
  }),
  poolUnpool("after MaxPool with pads, explicit output_shape", [1, 2, 5, 5], {
    kernel_shape: [2, 2],
    strides: [2, 2],
    pads: [1, 1, 1, 1],
  }, [1, 2, 5, 5]),
  opCase({
    op: "MaxUnpool",
    label: "1-D, constant indices, K=3",
    operands: [{ name: "x", shape: [1, 2, 3] }, ints("i", [1, 2, 3], [1, 2, 5, 6, 9, 10])],
    attrs: { kernel_shape: [2], strides: [2] },
    tangents: 3,
  }),
];

export const poolCases: RuleCase[] = [
  ...maxPoolCases,
  ...averagePoolCases,
  ...globalAveragePoolCases,
  ...gatherScatterCases,
  ...maxUnpoolCases,
];
