/**
 * The gather/scatter family: ops that read or write elements at index positions (Gather,
 * GatherElements, GatherND, ScatterElements, ScatterND, MaxUnpool). Each is linear in its
 * data (and updates); the indices are constants of the derivative. A gather's adjoint is a
 * scatter-add into zeros, a scatter's adjoint gathers the cotangent at the same positions.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Dim, Node, Tensor } from "../../onnx/types.ts";
import type { Emitter } from "../emit.ts";
import { floats, numbers, size, strides, unravel } from "../host/ndarray.ts";
import { hostGather } from "../host/movement.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, unsupported, type VjpContext, z } from "../rule.ts";
import { isStatic, normAxis } from "../shapes.ts";
import { tangentShape, zeroTangent } from "../tangent.ts";
import { linearRule, requireOpset } from "./helpers.ts";
import { dimsOf, joinDims, padAxis, zerosLike } from "./shape_emit.ts";
import { constInts, folded, intsMeta, shapeDims } from "./shape_tracking.ts";
import { perAxis } from "./window.ts";

// ---------------------------------------------------------------------------------------
// Host reference kernels (any element type; floats arrive as float64)

/** A float64 or int64 copy of `t` (index ops move values of either kind). */
function copyValues(t: Tensor): { data: Float64Array | BigInt64Array; int: boolean } {
  if (t.dtype === "int64") return { data: BigInt64Array.from(t.data as BigInt64Array), int: true };
  return { data: Float64Array.from(floats(t)), int: false };
}

function valuesTensor(t: Tensor, dims: number[], data: Float64Array | BigInt64Array): Tensor {
  return { dtype: t.dtype === "int64" ? "int64" : "float64", dims, data };
}

/** Index normalised against an axis size; negative counts from the back (ONNX ≥ 13). */
function normIndex(v: number, n: number): number {
  const i = v < 0 ? v + n : v;
  if (i < 0 || i >= n) throw new UserError(`index ${v} is out of bounds for an axis of size ${n}`);
  return i;
}

/** For each position of `indices`, the flat position in `dims` it addresses along `axis`. */
function elementTargets(dims: number[], indices: Tensor, axis: number): number[] {
  const idx = numbers(indices);
  const iStr = strides(indices.dims);
  const dStr = strides(dims);
  const coord = new Array<number>(dims.length);
  return idx.map((v, i) => {
    unravel(i, indices.dims, iStr, coord);
    coord[axis] = normIndex(v, dims[axis]);
    return coord.reduce((acc, c, a) => acc + c * dStr[a], 0);
  });
}

/** The elements of `t` at flat positions `at`, as a tensor of shape `dims`. */
function pick(t: Tensor, at: number[], dims: number[]): Tensor {
  if (t.dtype === "int64") {
    const d = t.data as BigInt64Array;
    return { dtype: "int64", dims, data: BigInt64Array.from(at, (j) => d[j]) };
  }
  const d = floats(t);
  return { dtype: "float64", dims, data: Float64Array.from(at, (j) => d[j]) };
}

export type Reduction = "none" | "add";

function scatterInto(
  data: Tensor,
  targets: number[],
  slice: number,
  updates: Tensor,
  reduction: Reduction,
): Tensor {
  const out = copyValues(data);
  const upd = copyValues(updates);
  targets.forEach((t, i) => {
    for (let s = 0; s < slice; s++) {
      if (out.int) {
        const o = out.data as BigInt64Array;
        const u = (upd.data as BigInt64Array)[i * slice + s];
        o[t + s] = reduction === "add" ? o[t + s] + u : u;
      } else {
        const o = out.data as Float64Array;
        const u = Number(upd.data[i * slice + s]);
        o[t + s] = reduction === "add" ? o[t + s] + u : u;
      }
    }
  });
  return valuesTensor(data, [...data.dims], out.data);
}

/** ScatterND/GatherND: the flat offset of each index tuple (last axis of indices). */
function tupleTargets(dims: number[], indices: Tensor): { targets: number[]; slice: number } {
  const q = indices.dims[indices.dims.length - 1];
  const idx = numbers(indices);
  const dStr = strides(dims);
  const targets: number[] = [];
  for (let i = 0; i < idx.length; i += q) {
    let off = 0;
    for (let k = 0; k < q; k++) off += normIndex(idx[i + k], dims[k]) * dStr[k];
    targets.push(off);
  }
  return { targets, slice: size(dims.slice(q)) };
}

// ---------------------------------------------------------------------------------------
// Emission helpers

/**
 * VJP of Gather with constant indices: a scatter-add written as Gathers. The cotangent gets a
 * zero slot (index n) appended along the axis; round r gathers, for each input position j,
 * the r-th index position k with indices[k] = j (else the zero slot). Summing the rounds
 * adds repeated indices; unique indices need one round.
 */
export function gatherVjpConst(
  b: Emitter,
  x: string,
  gy: string,
  idx: number[],
  idxRank: number,
  axis: number,
  d: number,
): string {
  const rank = b.rank(x);
  const n = idx.length;
  if (n === 0) return zerosLike(b, x);
  let g = gy;
  if (idxRank === 0) g = b.unsqueeze(g, [axis]);
  else if (idxRank > 1) {
    g = b.op("Reshape", [
      g,
      joinDims(b, [dimsOf(b, x, 0, axis), [n], dimsOf(b, x, axis + 1, rank)]),
    ]);
  }
  g = padAxis(b, g, axis, 0, 1);
  const hits: number[][] = Array.from({ length: d }, () => []);
  idx.forEach((j, k) => hits[j < 0 ? j + d : j].push(k));
  const rounds = hits.reduce((m, h) => Math.max(m, h.length), 0);
  const terms = Array.from(
    { length: rounds },
    (_, r) => b.op("Gather", [g, b.ints(hits.map((h) => h[r] ?? n))], { axis }),
  );
  return b.sum(terms)!;
}

/** VJP of Gather with runtime indices: ScatterND with reduction "add" (opset ≥ 16). */
function gatherVjpRuntime(b: Emitter, node: Node, x: string[], gy: string, axis: number): string {
  if (b.opset < 16) {
    throw new UserError(
      `${node.opType} node "${node.name}": indices computed at run time need opset ≥ 16 to differentiate (ScatterND reduction "add"); the model has opset ${b.opset}`,
    );
  }
  const rank = b.rank(x[0]);
  let idx = b.dtype(x[1]) === "int64" ? x[1] : b.op("Cast", [x[1]], { to: 7 });
  let g = gy;
  if (b.rank(idx) === 0) {
    idx = b.unsqueeze(idx, [0]);
    g = b.unsqueeze(g, [axis]);
  }
  const q = b.rank(idx);
  // Negative indices count from the back.
  const d = dimsOf(b, x[0], axis, axis + 1);
  const negative = b.op("Less", [idx, b.ints([0])]);
  idx = b.op("Where", [negative, b.add(idx, d), idx]);
  // Scatter along axis 0: move the axis (in data) and the index dims (in g) to the front.
  const front = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const base = b.transpose(b.zerosLike(x[0]), front);
  const gFront = [
    ...Array.from({ length: q }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: rank - axis - 1 }, (_, i) => axis + q + i),
  ];
  const scattered = b.op("ScatterND", [base, b.unsqueeze(idx, [q]), b.transpose(g, gFront)], {
    reduction: "add",
  });
  return b.transpose(scattered, front.map((_, i) => front.indexOf(i)));
}

/** GatherElements of a tangent [K, ...data] at `indices`, the same for each of the K rows. */
function gatherTangent(b: Emitter, t: string, indices: string, axis: number, K: number): string {
  const wide = b.op("Expand", [b.unsqueeze(indices, [0]), tangentShape(b, indices, K)]);
  return b.op("GatherElements", [t, wide], { axis: axis + 1 });
}

/**
 * The reduction a gradient scatter needs: "add" (opset ≥ 16), or a plain scatter where
 * the indices are constants with no repeated target.
 */
function scatterReductionFor(
  b: Emitter,
  node: Node,
  data: string,
  indices: string,
  axis: number,
): Reduction {
  if (b.opset >= 16) return "add";
  const value = b.meta(indices).value;
  const dims = b.shape(data);
  if (value && isStatic(dims)) {
    const targets = elementTargets(dims, value, normAxis(axis, dims.length));
    if (new Set(targets).size === targets.length) return "none";
  }
  throw unsupported(
    node,
    "indices",
    `may repeat; its gradient needs opset ≥ 16 (ScatterElements reduction "add"), the model has opset ${b.opset}`,
  );
}

function reductionOf(node: Node, r: string): Reduction {
  if (r === "none" || r === "add") return r;
  throw unsupported(node, "reduction", `"${r}" is not supported (only "none" and "add")`);
}

/**
 * VJP of a scatter (data, indices, updates). Reduction "add": data gets the whole cotangent;
 * "none": overwritten data elements get no gradient. Each update gets the cotangent at its
 * target (repeated targets are undefined behaviour in ONNX), gathered with `gather`.
 */
function scatterVjp(
  { b, node, x, gy, needs }: Pick<VjpContext<unknown>, "b" | "node" | "x" | "gy" | "needs">,
  reduction: string,
  scatter: "ScatterElements" | "ScatterND",
  gather: "GatherElements" | "GatherND",
  attrs: Record<string, number>,
): (string | null)[] {
  if (!gy[0]) return [null, null, null];
  const r = reductionOf(node, reduction);
  const gData = !needs[0]
    ? null
    : r === "add"
    ? gy[0]
    : b.op(scatter, [gy[0], x[1], b.zerosLike(x[2])], attrs);
  const gUpd = needs[2] ? b.op(gather, [gy[0], x[1]], attrs) : null;
  return [gData, null, gUpd];
}

/**
 * ScatterND/GatherND indices for a tangent [K, ...data]: each index tuple gets its row k
 * prepended, so one op handles the K rows. Indices [...I, q] → [K, ...I, q + 1].
 */
function indicesPerRow(b: Emitter, node: Node, indices: string, K: number): string {
  const dims = b.shape(indices);
  if (!isStatic(dims)) {
    throw new UserError(
      `${node.opType} node "${node.name}": the shape of its indices must be static to differentiate it`,
    );
  }
  const lead = dims.slice(0, -1);
  const perRow = size(lead);
  const rows = BigInt64Array.from({ length: K * perRow }, (_, i) => BigInt(Math.floor(i / perRow)));
  const k = b.constant({ dtype: "int64", dims: [K, ...lead, 1], data: rows }, "row_index");
  const wide = b.op("Expand", [b.unsqueeze(indices, [0]), b.ints([K, ...dims])]);
  return b.op("Concat", [k, wide], { axis: dims.length });
}

/** MaxUnpool's default output: the input size MaxPool would have pooled from. */
function unpooledShape(
  node: Node,
  a: { kernel_shape: number[]; pads?: number[]; strides?: number[] },
  shape: Dim[],
): Dim[] {
  const r = a.kernel_shape.length;
  const st = perAxis(node, "strides", a.strides, r, 1);
  const pads = perAxis(node, "pads", a.pads, 2 * r, 0);
  return shape.map((d, i) => {
    if (i < 2) return d;
    const a2 = i - 2;
    if (typeof d !== "number") return `${node.name}_unpooled${a2}_of_${d}`;
    return (d - 1) * st[a2] - pads[a2] - pads[a2 + r] + a.kernel_shape[a2];
  });
}

// ---------------------------------------------------------------------------------------
// Rules

const gather = linearRule(attrs({ axis: z.number().default(0) }), {
  infer: ({ inputs, attrs }) => {
    const [m, im] = [inputs[0]!, inputs[1]!];
    if (!m.shape || !im.shape) return [{ dtype: m.dtype }];
    const axis = normAxis(attrs.axis, m.shape.length);
    const shape = [...m.shape.slice(0, axis), ...im.shape, ...m.shape.slice(axis + 1)];
    // Picking entries of a shape vector (PyTorch's Shape → Gather) keeps them known.
    const elems = shapeDims(m);
    const idx = constInts(im);
    if (m.dtype === "int64" && m.shape.length === 1 && elems && idx && im.shape.length <= 1) {
      return [intsMeta(shape, idx.map((k) => elems[k < 0 ? k + elems.length : k]))];
    }
    const out = { dtype: m.dtype, shape };
    return [
      folded(
        out,
        !!m.value && !!idx,
        () => hostGather(m.value!, idx!, im.shape as number[], axis),
      ),
    ];
  },
  evaluate: ({ inputs, attrs }) => {
    const [t, idx] = [inputs[0]!, inputs[1]!];
    return [hostGather(t, numbers(idx), idx.dims, normAxis(attrs.axis, t.dims.length))];
  },
  tangent: ({ b, x, attrs }, t) => {
    const axis = normAxis(attrs.axis, b.rank(x[0]));
    return b.op("Gather", [t, x[1]], { axis: axis + 1 });
  },
  transpose: ({ b, node, x, attrs }, gy) => {
    const axis = normAxis(attrs.axis, b.rank(x[0]));
    const idx = constInts(b.meta(x[1]));
    const d = b.shape(x[0])[axis];
    if (idx && typeof d === "number") {
      return gatherVjpConst(b, x[0], gy, idx, b.rank(x[1]), axis, d);
    }
    return gatherVjpRuntime(b, node, x, gy, axis);
  },
});

const gatherElements = linearRule(attrs({ axis: z.number().default(0) }), {
  infer: ({ inputs }) => [{ dtype: inputs[0]!.dtype, shape: inputs[1]?.shape }],
  evaluate: ({ inputs, attrs }) => {
    const [data, indices] = inputs as Tensor[];
    const at = elementTargets(data.dims, indices, normAxis(attrs.axis, data.dims.length));
    return [pick(data, at, [...indices.dims])];
  },
  tangent: ({ b, x, attrs, K }, t) => {
    const axis = normAxis(attrs.axis, b.rank(x[0]));
    return gatherTangent(b, t, x[1], axis, K);
  },
  // Each gathered element sends its cotangent back to where it came from (repeats add).
  transpose: ({ b, node, x, attrs }, gy) => {
    const reduction = scatterReductionFor(b, node, x[0], x[1], attrs.axis);
    return b.op(
      "ScatterElements",
      [b.zerosLike(x[0]), x[1], gy],
      reduction === "add" ? { axis: attrs.axis, reduction } : { axis: attrs.axis },
    );
  },
});

const scatterElementsAttrs = attrs({
  axis: z.number().default(0),
  reduction: z.string().default("none"),
});

const scatterElements = defineRule(scatterElementsAttrs, {
  infer: ({ node, inputs, attrs }) => {
    reductionOf(node, attrs.reduction);
    return [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }];
  },
  evaluate: ({ node, inputs, attrs }) => {
    const [data, indices, updates] = inputs as Tensor[];
    const targets = elementTargets(data.dims, indices, normAxis(attrs.axis, data.dims.length));
    return [scatterInto(data, targets, 1, updates, reductionOf(node, attrs.reduction))];
  },
  // Linear in (data, updates): scatter the tangents with the same indices, per row.
  jvp: ({ b, node, x, dx, attrs, K }) => {
    const axis = normAxis(attrs.axis, b.rank(x[0]));
    const data = dx[0] ?? zeroTangent(b, x[0], K);
    const upd = dx[2] ?? zeroTangent(b, x[2], K);
    const wide = b.op("Expand", [b.unsqueeze(x[1], [0]), tangentShape(b, x[1], K)]);
    const r = reductionOf(node, attrs.reduction);
    return [
      b.op(
        "ScatterElements",
        [data, wide, upd],
        r === "add" ? { axis: axis + 1, reduction: r } : { axis: axis + 1 },
      ),
    ];
  },
  vjp: (ctx) =>
    scatterVjp(ctx, ctx.attrs.reduction, "ScatterElements", "GatherElements", {
      axis: ctx.attrs.axis,
    }),
});

const scatterND = defineRule(attrs({ reduction: z.string().default("none") }), {
  infer: ({ node, inputs, attrs }) => {
    reductionOf(node, attrs.reduction);
    return [{ dtype: inputs[0]!.dtype, shape: inputs[0]!.shape }];
  },
  evaluate: ({ node, inputs, attrs }) => {
    const [data, indices, updates] = inputs as Tensor[];
    const { targets, slice } = tupleTargets(data.dims, indices);
    return [scatterInto(data, targets, slice, updates, reductionOf(node, attrs.reduction))];
  },
  // Linear in (data, updates); the updates tangent [K, ...I, ...] already has the layout
  // the per-row indices [K, ...I, q+1] address.
  jvp: ({ b, node, x, dx, attrs, K }) => {
    const r = reductionOf(node, attrs.reduction);
    const data = dx[0] ?? zeroTangent(b, x[0], K);
    const upd = dx[2] ?? zeroTangent(b, x[2], K);
    const indices = indicesPerRow(b, node, x[1], K);
    return [b.op("ScatterND", [data, indices, upd], r === "add" ? { reduction: r } : {})];
  },
  vjp: (ctx) => scatterVjp(ctx, ctx.attrs.reduction, "ScatterND", "GatherND", {}),
});

const gatherND = defineRule(attrs({ batch_dims: z.number().default(0) }), {
  infer: ({ node, inputs, attrs }) => {
    if (attrs.batch_dims !== 0) throw unsupported(node, "batch_dims", "must be 0");
    const [data, indices] = inputs as Meta[];
    const q = indices.shape?.[indices.shape.length - 1];
    if (!data.shape || !indices.shape || typeof q !== "number") return [{ dtype: data.dtype }];
    return [{ dtype: data.dtype, shape: [...indices.shape.slice(0, -1), ...data.shape.slice(q)] }];
  },
  evaluate: ({ inputs }) => {
    const [data, indices] = inputs as Tensor[];
    const { targets, slice } = tupleTargets(data.dims, indices);
    const at = targets.flatMap((t) => Array.from({ length: slice }, (_, s) => t + s));
    const q = indices.dims[indices.dims.length - 1];
    return [pick(data, at, [...indices.dims.slice(0, -1), ...data.dims.slice(q)])];
  },
  jvp: ({ b, node, x, dx, K }) => [
    b.op("GatherND", [dx[0]!, indicesPerRow(b, node, x[1], K)]),
    null,
  ],
  // Repeated index tuples add up: ScatterND with reduction "add" (opset ≥ 16).
  vjp: ({ b, node, x, gy }) => {
    if (!gy[0]) return [null, null];
    requireOpset(node, b, 16, 'ScatterND reduction "add"');
    return [b.op("ScatterND", [b.zerosLike(x[0]), x[1], gy[0]], { reduction: "add" }), null];
  },
});

const maxUnpool = defineRule(
  attrs({
    kernel_shape: z.array(z.number()),
    pads: z.array(z.number()).optional(),
    strides: z.array(z.number()).optional(),
  }),
  {
    infer: ({ node, inputs, attrs }) => {
      const m = inputs[0]!;
      const given = inputs[2] && shapeDims(inputs[2]);
      if (given) return [{ dtype: m.dtype, shape: given }];
      if (!m.shape) return [{ dtype: m.dtype }];
      return [{ dtype: m.dtype, shape: unpooledShape(node, attrs, m.shape) }];
    },
    evaluate: ({ node, inputs, attrs }) => {
      const [x, indices, shape] = inputs;
      const dims = (shape ? numbers(shape) : unpooledShape(node, attrs, x!.dims)) as number[];
      const out = new Float64Array(size(dims));
      const xv = floats(x!);
      numbers(indices!).forEach((j, i) => {
        // onnxruntime rejects negative indices here (unlike the Gather/Scatter ops).
        if (j < 0 || j >= out.length) throw new UserError(`MaxUnpool: index ${j} out of bounds`);
        out[j] = xv[i];
      });
      return [{ dtype: "float64", dims, data: out }];
    },
    // Y[I[i]] = X[i] with flat indices over the whole output: scatter each tangent row.
    // Distinct indices assumed (MaxPool without overlapping windows gives them).
    jvp: ({ b, node, x, y, dx, K }) => {
      requireOpset(node, b, 11, "ScatterElements");
      const indices = b.op("Expand", [b.reshape(x[1], [1, -1]), b.ints([K, 1])]);
      const flat = b.reshape(dx[0]!, [K, -1]);
      const zeros = b.zerosLike(b.reshape(y[0], [1, -1]));
      const wideZeros = b.op("Expand", [zeros, b.ints([K, 1])]);
      const scattered = b.op("ScatterElements", [wideZeros, indices, flat], { axis: 1 });
      return [b.op("Reshape", [scattered, tangentShape(b, y[0], K)])];
    },
    vjp: ({ b, node, x, gy }) => {
      if (!gy[0]) return [null, null, null];
      requireOpset(node, b, 11, "GatherElements");
      const picked = b.op("GatherElements", [b.reshape(gy[0], [-1]), b.reshape(x[1], [-1])], {
        axis: 0,
      });
      return [b.op("Reshape", [picked, b.shapeOf(x[0])]), null, null];
    },
  },
);

/** The gather/scatter family's table entries. */
export const gatherScatterRules: Record<string, Rule> = {
  Gather: gather,
  GatherElements: gatherElements,
  ScatterElements: scatterElements,
  ScatterND: scatterND,
  GatherND: gatherND,
  MaxUnpool: maxUnpool,
};
