/**
 * The normalization family (Softmax, LogSoftmax, BatchNormalization in inference form,
 * LayerNormalization): reductions over axis groups whose derivatives are written with the
 * forward outputs.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Node, Tensor } from "../../onnx/types.ts";
import { broadcastMap, floats, size, strides } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { normAxis, sameShape, staticSize } from "../shapes.ts";
import { alignTangent } from "../tangent.ts";
import { sameAsInput } from "./helpers.ts";

/** Axes [from, rank). */
export function axesFrom(from: number, rank: number): number[] {
  return Array.from({ length: rank - from }, (_, i) => from + i);
}

/**
 * Host grouping for reductions over `axes`: for each element of a tensor of `dims`, the flat
 * index of its group in the keepdims-shaped result, plus the number of groups and that shape.
 */
export function groupsOf(
  dims: number[],
  axes: number[],
): { of: Int32Array; count: number; dims: number[] } {
  const outDims = dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const inStr = strides(dims);
  const outStr = strides(outDims);
  const of = new Int32Array(size(dims));
  for (let i = 0; i < of.length; i++) {
    let j = 0;
    for (let a = 0; a < dims.length; a++) {
      if (!axes.includes(a)) j += (Math.floor(i / inStr[a]) % dims[a]) * outStr[a];
    }
    of[i] = j;
  }
  return { of, count: size(outDims), dims: outDims };
}

// ---------------------------------------------------------------- Softmax, LogSoftmax

/**
 * The axes a softmax normalises over. Since opset 13: the one `axis` (default -1). Before,
 * the input is coerced to 2-D [prod(dims[:axis]), prod(dims[axis:])] (default axis 1), so the
 * softmax runs over every axis from `axis` on.
 */
function softmaxAxes(opset: number, axis: number | undefined, rank: number): number[] {
  if (opset >= 13) return [normAxis(axis ?? -1, rank)];
  return axesFrom(normAxis(axis ?? 1, rank), rank);
}

function hostSoftmax(t: Tensor, axes: number[], log: boolean): Tensor {
  const x = floats(t);
  const { of, count } = groupsOf(t.dims, axes);
  const max = new Float64Array(count).fill(-Infinity);
  for (let i = 0; i < x.length; i++) max[of[i]] = Math.max(max[of[i]], x[i]);
  const sum = new Float64Array(count);
  for (let i = 0; i < x.length; i++) sum[of[i]] += Math.exp(x[i] - max[of[i]]);
  const data = x.map((v, i) => {
    const g = of[i];
    return log ? v - max[g] - Math.log(sum[g]) : Math.exp(v - max[g]) / sum[g];
  });
  return { dtype: "float64", dims: [...t.dims], data };
}

/**
 * Softmax: ẏ = y ⊙ (ẋ − Σ(y ⊙ ẋ)), ḡx = y ⊙ (g − Σ(g ⊙ y)).
 * LogSoftmax: ẏ = ẋ − Σ(p ⊙ ẋ), ḡx = g − p ⊙ Σg, with p = softmax(x) = exp(y).
 * Sums run over the softmax axes with keepdims (shifted by one for the tangent's K axis).
 */
function softmaxRule(log: boolean): Rule {
  return defineRule(attrs({ axis: z.number().optional() }), {
    infer: ({ inputs }) => sameAsInput(inputs),
    evaluate: ({ inputs, attrs, opset }) => {
      const t = inputs[0]!;
      return [hostSoftmax(t, softmaxAxes(opset, attrs.axis, t.dims.length), log)];
    },
    jvp: ({ b, x, y, dx, attrs, opset }) => {
      const axes = softmaxAxes(opset, attrs.axis, b.rank(x[0])).map((a) => a + 1);
      const t = dx[0]!;
      const p = log ? b.op("Exp", [y[0]]) : y[0];
      const dot = b.reduceSum(b.mul(p, t), axes, true);
      return [log ? b.sub(t, dot) : b.mul(p, b.sub(t, dot))];
    },
    vjp: ({ b, x, y, gy, attrs, opset }) => {
      const axes = softmaxAxes(opset, attrs.axis, b.rank(x[0]));
      const g = gy[0]!;
      if (log) {
        const p = b.op("Exp", [y[0]]);
        return [b.sub(g, b.mul(p, b.reduceSum(g, axes, true)))];
      }
      return [b.mul(y[0], b.sub(g, b.reduceSum(b.mul(g, y[0]), axes, true)))];
    },
  });
}

// ---------------------------------------------------------------- BatchNormalization

const batchNormAttrs = attrs({
  epsilon: z.number().default(1e-5),
  // Running-statistics update factor: used only in training mode, so ignored here.
  momentum: z.number().optional(),
  // Opsets ≤ 8: 0 means per-activation statistics, shaped [C, D1, ...].
  spatial: z.number().optional(),
  // Opset ≥ 14.
  training_mode: z.number().default(0),
});
type BatchNormAttrs = z.infer<typeof batchNormAttrs>;

function checkBatchNorm(node: Node, a: BatchNormAttrs): void {
  if (a.training_mode !== 0) {
    throw unsupported(
      node,
      "training_mode",
      `= ${a.training_mode} is not supported: inference mode only (training_mode = 0)`,
    );
  }
  if (a.spatial !== undefined && a.spatial !== 1) {
    throw unsupported(
      node,
      "spatial",
      `= ${a.spatial} is not supported: only per-channel statistics (spatial = 1)`,
    );
  }
  if (node.outputs.slice(1).some((o) => o !== "")) {
    throw new UserError(
      `${node.opType} node "${node.name}": outputs beyond Y (running or saved mean and ` +
        `variance, training mode only) are not supported: inference mode only`,
    );
  }
}

/** Axes 1..rank-2: unsqueezing a [C] vector on them broadcasts it along X's channel axis. */
function channelAxes(rank: number): number[] {
  return axesFrom(1, rank - 1);
}

/**
 * Inference-mode batch normalisation, y = s·(x − m)·inv + b with inv = 1/√(v + ε) and the
 * per-channel [C] vectors s, b, m, v broadcast along axis 1 of X [N, C, D1, ...]:
 *   ẏ = s·inv·ẋ + (ṡ − ½·s·inv²·v̇)·x̂ + (ḃ − s·inv·ṁ),   x̂ = (x − m)·inv;
 *   ḡs = Σ g·x̂, ḡb = Σ g, ḡm = −s·inv·Σ g, ḡv = −½·s·inv²·Σ g·x̂, sums over all but C.
 */
const batchNormalization = defineRule(batchNormAttrs, {
  infer: ({ node, inputs, attrs }) => {
    checkBatchNorm(node, attrs);
    return sameAsInput(inputs);
  },
  evaluate: ({ node, inputs, attrs }) => {
    checkBatchNorm(node, attrs);
    const x = inputs[0]!;
    const dims = [x.dims[1], ...channelAxes(x.dims.length).map(() => 1)];
    const [s, bias, m, v] = inputs.slice(1, 5).map((t) => ({ ...t!, dims }));
    const eps = attrs.epsilon;
    const f = (xi: number, si: number, bi: number, mi: number, vi: number) =>
      si * (xi - mi) / Math.sqrt(vi + eps) + bi;
    return [broadcastMap([x, s, bias, m, v], f)];
  },
  jvp: ({ b, x, dx, attrs }) => {
    const r = b.rank(x[0]);
    const p = batchNormPrimal(b, x, attrs.epsilon);
    // [K, C] → [K, 1, C, 1, ...]: the K axis, then N, then C, then the spatial axes.
    const lift = (t: string | null) => t && b.unsqueeze(t, [1, ...axesFrom(3, r + 1)]);
    const scaled = b.sum([dx[1], dx[4] && b.neg(b.mul(dx[4], p.varSlope()))]);
    const shift = b.sum([dx[2], dx[3] && b.neg(b.mul(dx[3], p.gain))]);
    return [
      b.sum([
        dx[0] && b.mul(p.channel(p.gain), dx[0]),
        scaled && b.mul(lift(scaled)!, p.xhat()),
        lift(shift),
      ]),
    ];
  },
  vjp: ({ b, x, gy, needs, attrs }) => {
    const r = b.rank(x[0]);
    const p = batchNormPrimal(b, x, attrs.epsilon);
    const g = gy[0]!;
    const notC = [0, ...axesFrom(2, r)];
    const gSum = needs[2] || needs[3] ? b.reduceSum(g, notC, false) : null;
    const gHat = needs[1] || needs[4] ? b.reduceSum(b.mul(g, p.xhat()), notC, false) : null;
    return [
      needs[0] ? b.mul(g, p.channel(p.gain)) : null,
      needs[1] ? gHat : null,
      needs[2] ? gSum : null,
      needs[3] ? b.neg(b.mul(gSum!, p.gain)) : null,
      needs[4] ? b.neg(b.mul(gHat!, p.varSlope())) : null,
    ];
  },
});

/**
 * inv = 1/√(v + ε) and gain = s·inv as [C]; on demand x̂ (X's shape) and ½·s·inv² = −∂inv/∂v·s
 * ([C]), and a [C] → [C, 1, ...] helper that broadcasts a vector along X's channel axis.
 */
function batchNormPrimal(b: Emitter, x: string[], eps: number) {
  const axes = channelAxes(b.rank(x[0]));
  const channel = (t: string) => b.unsqueeze(t, axes);
  const inv = b.op("Reciprocal", [b.op("Sqrt", [b.add(x[4], b.scalar(eps, x[4]))])]);
  return {
    gain: b.mul(x[1], inv),
    channel,
    xhat: () => b.mul(b.sub(x[0], channel(x[3])), channel(inv)),
    varSlope: () => b.mul(b.scalar(0.5, x[4]), b.mul(x[1], b.mul(inv, inv))),
  };
}

// ---------------------------------------------------------------- LayerNormalization

const layerNormAttrs = attrs({
  axis: z.number().default(-1),
  epsilon: z.number().default(1e-5),
  stash_type: z.number().default(1),
});
type LayerNormAttrs = z.infer<typeof layerNormAttrs>;

function checkLayerNorm(node: Node, opset: number, a: LayerNormAttrs): void {
  if (opset < 17) {
    throw new UserError(
      `${node.opType} node "${node.name}": LayerNormalization exists since opset 17 (model: ${opset})`,
    );
  }
  if (a.stash_type !== 1) {
    throw unsupported(node, "stash_type", `= ${a.stash_type} is not supported (only 1, float32)`);
  }
}

function hostLayerNorm(inputs: (Tensor | undefined)[], a: LayerNormAttrs): Tensor[] {
  const t = inputs[0]!;
  const x = floats(t);
  const axes = axesFrom(normAxis(a.axis, t.dims.length), t.dims.length);
  const { of, count, dims } = groupsOf(t.dims, axes);
  const n = x.length / count;
  const mean = new Float64Array(count);
  for (let i = 0; i < x.length; i++) mean[of[i]] += x[i] / n;
  const variance = new Float64Array(count);
  for (let i = 0; i < x.length; i++) variance[of[i]] += (x[i] - mean[of[i]]) ** 2 / n;
  const inv = variance.map((v) => 1 / Math.sqrt(v + a.epsilon));
  const xhat: Tensor = {
    dtype: "float64",
    dims: [...t.dims],
    data: x.map((v, i) => (v - mean[of[i]]) * inv[of[i]]),
  };
  const affine = inputs[2]
    ? broadcastMap([xhat, inputs[1]!, inputs[2]], (h, s, c) => h * s + c)
    : broadcastMap([xhat, inputs[1]!], (h, s) => h * s);
  return [affine, { dtype: "float64", dims, data: mean }, { dtype: "float64", dims, data: inv }];
}

/** μ, inv = 1/√(var + ε) (keepdims) and x̂ = (x − μ)·inv over the normalised axes. */
function layerNormPrimal(b: Emitter, x: string, a: LayerNormAttrs) {
  const rank = b.rank(x);
  const axes = axesFrom(normAxis(a.axis, rank), rank);
  const mean = b.reduce("ReduceMean", x, axes, true);
  const centred = b.sub(x, mean);
  const variance = b.reduce("ReduceMean", b.mul(centred, centred), axes, true);
  const inv = b.op("Reciprocal", [b.op("Sqrt", [b.add(variance, b.scalar(a.epsilon, x))])]);
  return { axes, mean, inv, xhat: b.mul(centred, inv) };
}

/** 1/n for the n normalised elements: a constant, or from runtime sizes when symbolic. */
function inverseCount(b: Emitter, x: string, mean: string, axes: number[]): string {
  const n = staticSize(axes.map((a) => b.shape(x)[a]));
  if (n !== undefined) return b.scalar(1 / n, x);
  const cast = (t: string) => b.castToFloat(t, x);
  return b.div(cast(b.op("Size", [mean])), cast(b.op("Size", [x])));
}

/**
 * Y = x̂·s + b over the axes from `axis` on, with optional outputs Mean (μ) and InvStdDev.
 *   ẋ̂ = inv·(ẋ − mean(ẋ) − x̂·mean(x̂·ẋ)),  Ẏ = ẋ̂·s + x̂·ṡ + ḃ,
 *   μ̇ = mean(ẋ),  i̇nv = −inv²·mean(x̂·ẋ);
 *   ḡx = inv·(h − mean(h) − x̂·mean(h·x̂)) with h = g·s, ḡs = g·x̂, ḡb = g,
 *   plus gμ/n and −gᵢ·inv²·x̂/n from the Mean and InvStdDev cotangents.
 */
const layerNormalization = defineRule(layerNormAttrs, {
  infer: ({ node, inputs, attrs, opset }) => {
    checkLayerNorm(node, opset, attrs);
    const m = inputs[0]!;
    const shape = m.shape;
    const stat = shape && axesFrom(normAxis(attrs.axis, shape.length), shape.length);
    const statShape = shape && shape.map((d, i) => (stat!.includes(i) ? 1 : d));
    const statMeta = { dtype: "float32" as const, shape: statShape };
    return [{ dtype: m.dtype, shape }, statMeta, statMeta];
  },
  evaluate: ({ node, inputs, attrs, opset }) => {
    checkLayerNorm(node, opset, attrs);
    return hostLayerNorm(inputs, attrs);
  },
  jvp: ({ b, x, y, dx, attrs }) => {
    const p = layerNormPrimal(b, x[0], attrs);
    const tAxes = p.axes.map((a) => a + 1);
    const r = b.rank(x[0]);
    let dMean: string | null = null;
    let dInv: string | null = null;
    let dHat: string | null = null;
    if (dx[0]) {
      dMean = b.reduce("ReduceMean", dx[0], tAxes, true);
      const hatDot = b.reduce("ReduceMean", b.mul(p.xhat, dx[0]), tAxes, true);
      dHat = b.mul(p.inv, b.sub(b.sub(dx[0], dMean), b.mul(p.xhat, hatDot)));
      if (y[2]) dInv = b.neg(b.mul(b.mul(p.inv, p.inv), hatDot));
    }
    const dY = b.sum([
      dHat && b.mul(dHat, x[1]),
      dx[1] ? b.mul(alignTangent(b, dx[1], r), p.xhat) : null,
      dx[2] ? alignTangent(b, dx[2], r) : null,
    ]);
    return [dY, dMean, dInv];
  },
  vjp: ({ b, x, gy, needs, attrs }) => {
    const p = layerNormPrimal(b, x[0], attrs);
    const g = gy[0];
    const gMean = gy[1] ?? null;
    const gInv = gy[2] ?? null;
    const mean = (t: string) => b.reduce("ReduceMean", t, p.axes, true);
    let gx: string | null = null;
    if (needs[0]) {
      const parts: (string | null)[] = [];
      if (g) {
        const h = b.mul(g, x[1]);
        parts.push(b.mul(p.inv, b.sub(b.sub(h, mean(h)), b.mul(p.xhat, mean(b.mul(h, p.xhat))))));
      }
      if (gMean || gInv) {
        const invN = inverseCount(b, x[0], p.mean, p.axes);
        if (gMean) parts.push(b.mul(gMean, invN));
        if (gInv) {
          parts.push(b.neg(b.mul(b.mul(gInv, b.mul(b.mul(p.inv, p.inv), invN)), p.xhat)));
        }
      }
      gx = b.sum(parts);
      // A Mean cotangent alone has the statistics' shape: spread it over X.
      if (gx && !sameShape(b.shape(gx), b.shape(x[0]))) {
        gx = b.expandLike(gx, x[0]);
      }
    }
    return [gx, needs[1] && g ? b.mul(g, p.xhat) : null, needs[2] && g ? g : null];
  },
});

/** Normalisation over axes: softmax, log-softmax, batch and layer normalisation. */
export const normalizationRules: Record<string, Rule> = {
  Softmax: softmaxRule(false),
  LogSoftmax: softmaxRule(true),
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
};
