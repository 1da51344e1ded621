/**
 * The pooling family, windowed reductions as JAX calls them (MaxPool, AveragePool,
 * GlobalAveragePool). Window geometry (rules/window.ts) follows onnxruntime's CPU kernels,
 * which run every graph; configurations where onnxruntime and the ONNX reference disagree are
 * rejected rather than silently given one meaning.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Dim, Node, Tensor } from "../../onnx/types.ts";
import type { Emitter } from "../emit.ts";
import { floats, size, strides, unravel } from "../host/ndarray.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { isStatic } from "../shapes.ts";
import { tangentShape } from "../tangent.ts";
import { linearRule, noAttrs, requireOpset } from "./helpers.ts";
import { type Reduction } from "./gather_scatter.ts";
import { extent, perAxis, samePads, type Window, windowCount, windowFields } from "./window.ts";

const poolFields = {
  ...windowFields,
  ceil_mode: z.number().default(0),
  kernel_shape: z.array(z.number()),
};
const maxPoolAttrs = attrs({ ...poolFields, storage_order: z.number().default(0) });
const avgPoolAttrs = attrs({ ...poolFields, count_include_pad: z.number().default(0) });
type WindowAttrs = z.infer<typeof maxPoolAttrs> | z.infer<typeof avgPoolAttrs>;

/** Where the windows of a pooling node sit (pads may be negative for SAME). */
type Geometry = Window<number>;

/**
 * Padding and output size of each spatial axis, as onnxruntime computes them: SAME_* pads by
 * `(ceil(in/s)−1)·s + k − in` split with C++ integer division; otherwise
 * out = floor|ceil((in + pads − dilated kernel)/s) + 1.
 */
function geometry(node: Node, a: WindowAttrs, spatial: number[]): Geometry {
  const r = a.kernel_shape.length;
  if (spatial.length !== r) {
    throw unsupported(node, "kernel_shape", `has ${r} dims, the input has ${spatial.length}`);
  }
  const g: Geometry = {
    kernel: a.kernel_shape,
    strides: perAxis(node, "strides", a.strides, r, 1),
    dilations: perAxis(node, "dilations", a.dilations, r, 1),
    begin: [],
    end: [],
    out: [],
  };
  const pads = a.auto_pad === "NOTSET" ? perAxis(node, "pads", a.pads, 2 * r, 0) : [];
  for (let i = 0; i < r; i++) {
    const st = g.strides[i];
    if (a.auto_pad === "SAME_UPPER" || a.auto_pad === "SAME_LOWER") {
      if (g.dilations[i] !== 1) {
        throw unsupported(
          node,
          "auto_pad",
          `${a.auto_pad} with dilations ≠ 1 is not supported (onnxruntime pads as if undilated)`,
        );
      }
      const { out, needed, head } = samePads(a.auto_pad, spatial[i], st, g.kernel[i]);
      g.begin.push(head);
      g.end.push(needed - head);
      g.out.push(out);
      continue;
    }
    const [b, e] = a.auto_pad === "VALID" ? [0, 0] : [pads[i], pads[i + r]];
    if (b < 0 || e < 0 || b >= g.kernel[i] || e >= g.kernel[i]) {
      throw unsupported(node, "pads", "must be ≥ 0 and smaller than the kernel");
    }
    const span = spatial[i] + b + e - extent(g, i);
    if (span < 0) {
      throw unsupported(node, "kernel_shape", `does not fit axis ${i + 2} (size ${spatial[i]})`);
    }
    const o = windowCount(span, st, a.ceil_mode !== 0);
    // ceil_mode can add a window that starts past the input, in the end padding. The ONNX
    // reference and onnxruntime's kernel drop it, but the ONNX shape inference onnxruntime
    // runs at load keeps it, so such a graph fails to load: reject it up front.
    if ((o - 1) * st >= spatial[i] + b) {
      throw unsupported(
        node,
        "ceil_mode",
        `adds a window that starts past the end of axis ${
          i + 2
        } (ONNX shape inference and kernels disagree on it)`,
      );
    }
    g.begin.push(b);
    g.end.push(e);
    g.out.push(o);
  }
  return g;
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
    const stop = Math.min(start[a] + extent(g, a), sp[a] + g.end[a]);
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

// ---------------------------------------------------------------------------------------
// Emission helpers

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

/**
 * For opsets without GatherElements (11) or ScatterElements reduction "add" (16): a float
 * [planes, outputs per plane, inputs per plane] matrix, 1 where an output's argmax is that
 * input. Gathering and scatter-adding become batched MatMuls with it (exact with overlapping
 * windows; its size is planes × outputs × inputs per plane).
 */
function argmaxOneHot(b: Emitter, node: Node, a: z.infer<typeof maxPoolAttrs>, y: string) {
  requireOpset(node, b, 8, "MaxPool's Indices output");
  const x = node.inputs[0];
  const plane = size(staticSpatial(b, x, node));
  const outputs = size(staticSpatial(b, y, node));
  const flat = maxPoolIndices(b, node, a);
  const span = b.ints([plane]);
  const within = b.sub(flat, b.mul(b.div(flat, span), span));
  const positions = b.constant({
    dtype: "int64",
    dims: [plane],
    data: BigInt64Array.from({ length: plane }, (_, i) => BigInt(i)),
  });
  const hit = b.op("Equal", [b.reshape(within, [-1, outputs, 1]), positions]);
  return { oneHot: b.castToFloat(hit, x), plane, outputs };
}

/** Windows of different outputs share no input element (so scatter targets are unique). */
function disjointWindows(g: Pick<Geometry, "kernel" | "strides" | "dilations">): boolean {
  return g.kernel.every((_, i) => g.strides[i] >= extent(g, i));
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
    if (b.opset < 11) {
      const { oneHot, plane } = argmaxOneHot(b, node, attrs, y[0]);
      const picked = b.op("MatMul", [oneHot, b.reshape(dx[0]!, [K, -1, plane, 1])]);
      return [b.op("Reshape", [picked, tangentShape(b, y[0], K)]), null];
    }
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
    if (b.opset < 11 || (b.opset < 16 && !disjointWindows(g))) {
      const { oneHot, outputs } = argmaxOneHot(b, node, attrs, node.outputs[0]);
      const spread = b.op("MatMul", [b.reshape(gy[0], [-1, 1, outputs]), oneHot]);
      return [b.op("Reshape", [spread, b.shapeOf(x[0])])];
    }
    // ScatterElements has no reduction before opset 16; plain scatter is exact there
    // because no two outputs can pick the same input element.
    const reduction: Reduction = b.opset < 16 ? "none" : "add";
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

const averagePool = linearRule(avgPoolAttrs, {
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
  tangent: ({ b, node, x, y, K }, t) =>
    poolTangent(b, t, x[0], y[0], K, node, (u) => b.op("AveragePool", [u], node.attrs)),
  // Adjoint: divide by each window's divisor, then spread over the window with a
  // depthwise ConvTranspose of ones (it drops what lands in the padding).
  transpose: ({ b, node, attrs, x }, gy) => {
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
    const scaled = b.mul(gy, inv);
    // ConvTranspose output size: (o−1)·s + dilated kernel − pads_begin − pads_end + output_padding.
    const padEnd: number[] = [];
    const outPad: number[] = [];
    g.out.forEach((o, i) => {
      const full = (o - 1) * g.strides[i] + extent(g, i) - g.begin[i];
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
    return gx;
  },
});

const globalAveragePool = linearRule(noAttrs, {
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
  tangent: ({ b, x }, t) => {
    const axes = b.shape(x[0]).slice(2).map((_, i) => i + 3);
    return b.reduce("ReduceMean", t, axes, true);
  },
  transpose: ({ b, x, y }, gy) => {
    const spread = b.expandLike(gy, x[0]);
    const sp = b.shape(x[0]).slice(2);
    if (isStatic(sp)) return b.div(spread, b.scalar(size(sp), x[0]));
    const count = b.div(b.op("Size", [x[0]]), b.op("Size", [y[0]]));
    return b.div(spread, b.castToFloat(count, x[0]));
  },
});

export const poolingRules: Record<string, Rule> = {
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: globalAveragePool,
};
