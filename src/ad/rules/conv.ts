/**
 * The convolution family (Conv, ConvTranspose), any rank, groups, dilations and auto_pad.
 * Both are bilinear in (input, weight): each tangent term is the same op with one operand
 * replaced by its tangent, the K axis folded into the batch or channel axis; the VJP terms are
 * the transposed convolutions. Window geometry is shared with pooling (window.ts).
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Dim, Node, Tensor } from "../../onnx/types.ts";
import { floats, size, strides as rowStrides } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { extent, samePads, type Window, windowCount, windowFields } from "./window.ts";

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

const convFields = {
  ...windowFields,
  group: z.number().default(1),
  kernel_shape: z.array(z.number()).optional(),
};
const convAttrs = attrs(convFields);
const convTransposeAttrs = attrs({
  ...convFields,
  output_padding: z.array(z.number()).optional(),
  output_shape: z.array(z.number()).optional(),
});
type ConvAttrs = z.infer<typeof convTransposeAttrs>;

/**
 * A Conv/ConvTranspose node's geometry per spatial axis, with auto_pad resolved to pads (NaN
 * where a symbolic size hides them); symbolic inputs give output sizes whose symbolic names
 * spell the formula.
 */
interface Geometry extends Window {
  /** ConvTranspose's output_padding (zeros for Conv). */
  outPad: number[];
}

/** Kernel sizes from the weight's shape, checked against the kernel_shape attribute. */
function kernelOf(node: Node, a: ConvAttrs, w: Dim[]): number[] {
  const k = w.slice(2);
  if (a.kernel_shape) {
    if (
      a.kernel_shape.length !== k.length ||
      a.kernel_shape.some((v, i) => v !== k[i] && typeof k[i] === "number")
    ) {
      throw unsupported(
        node,
        "kernel_shape",
        `= [${a.kernel_shape}] does not match the weight's shape [${w}]`,
      );
    }
    return a.kernel_shape;
  }
  if (k.some((d) => typeof d !== "number")) {
    throw new UserError(
      `${node.opType} node "${node.name}": the kernel shape [${k}] must be static`,
    );
  }
  return k as number[];
}

function geometry(node: Node, a: ConvAttrs, x: Dim[], w: Dim[], transposed: boolean): Geometry {
  const kernel = kernelOf(node, a, w);
  const r = kernel.length;
  const ones = kernel.map(() => 1);
  const strides = a.strides ?? ones;
  const dilations = a.dilations ?? ones;
  const outPad = (transposed ? a.output_padding : undefined) ?? kernel.map(() => 0);
  const pads = a.auto_pad === "NOTSET"
    ? a.pads ?? new Array(2 * r).fill(0)
    : new Array(2 * r).fill(0);
  if (
    x.length !== r + 2 || pads.length !== 2 * r || strides.length !== r || dilations.length !== r
  ) {
    throw new UserError(
      `${node.opType} node "${node.name}": input rank ${x.length}, kernel [${kernel}], strides, dilations and pads disagree`,
    );
  }
  const g: Geometry = {
    kernel,
    strides,
    dilations,
    begin: pads.slice(0, r),
    end: pads.slice(r),
    outPad,
    out: [],
  };
  for (let i = 0; i < r; i++) {
    const [h, s, ek] = [x[i + 2], strides[i], extent(g, i)];
    if (transposed) transposeAxis(node, a, g, i, h, s, ek);
    else convAxis(node, a, g, i, h, s, ek);
  }
  return g;
}

/**
 * Conv output size: floor((in + pads − effective kernel)/stride) + 1. SAME_* pads so that
 * out = ceil(in/stride), the odd pixel at the end (UPPER) or start (LOWER), as ONNX says and
 * onnxruntime does; onnxruntime runs SAME only without dilation.
 */
function convAxis(node: Node, a: ConvAttrs, g: Geometry, i: number, h: Dim, s: number, ek: number) {
  if (a.auto_pad === "SAME_UPPER" || a.auto_pad === "SAME_LOWER") {
    if (g.dilations[i] !== 1) {
      throw unsupported(
        node,
        "auto_pad",
        `= ${a.auto_pad} with dilations > 1 is not run by onnxruntime`,
      );
    }
    if (typeof h !== "number") {
      g.begin[i] = g.end[i] = NaN;
      g.out[i] = `ceil(${h}/${s})`;
      return;
    }
    const { out, needed, head } = samePads(a.auto_pad, h, s, ek);
    // onnxruntime does not clamp a negative total pad; a kernel smaller than the stride can
    // leave it negative, and onnxruntime then shifts the windows where ONNX does not.
    if (needed < 0 && head !== 0) {
      throw unsupported(
        node,
        "auto_pad",
        `= ${a.auto_pad} with a kernel this much smaller than the stride is computed differently by onnxruntime`,
      );
    }
    // With a total pad ≥ 0 onnxruntime's split is ONNX's (the odd pixel at the end for UPPER).
    const total = Math.max(needed, 0);
    g.begin[i] = needed < 0 ? 0 : head;
    g.end[i] = total - g.begin[i];
    g.out[i] = out;
    return;
  }
  const span = g.begin[i] + g.end[i] - ek;
  g.out[i] = typeof h === "number" ? windowCount(h + span, s) : `(${h}+${span})/${s}+1`;
}

/**
 * ConvTranspose output size: stride·(in − 1) + output_padding + effective kernel − pads. With
 * output_shape or SAME_*, the total pad is derived and an odd one puts its extra pixel at the
 * start, except SAME_UPPER at the end (the ONNX text; onnxruntime-web agrees, checked).
 */
function transposeAxis(
  node: Node,
  a: ConvAttrs,
  g: Geometry,
  i: number,
  h: Dim,
  s: number,
  ek: number,
) {
  if (g.outPad[i] >= s) {
    throw unsupported(
      node,
      "output_padding",
      `= [${g.outPad}] must be smaller than the strides (onnxruntime rejects it)`,
    );
  }
  const natural = typeof h === "number" ? s * (h - 1) + g.outPad[i] + ek : undefined;
  const r = g.kernel.length;
  const same = a.auto_pad === "SAME_UPPER" || a.auto_pad === "SAME_LOWER";
  const target = a.output_shape
    ? a.output_shape[a.output_shape.length - r + i]
    : same
    ? typeof h === "number" ? h * s : `${h}*${s}`
    : undefined;
  if (target === undefined) {
    g.out[i] = natural !== undefined
      ? natural - g.begin[i] - g.end[i]
      : `${s}*(${h}-1)+${g.outPad[i] + ek - g.begin[i] - g.end[i]}`;
    return;
  }
  g.out[i] = target;
  if (natural === undefined || typeof target !== "number") {
    g.begin[i] = g.end[i] = NaN;
    return;
  }
  const total = natural - target;
  if (total < 0) {
    // ONNX would pad negatively; onnxruntime clamps (SAME) or rejects (output_shape).
    const attr = a.output_shape ? "output_shape" : "auto_pad";
    throw unsupported(
      node,
      attr,
      `asks for an output larger than the kernel covers on spatial axis ${i}`,
    );
  }
  g.begin[i] = a.auto_pad === "SAME_UPPER" ? Math.floor(total / 2) : Math.ceil(total / 2);
  g.end[i] = total - g.begin[i];
}

/** For each (position, kernel offset) pair, the flat index it reaches on the other side, or −1. */
function windowIndex(from: number[], to: number[], g: Geometry): Int32Array {
  const [nFrom, nK] = [size(from), size(g.kernel)];
  const [fStr, kStr, tStr] = [rowStrides(from), rowStrides(g.kernel), rowStrides(to)];
  const idx = new Int32Array(nFrom * nK);
  for (let p = 0; p < nFrom; p++) {
    for (let q = 0; q < nK; q++) {
      let j = 0;
      for (let a = 0; a < from.length && j >= 0; a++) {
        const pc = Math.floor(p / fStr[a]) % from[a];
        const qc = Math.floor(q / kStr[a]) % g.kernel[a];
        // Conv: input = p·s + q·d − begin; ConvTranspose scatters input p to that output.
        const c = pc * g.strides[a] + qc * g.dilations[a] - g.begin[a];
        j = c >= 0 && c < to[a] ? j + c * tStr[a] : -1;
      }
      idx[p * nK + q] = j;
    }
  }
  return idx;
}

function hostConv(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  g: Geometry,
  group: number,
): Tensor {
  const [N, C, ...inS] = x.dims;
  const [O, Cg] = w.dims;
  const outS = g.out as number[];
  const [nIn, nOut, nK] = [size(inS), size(outS), size(g.kernel)];
  const idx = windowIndex(outS, inS, g);
  const [xv, wv, bv] = [floats(x), floats(w), bias && floats(bias)];
  const out = new Float64Array(N * O * nOut);
  const Og = O / group;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const c0 = Math.floor(o / Og) * Cg;
      for (let p = 0; p < nOut; p++) {
        let s = bv ? bv[o] : 0;
        for (let c = 0; c < Cg; c++) {
          const xo = (n * C + c0 + c) * nIn;
          const wo = (o * Cg + c) * nK;
          for (let q = 0; q < nK; q++) {
            const j = idx[p * nK + q];
            if (j >= 0) s += xv[xo + j] * wv[wo + q];
          }
        }
        out[(n * O + o) * nOut + p] = s;
      }
    }
  }
  return { dtype: "float64", dims: [N, O, ...outS], data: out };
}

function hostConvTranspose(
  x: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  g: Geometry,
  group: number,
): Tensor {
  const [N, C, ...inS] = x.dims;
  const M = w.dims[1];
  const O = M * group;
  const outS = g.out as number[];
  const [nIn, nOut, nK] = [size(inS), size(outS), size(g.kernel)];
  const idx = windowIndex(inS, outS, g);
  const [xv, wv, bv] = [floats(x), floats(w), bias && floats(bias)];
  const out = new Float64Array(N * O * nOut);
  const Cg = C / group;
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      out.fill(bv ? bv[o] : 0, (n * O + o) * nOut, (n * O + o + 1) * nOut);
    }
    for (let c = 0; c < C; c++) {
      const o0 = Math.floor(c / Cg) * M;
      for (let m = 0; m < M; m++) {
        const yo = (n * O + o0 + m) * nOut;
        const wo = (c * M + m) * nK;
        for (let p = 0; p < nIn; p++) {
          const v = xv[(n * C + c) * nIn + p];
          for (let q = 0; q < nK; q++) {
            const j = idx[p * nK + q];
            if (j >= 0) out[yo + j] += v * wv[wo + q];
          }
        }
      }
    }
  }
  return { dtype: "float64", dims: [N, O, ...outS], data: out };
}

/** Shape of a value without its batch axis, which must be static for the derivative graphs. */
function staticTail(node: Node, e: Emitter, name: string): number[] {
  const tail = e.shape(name).slice(1);
  if (tail.some((d) => typeof d !== "number")) {
    throw new UserError(
      `${node.opType} node "${node.name}": differentiating needs static channel and spatial sizes of "${name}" (got [${
        e.shape(name)
      }]); pass inputShapes`,
    );
  }
  return tail as number[];
}

/** Attributes of a node with this geometry spelled out (no auto_pad or output_shape). */
function explicitAttrs(g: Geometry, group: number, transposed: boolean) {
  return {
    strides: g.strides,
    dilations: g.dilations,
    group,
    pads: [...g.begin, ...g.end],
    ...(transposed ? { output_padding: g.outPad } : {}),
  };
}

/** a·d for a static factor and a possibly symbolic dim. */
function times(a: number, d: Dim): Dim {
  return typeof d === "number" ? a * d : a === 1 ? d : `${a}*${d}`;
}

/**
 * Reshape to a known shape, its one symbolic dim (a batch size) left to −1. The shape is
 * recorded as known: inference alone cannot tell which symbolic size a −1 absorbed.
 */
function reshapeTo(e: Emitter, t: string, shape: Dim[]): string {
  const out = e.reshape(t, shape.map((d) => (typeof d === "number" ? d : -1)));
  e.metas.set(out, { dtype: e.dtype(t), shape });
  return out;
}

/** Drops `cut[i]` trailing entries of spatial axis i (of sizes `spatial`) where positive. */
function cropEnd(e: Emitter, t: string, spatial: number[], cut: number[]): string {
  const axes = range(0, cut.length).filter((i) => cut[i] > 0);
  if (axes.length === 0) return t;
  const ends = axes.map((i) => spatial[i] - cut[i]);
  const starts = axes.map(() => 0);
  const at = axes.map((i) => i + 2);
  const out = e.opset >= 10
    ? e.op("Slice", [t, e.ints(starts), e.ints(ends), e.ints(at)])
    : e.op("Slice", [t], { starts, ends, axes: at });
  const shape = [...e.shape(t)];
  axes.forEach((a, i) => (shape[a + 2] = ends[i]));
  e.metas.set(out, { dtype: e.dtype(t), shape });
  return out;
}

/** [N, C, ...] → [C/g, g·N, ...]: channels within a group become the batch, (group, N) the channels. */
function channelsToBatch(
  e: Emitter,
  t: string,
  group: number,
  perGroup: number,
  spatial: number[],
): string {
  const r = spatial.length;
  if (group === 1) return e.transpose(t, [1, 0, ...range(2, r + 2)]);
  const N = e.shape(t)[0];
  const split = reshapeTo(e, t, [N, group, perGroup, ...spatial]);
  const moved = e.transpose(split, [2, 1, 0, ...range(3, r + 3)]);
  return reshapeTo(e, moved, [perGroup, times(group, N), ...spatial]);
}

/**
 * [N, g·K·Cg, ...] (one op run with K kernels per group side by side) → [K, N, g·Cg, ...].
 */
function kernelsToTangents(
  e: Emitter,
  t: string,
  K: number,
  group: number,
  perGroup: number,
  spatial: number[],
): string {
  const r = spatial.length;
  const N = e.shape(t)[0];
  if (group === 1) {
    return e.transpose(reshapeTo(e, t, [N, K, perGroup, ...spatial]), [1, 0, ...range(2, r + 3)]);
  }
  const split = reshapeTo(e, t, [N, group, K, perGroup, ...spatial]);
  const moved = e.transpose(split, [2, 0, 1, ...range(3, r + 4)]);
  return reshapeTo(e, moved, [K, N, group * perGroup, ...spatial]);
}

/**
 * The X tangent of a Conv or ConvTranspose: the op is linear in X, so the K tangents run
 * through the node itself with K folded into the batch axis, then unfolded.
 */
function inputTangent(
  b: Emitter,
  op: "Conv" | "ConvTranspose",
  node: Node,
  dx: string,
  W: string,
  K: number,
  N: Dim,
  inTail: number[],
  outTail: number[],
): string {
  const folded = reshapeTo(b, dx, [times(K, N), ...inTail]);
  return reshapeTo(b, b.op(op, [folded, W], node.attrs), [K, N, ...outTail]);
}

/** Bias tangent [K, O] → [K, 1, O, 1, ...] against the output [K, N, O, ...]. */
function biasTangent(e: Emitter, db: string, r: number): string {
  return e.unsqueeze(db, [1, ...range(3, r + 3)]);
}

/** Inputs [X, W, B?]: the output's channel count and spatial sizes of a node. */
function convInfer(
  node: Node,
  a: ConvAttrs,
  inputs: (Meta | undefined)[],
  transposed: boolean,
): Meta[] {
  const [x, w] = inputs as Meta[];
  if (!x.shape || !w.shape) return [{ dtype: x.dtype }];
  const g = geometry(node, a, x.shape, w.shape, transposed);
  const channels = transposed
    ? (typeof w.shape[1] === "number" ? w.shape[1] * a.group : `${w.shape[1]}*${a.group}`)
    : w.shape[0];
  return [{ dtype: x.dtype, shape: [x.shape[0], channels, ...g.out] }];
}

/**
 * Conv (1-D, 2-D, 3-D): strides, pads, auto_pad, dilations, group, optional bias. Linear in
 * X and in W: the X tangent runs through the same Conv with K folded into the batch; the W
 * tangents run as K·O extra output channels of one Conv on X (grouped so that each group
 * keeps its own input channels). Reverse mode: ConvTranspose for X, and for W a Conv of X
 * against the output gradient with batch and channels swapped (stride ↔ dilation).
 */
const conv = defineRule(convAttrs, {
  infer: ({ node, attrs, inputs }) => convInfer(node, attrs, inputs, false),
  evaluate: ({ node, attrs, inputs }) => {
    const [x, w, bias] = inputs;
    const g = geometry(node, attrs, x!.dims, w!.dims, false);
    return [hostConv(x!, w!, bias, g, attrs.group)];
  },
  jvp: ({ b, node, attrs, x, y, dx, K }) => {
    const [X, W, B] = x;
    const [C, ...spatial] = staticTail(node, b, X);
    const [O, ...outSpatial] = staticTail(node, b, y[0]);
    const r = spatial.length;
    const group = attrs.group;
    const terms: string[] = [];
    const N = b.shape(X)[0];
    if (dx[0]) {
      terms.push(
        inputTangent(b, "Conv", node, dx[0], W, K, N, [C, ...spatial], [O, ...outSpatial]),
      );
    }
    if (dx[1]) {
      const [, , Cg, ...kernel] = b.shape(dx[1]) as number[];
      // Output channels in group-major order: [g, K, O/g] so each group sees its inputs.
      let w = dx[1];
      if (group > 1) {
        w = b.transpose(reshapeTo(b, w, [K, group, O / group, Cg, ...kernel]), [
          1,
          0,
          ...range(2, r + 4),
        ]);
      }
      const out = b.op("Conv", [X, reshapeTo(b, w, [K * O, Cg, ...kernel])], node.attrs);
      terms.push(kernelsToTangents(b, out, K, group, O / group, outSpatial));
    }
    if (B && dx[2]) terms.push(biasTangent(b, dx[2], r));
    return [b.sum(terms)];
  },
  vjp: ({ b, node, attrs, x, y, gy, needs }) => {
    const [X, W, B] = x;
    const G = gy[0]!;
    const [C, ...spatial] = staticTail(node, b, X);
    const outSpatial = staticTail(node, b, y[0]).slice(1);
    const g = geometry(node, attrs, b.shape(X), b.shape(W), false);
    const r = spatial.length;
    const group = attrs.group;
    let gX: string | null = null;
    let gW: string | null = null;
    if (needs[0]) {
      // ConvTranspose is Conv's adjoint; output_padding restores the rows the stride skipped.
      const outPad = spatial.map((h, i) =>
        (h + g.begin[i] + g.end[i] - extent(g, i)) % g.strides[i]
      );
      gX = b.op("ConvTranspose", [G, W], explicitAttrs({ ...g, outPad }, group, true));
    }
    if (needs[1]) {
      // gW[o, c, q] = Σ_{n,p} G[n, o, p]·Xpad[n, c, p·s + q·d]: a Conv over q of X (batch =
      // channel, channels = (group, N)) with kernel G, stride d and dilation s; its end pad is
      // cut to what the kernel reaches (the input is cropped if even that is too much).
      const endPad = spatial.map((h, i) =>
        extent(g, i) + (outSpatial[i] - 1) * g.strides[i] - h - g.begin[i]
      );
      const xT = cropEnd(
        b,
        channelsToBatch(b, X, group, C / group, spatial),
        spatial,
        endPad.map((p) => -p),
      );
      const gT = b.transpose(G, [1, 0, ...range(2, r + 2)]);
      const out = b.op("Conv", [xT, gT], {
        strides: g.dilations,
        dilations: g.strides,
        group,
        pads: [...g.begin, ...endPad.map((p) => Math.max(p, 0))],
      });
      gW = b.transpose(out, [1, 0, ...range(2, r + 2)]);
    }
    const gB = B && needs[2] ? b.reduceSum(G, [0, ...range(2, r + 2)], false) : null;
    return [gX, gW, gB];
  },
});

/**
 * ConvTranspose (1-D, 2-D, 3-D): strides, pads, auto_pad, dilations, group, output_padding,
 * output_shape, optional bias; derivatives mirror Conv's (Conv is its adjoint).
 */
const convTranspose = defineRule(convTransposeAttrs, {
  infer: ({ node, attrs, inputs }) => convInfer(node, attrs, inputs, true),
  evaluate: ({ node, attrs, inputs }) => {
    const [x, w, bias] = inputs;
    const g = geometry(node, attrs, x!.dims, w!.dims, true);
    return [hostConvTranspose(x!, w!, bias, g, attrs.group)];
  },
  jvp: ({ b, node, attrs, x, y, dx, K }) => {
    const [X, W, B] = x;
    const [C, ...spatial] = staticTail(node, b, X);
    const [O, ...outSpatial] = staticTail(node, b, y[0]);
    const r = spatial.length;
    const group = attrs.group;
    const terms: string[] = [];
    const N = b.shape(X)[0];
    // The node's own attributes (onnxruntime reads only the spatial output_shape entries), so
    // these graphs follow onnxruntime's reading of auto_pad/output_shape: the checks compare
    // it with the host evaluation's.
    if (dx[0]) {
      terms.push(
        inputTangent(b, "ConvTranspose", node, dx[0], W, K, N, [C, ...spatial], [O, ...outSpatial]),
      );
    }
    if (dx[1]) {
      // W is [C, O/g, ...]: the K kernels sit side by side in each group's output channels.
      const [, , M, ...kernel] = b.shape(dx[1]) as number[];
      const w = reshapeTo(b, b.transpose(dx[1], [1, 0, ...range(2, r + 3)]), [C, K * M, ...kernel]);
      const out = b.op("ConvTranspose", [X, w], node.attrs);
      terms.push(kernelsToTangents(b, out, K, group, M, outSpatial));
    }
    if (B && dx[2]) terms.push(biasTangent(b, dx[2], r));
    return [b.sum(terms)];
  },
  vjp: ({ b, node, attrs, x, y, gy, needs }) => {
    const [X, W, B] = x;
    const spatial = staticTail(node, b, X).slice(1);
    const outSpatial = staticTail(node, b, y[0]).slice(1);
    const g = geometry(node, attrs, b.shape(X), b.shape(W), true);
    const r = spatial.length;
    const group = attrs.group;
    const M = (b.shape(W) as number[])[1];
    const G = gy[0]!;
    let gX: string | null = null;
    let gW: string | null = null;
    if (needs[0]) {
      // Conv with the same geometry is the adjoint; as output_padding < stride, the extra
      // rows fall outside its last window and the output has X's size.
      gX = b.op("Conv", [G, W], explicitAttrs(g, group, false));
    }
    if (needs[1]) {
      // gW[c, m, q] = Σ_{n,i} X[n, c, i]·G[n, group(c)·M + m, i·s + q·d − begin]: a Conv over q
      // of G (batch = m, channels = (group, N)) with kernel X, stride d and dilation s.
      const endPad = outSpatial.map((h, i) =>
        extent(g, i) + (spatial[i] - 1) * g.strides[i] - h - g.begin[i]
      );
      const gT = cropEnd(
        b,
        channelsToBatch(b, G, group, M, outSpatial),
        outSpatial,
        endPad.map((p) => -p),
      );
      const xT = b.transpose(X, [1, 0, ...range(2, r + 2)]);
      const out = b.op("Conv", [gT, xT], {
        strides: g.dilations,
        dilations: g.strides,
        group,
        pads: [...g.begin, ...endPad.map((p) => Math.max(p, 0))],
      });
      gW = b.transpose(out, [1, 0, ...range(2, r + 2)]);
    }
    const gB = B && needs[2] ? b.reduceSum(G, [0, ...range(2, r + 2)], false) : null;
    return [gX, gW, gB];
  },
});

export const convRules: Record<string, Rule> = { Conv: conv, ConvTranspose: convTranspose };
