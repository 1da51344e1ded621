import { UserError } from "../../errors.ts";
import type { Dim, Node, Tensor } from "../../onnx/types.ts";
import { floats, numbers, size, strides } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { isStatic, normAxis } from "../shapes.ts";
import { tangentShape, zeroTangent } from "../tangent.ts";
import { noAttrs } from "./helpers.ts";
import { shapeDims } from "./shape.ts";

/**
 * Pooling (MaxPool, AveragePool, GlobalAveragePool) and the index ops their rules emit or
 * that pair with them (GatherElements, ScatterElements, GatherND, ScatterND, MaxUnpool). Window geometry follows
 * onnxruntime's CPU kernels, which run every graph; configurations where onnxruntime and
 * the ONNX reference disagree are rejected rather than silently given one meaning.
 */

// ---------------------------------------------------------------------------------------
// Window geometry

const windowAttrs = {
  auto_pad: z.enum(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]).default("NOTSET"),
  ceil_mode: z.number().default(0),
  dilations: z.array(z.number()).optional(),
  kernel_shape: z.array(z.number()),
  pads: z.array(z.number()).optional(),
  strides: z.array(z.number()).optional(),
};
const maxPoolAttrs = attrs({ ...windowAttrs, storage_order: z.number().default(0) });
const avgPoolAttrs = attrs({ ...windowAttrs, count_include_pad: z.number().default(0) });
type WindowAttrs = z.infer<typeof maxPoolAttrs> | z.infer<typeof avgPoolAttrs>;

/** Where the windows of a pooling node sit, per spatial axis. */
interface Geometry {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Padding before/after each axis as the runtime applies it (may be negative for SAME). */
  begin: number[];
  end: number[];
  /** Output spatial dims. */
  out: number[];
}

function perAxis(node: Node, name: string, v: number[] | undefined, r: number, dflt: number) {
  if (v === undefined || v.length === 0) return new Array<number>(r).fill(dflt);
  if (v.length !== r) throw unsupported(node, name, `has ${v.length} values, expected ${r}`);
  return v;
}

/**
 * Padding and output size of each spatial axis, as onnxruntime computes them
 * (pool_attributes.h): SAME_* pads by `(ceil(in/s)−1)·s + k − in` split with C++ integer
 * division; otherwise out = floor|ceil((in + pads − dilated kernel)/s) + 1.
 */
function geometry(node: Node, a: WindowAttrs, spatial: number[]): Geometry {
  const r = a.kernel_shape.length;
  if (spatial.length !== r) {
    throw unsupported(node, "kernel_shape", `has ${r} dims, the input has ${spatial.length}`);
  }
  const kernel = a.kernel_shape;
  const st = perAxis(node, "strides", a.strides, r, 1);
  const dil = perAxis(node, "dilations", a.dilations, r, 1);
  const pads = a.auto_pad === "NOTSET" ? perAxis(node, "pads", a.pads, 2 * r, 0) : [];
  const begin: number[] = [];
  const end: number[] = [];
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const extent = (kernel[i] - 1) * dil[i] + 1;
    if (a.auto_pad === "SAME_UPPER" || a.auto_pad === "SAME_LOWER") {
      if (dil[i] !== 1) {
        throw unsupported(
          node,
          "auto_pad",
          `${a.auto_pad} with dilations ≠ 1 is not supported (onnxruntime pads as if undilated)`,
        );
      }
      const target = Math.ceil(spatial[i] / st[i]);
      const needed = (target - 1) * st[i] + kernel[i] - spatial[i];
      const head = Math.trunc((a.auto_pad === "SAME_LOWER" ? needed + 1 : needed) / 2);
      begin.push(head);
      end.push(needed - head);
      out.push(target);
      continue;
    }
    const [b, e] = a.auto_pad === "VALID" ? [0, 0] : [pads[i], pads[i + r]];
    if (b < 0 || e < 0 || b >= kernel[i] || e >= kernel[i]) {
      throw unsupported(node, "pads", "must be ≥ 0 and smaller than the kernel");
    }
    const span = spatial[i] + b + e - extent;
    if (span < 0) {
      throw unsupported(node, "kernel_shape", `does not fit axis ${i + 2} (size ${spatial[i]})`);
    }
    const o = (a.ceil_mode ? Math.ceil(span / st[i]) : Math.floor(span / st[i])) + 1;
    // ceil_mode can add a window that starts past the input, in the end padding. The ONNX
    // reference and onnxruntime's kernel drop it, but the ONNX shape inference onnxruntime
    // runs at load keeps it, so such a graph fails to load: reject it up front.
    if ((o - 1) * st[i] >= spatial[i] + b) {
      throw unsupported(
        node,
        "ceil_mode",
        `adds a window that starts past the end of axis ${
          i + 2
        } (ONNX shape inference and kernels disagree on it)`,
      );
    }
    begin.push(b);
    end.push(e);
    out.push(o);
  }
  return { kernel, strides: st, dilations: dil, begin, end, out };
}

/** The output shape [N, C, ...out]; symbolic spatial dims give derived symbolic dims. */
function pooledShape(node: Node, a: WindowAttrs, shape: Dim[]): Dim[] {
  const spatial = shape.slice(2);
  if (isStatic(spatial)) return [...shape.slice(0, 2), ...geometry(node, a, spatial).out];
  return [...shape.slice(0, 2), ...spatial.map((d, i) => `${node.name}_out${i}_of_${d}`)];
}

function staticSpatial(b: Emitter, x: string, node: Node): number[] {
  const s = b.shape(x).slice(2);
  if (!isStatic(s)) {
    throw new UserError(
      `${node.opType} node "${node.name}": its spatial dims [${s}] must be static to differentiate it; pass inputShapes`,
    );
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Host reference kernels (float64)

/** Writes into `out` the multi-index of flat position `i` of `dims` (row-major `str`). */
function unravel(i: number, dims: number[], str: number[], out: number[]): number[] {
  for (let a = 0; a < dims.length; a++) out[a] = Math.floor(i / str[a]) % dims[a];
  return out;
}

/**
 * Max or average pooling on the host, with onnxruntime's semantics: padded cells never
 * win a max and count in an average only with count_include_pad (up to the end padding);
 * the max keeps the first maximal element in window order; Indices are flat over the whole
 * input [N, C, ...] (row-major, or column-major within the spatial block for storage_order 1).
 */
function hostPool(
  x: Tensor,
  g: Geometry,
  mode: { max: true; storageOrder: number } | { max: false; countIncludePad: boolean },
): Tensor[] {
  const [n, c, ...sp] = x.dims;
  const r = sp.length;
  const inSize = size(sp);
  const outSize = size(g.out);
  const rowStr = strides(sp);
  const colStr = sp.map((_, a) => size(sp.slice(0, a)));
  const idxStr = mode.max && mode.storageOrder === 1 ? colStr : rowStr;
  const outStr = strides(g.out);
  const taps = size(g.kernel);
  const kStr = strides(g.kernel);
  const xv = floats(x);
  const y = new Float64Array(n * c * outSize);
  const ind = new BigInt64Array(mode.max ? n * c * outSize : 0);
  const o = new Array<number>(r);
  const t = new Array<number>(r);
  const start = new Array<number>(r);
  for (let nc = 0; nc < n * c; nc++) {
    for (let j = 0; j < outSize; j++) {
      unravel(j, g.out, outStr, o);
      for (let a = 0; a < r; a++) start[a] = o[a] * g.strides[a] - g.begin[a];
      let best = -Infinity;
      let bestAt = -1;
      let sum = 0;
      let valid = 0;
      for (let k = 0; k < taps; k++) {
        unravel(k, g.kernel, kStr, t);
        let flat = 0;
        let at = 0;
        let inside = true;
        for (let a = 0; a < r && inside; a++) {
          const p = start[a] + t[a] * g.dilations[a];
          inside = p >= 0 && p < sp[a];
          flat += p * rowStr[a];
          at += p * idxStr[a];
        }
        if (!inside) continue;
        const v = xv[nc * inSize + flat];
        if (bestAt < 0 || v > best) {
          best = v;
          bestAt = at;
        }
        sum += v;
        valid++;
      }
      const out = nc * outSize + j;
      if (mode.max) {
        y[out] = best;
        ind[out] = BigInt(nc * inSize + bestAt);
      } else if (valid > 0) {
        y[out] = sum / (mode.countIncludePad ? includePadCount(g, start, sp) : valid);
      }
    }
  }
  const dims = [n, c, ...g.out];
  const result: Tensor[] = [{ dtype: "float64", dims, data: y }];
  if (mode.max) result.push({ dtype: "int64", dims, data: ind });
  return result;
}

/** count_include_pad divisor: window taps inside the padded input (onnxruntime clips at the end padding). */
function includePadCount(g: Geometry, start: number[], sp: number[]): number {
  let count = 1;
  for (let a = 0; a < sp.length; a++) {
    const stop = Math.min(start[a] + (g.kernel[a] - 1) * g.dilations[a] + 1, sp[a] + g.end[a]);
    count *= 1 + Math.floor((stop - start[a] - 1) / g.dilations[a]);
  }
  return count;
}

/** The divisor of every AveragePool output position (spatial only; same for all N, C). */
function avgCounts(g: Geometry, sp: number[], countIncludePad: boolean): Float64Array {
  const outStr = strides(g.out);
  const counts = new Float64Array(size(g.out));
  const o = new Array<number>(sp.length);
  for (let j = 0; j < counts.length; j++) {
    unravel(j, g.out, outStr, o);
    const start = o.map((v, a) => v * g.strides[a] - g.begin[a]);
    if (countIncludePad) {
      counts[j] = includePadCount(g, start, sp);
      continue;
    }
    let valid = 1;
    for (let a = 0; a < sp.length; a++) {
      let n = 0;
      for (let k = 0; k < g.kernel[a]; k++) {
        const p = start[a] + k * g.dilations[a];
        if (p >= 0 && p < sp[a]) n++;
      }
      valid *= n;
    }
    counts[j] = valid;
  }
  return counts;
}

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

type Reduction = "none" | "add";

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

const toFloat = (b: Emitter, like: string) => (b.dtype(like) === "float64" ? 11 : 1);

/** A constant with `like`'s float type. */
function floatLike(b: Emitter, like: string, dims: number[], values: ArrayLike<number>): Tensor {
  return b.dtype(like) === "float64"
    ? { dtype: "float64", dims, data: Float64Array.from(values) }
    : { dtype: "float32", dims, data: Float32Array.from(values) };
}

/** Folds the tangent axis into the batch axis: [K, N, ...rest] → [K·N, ...rest]. */
function foldK(b: Emitter, t: string, x: string, node: Node): string {
  const rest = b.shape(x).slice(1);
  if (isStatic(rest)) return b.reshape(t, [-1, ...rest]);
  if (b.opset < 15) {
    throw new UserError(
      `${node.opType} node "${node.name}": dims [${rest}] after the batch axis must be static below opset 15`,
    );
  }
  const restShape = b.op("Shape", [x], { start: 1 });
  return b.op("Reshape", [t, b.op("Concat", [b.ints([-1]), restShape], { axis: 0 })]);
}

/** Runs `pool` on a tangent [K, ...x] with K folded into the batch axis; back to [K, ...y]. */
function poolTangent(
  b: Emitter,
  dx: string,
  x: string,
  y: string,
  K: number,
  node: Node,
  pool: (t: string) => string,
): string {
  return b.op("Reshape", [pool(foldK(b, dx, x, node)), tangentShape(b, y, K)]);
}

/** The Indices of a MaxPool node (row-major): its own output when it has one, else a twin. */
function maxPoolIndices(b: Emitter, node: Node, a: z.infer<typeof maxPoolAttrs>): string {
  if (node.outputs[1] && a.storage_order === 0) return node.outputs[1];
  return b.node("MaxPool", [node.inputs[0]], { ...node.attrs, storage_order: 0 }, 2)[1];
}

/** Windows of different outputs share no input element (so scatter targets are unique). */
function disjointWindows(g: Pick<Geometry, "kernel" | "strides" | "dilations">): boolean {
  return g.kernel.every((k, i) => g.strides[i] >= (k - 1) * g.dilations[i] + 1);
}

function requireOpset(node: Node, b: Emitter, since: number, what: string): void {
  if (b.opset < since) {
    throw new UserError(
      `${node.opType} node "${node.name}": differentiating it needs ${what} (opset ≥ ${since}); the model has opset ${b.opset}`,
    );
  }
}

/** GatherElements of a tangent [K, ...data] at `indices`, the same for each of the K rows. */
function gatherTangent(b: Emitter, t: string, indices: string, axis: number, K: number): string {
  const wide = b.op("Expand", [b.unsqueeze(indices, [0]), tangentShape(b, indices, K)]);
  return b.op("GatherElements", [t, wide], { axis: axis + 1 });
}

// ---------------------------------------------------------------------------------------
// Rules

const maxPool = defineRule(maxPoolAttrs, {
  infer: ({ node, inputs, attrs }) => {
    const m = inputs[0]!;
    const shape = m.shape && pooledShape(node, attrs, m.shape);
    return [{ dtype: m.dtype, shape }, { dtype: "int64", shape }];
  },
  evaluate: ({ node, inputs, attrs }) => {
    const x = inputs[0]!;
    const g = geometry(node, attrs, x.dims.slice(2));
    return hostPool(x, g, { max: true, storageOrder: attrs.storage_order });
  },
  // Each output is the input element at its argmax: gather the tangent there.
  jvp: ({ b, node, attrs, y, dx, K }) => {
    requireOpset(node, b, 11, "GatherElements");
    const indices = b.reshape(maxPoolIndices(b, node, attrs), [1, -1]);
    const flat = b.reshape(dx[0]!, [K, -1]);
    const picked = b.op("GatherElements", [flat, b.op("Expand", [indices, b.ints([K, 1])])], {
      axis: 1,
    });
    return [b.op("Reshape", [picked, tangentShape(b, y[0], K)]), null];
  },
  // The cotangent goes back to each output's argmax; overlapping windows add up.
  vjp: ({ b, node, attrs, x, gy }) => {
    if (!gy[0]) return [null];
    const rank = b.rank(x[0]);
    const g = {
      kernel: attrs.kernel_shape,
      strides: perAxis(node, "strides", attrs.strides, rank - 2, 1),
      dilations: perAxis(node, "dilations", attrs.dilations, rank - 2, 1),
    };
    requireOpset(node, b, 11, "ScatterElements");
    let reduction: Reduction = "add";
    if (b.opset < 16) {
      // ScatterElements has no reduction before opset 16; plain scatter is exact only
      // when no two outputs can pick the same input element.
      if (!disjointWindows(g)) {
        throw unsupported(
          node,
          "kernel_shape",
          `with overlapping windows needs opset ≥ 16 to differentiate (ScatterElements reduction "add"); the model has opset ${b.opset}`,
        );
      }
      reduction = "none";
    }
    const indices = b.reshape(maxPoolIndices(b, node, attrs), [-1]);
    const zeros = b.zerosLike(b.reshape(x[0], [-1]));
    const scattered = b.op(
      "ScatterElements",
      [zeros, indices, b.reshape(gy[0], [-1])],
      reduction === "add" ? { axis: 0, reduction } : { axis: 0 },
    );
    return [b.op("Reshape", [scattered, b.shapeOf(x[0])])];
  },
});

const averagePool = defineRule(avgPoolAttrs, {
  infer: ({ node, inputs, attrs }) => {
    const m = inputs[0]!;
    return [{ dtype: m.dtype, shape: m.shape && pooledShape(node, attrs, m.shape) }];
  },
  evaluate: ({ node, inputs, attrs }) => {
    const x = inputs[0]!;
    const g = geometry(node, attrs, x.dims.slice(2));
    return hostPool(x, g, { max: false, countIncludePad: attrs.count_include_pad !== 0 });
  },
  // Linear: pool the tangent, K folded into the batch axis.
  jvp: ({ b, node, x, y, dx, K }) => [
    poolTangent(b, dx[0]!, x[0], y[0], K, node, (t) => b.op("AveragePool", [t], node.attrs)),
  ],
  // Adjoint: divide by each window's divisor, then spread over the window with a
  // depthwise ConvTranspose of ones (it drops what lands in the padding).
  vjp: ({ b, node, attrs, x, gy }) => {
    if (!gy[0]) return [null];
    const sp = staticSpatial(b, x[0], node);
    const channels = b.shape(x[0])[1];
    if (typeof channels !== "number") {
      throw new UserError(
        `${node.opType} node "${node.name}": its channel dim must be static to differentiate it`,
      );
    }
    const g = geometry(node, attrs, sp);
    if (g.begin.some((p) => p < 0)) {
      throw unsupported(
        node,
        "auto_pad",
        "gives negative padding here, which is not differentiable",
      );
    }
    const counts = avgCounts(g, sp, attrs.count_include_pad !== 0);
    const uniform = counts.every((v) => v === counts[0]);
    const inv = uniform
      ? b.scalar(1 / counts[0], x[0])
      : b.constant(floatLike(b, x[0], g.out, counts.map((v) => 1 / v)), "pool_inv_count");
    const scaled = b.mul(gy[0], inv);
    // ConvTranspose output size: (o−1)·s + dilated kernel − pads_begin − pads_end + output_padding.
    const padEnd: number[] = [];
    const outPad: number[] = [];
    g.out.forEach((o, i) => {
      const full = (o - 1) * g.strides[i] + (g.kernel[i] - 1) * g.dilations[i] + 1 - g.begin[i];
      padEnd.push(Math.max(full - sp[i], 0));
      outPad.push(Math.max(sp[i] - full, 0));
    });
    const ones = new Float64Array(channels * size(g.kernel)).fill(1);
    const weight = floatLike(b, x[0], [channels, 1, ...g.kernel], ones);
    const gx = b.op("ConvTranspose", [scaled, b.constant(weight, "pool_ones")], {
      group: channels,
      kernel_shape: g.kernel,
      strides: g.strides,
      dilations: g.dilations,
      pads: [...g.begin, ...padEnd],
      output_padding: outPad,
    });
    return [gx];
  },
});

const globalAveragePool = defineRule(noAttrs, {
  infer: ({ inputs }) => {
    const m = inputs[0]!;
    return [{ dtype: m.dtype, shape: m.shape && m.shape.map((d, i) => (i < 2 ? d : 1)) }];
  },
  evaluate: ({ inputs }) => {
    const x = inputs[0]!;
    const [n, c, ...sp] = x.dims;
    const inner = size(sp);
    const xv = floats(x);
    const y = new Float64Array(n * c);
    for (let i = 0; i < n * c; i++) {
      let s = 0;
      for (let j = 0; j < inner; j++) s += xv[i * inner + j];
      y[i] = s / inner;
    }
    return [{ dtype: "float64", dims: [n, c, ...sp.map(() => 1)], data: y }];
  },
  jvp: ({ b, x, dx }) => {
    const axes = b.shape(x[0]).slice(2).map((_, i) => i + 3);
    return [b.reduce("ReduceMean", dx[0]!, axes, true)];
  },
  vjp: ({ b, x, y, gy }) => {
    if (!gy[0]) return [null];
    const spread = b.op("Expand", [gy[0], b.shapeOf(x[0])]);
    const sp = b.shape(x[0]).slice(2);
    if (isStatic(sp)) return [b.div(spread, b.scalar(size(sp), x[0]))];
    const count = b.div(b.op("Size", [x[0]]), b.op("Size", [y[0]]));
    return [b.div(spread, b.op("Cast", [count], { to: toFloat(b, x[0]) }))];
  },
});

// GatherElements / ScatterElements: linear in data and updates; indices are constants.

const gatherElements = defineRule(attrs({ axis: z.number().default(0) }), {
  infer: ({ inputs }) => [{ dtype: inputs[0]!.dtype, shape: inputs[1]?.shape }],
  evaluate: ({ inputs, attrs }) => {
    const [data, indices] = inputs as Tensor[];
    const at = elementTargets(data.dims, indices, normAxis(attrs.axis, data.dims.length));
    return [pick(data, at, [...indices.dims])];
  },
  jvp: ({ b, x, dx, attrs, K }) => {
    const axis = normAxis(attrs.axis, b.rank(x[0]));
    return [gatherTangent(b, dx[0]!, x[1], axis, K), null];
  },
  // Each gathered element sends its cotangent back to where it came from (repeats add).
  vjp: ({ b, node, x, gy, attrs }) => {
    if (!gy[0]) return [null, null];
    const reduction = scatterReductionFor(b, node, x[0], x[1], attrs.axis);
    return [
      b.op(
        "ScatterElements",
        [b.zerosLike(x[0]), x[1], gy[0]],
        reduction === "add" ? { axis: attrs.axis, reduction } : { axis: attrs.axis },
      ),
      null,
    ];
  },
});

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

const scatterElementsAttrs = attrs({
  axis: z.number().default(0),
  reduction: z.string().default("none"),
});

function reductionOf(node: Node, r: string): Reduction {
  if (r === "none" || r === "add") return r;
  throw unsupported(node, "reduction", `"${r}" is not supported (only "none" and "add")`);
}

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
  // none: overwritten data elements get no gradient; each update gets the cotangent at its
  // target (repeated targets are undefined behaviour in ONNX). add: data gets all of it.
  vjp: ({ b, node, x, gy, needs, attrs }) => {
    if (!gy[0]) return [null, null, null];
    const r = reductionOf(node, attrs.reduction);
    const gData = !needs[0]
      ? null
      : r === "add"
      ? gy[0]
      : b.op("ScatterElements", [gy[0], x[1], b.zerosLike(x[2])], { axis: attrs.axis });
    const gUpd = needs[2] ? b.op("GatherElements", [gy[0], x[1]], { axis: attrs.axis }) : null;
    return [gData, null, gUpd];
  },
});

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
  vjp: ({ b, node, x, gy, needs, attrs }) => {
    if (!gy[0]) return [null, null, null];
    const r = reductionOf(node, attrs.reduction);
    const gData = !needs[0]
      ? null
      : r === "add"
      ? gy[0]
      : b.op("ScatterND", [gy[0], x[1], b.zerosLike(x[2])]);
    const gUpd = needs[2] ? b.op("GatherND", [gy[0], x[1]]) : null;
    return [gData, null, gUpd];
  },
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

export const poolRules: Record<string, Rule> = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
  GatherElements: gatherElements,
  ScatterElements: scatterElements,
  ScatterND: scatterND,
  GatherND: gatherND,
  MaxUnpool: maxUnpool,
};
