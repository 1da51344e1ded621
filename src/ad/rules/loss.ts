/**
 * Piecewise and saturating ops that loss heads and activations use (ReduceMax, Clip, Gelu):
 * their derivatives pick or weight elements where the maximum, the bounds or the
 * approximation say.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Node, Tensor } from "../../onnx/types.ts";
import { erf, floats, map, numbers } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, z } from "../rule.ts";
import { normAxis } from "../shapes.ts";
import { alignTangent } from "../tangent.ts";
import { indicator, sameAsInput } from "./helpers.ts";
import { groupsOf } from "./normalization.ts";
import { constInts } from "./shape_tracking.ts";

// ---------------------------------------------------------------- ReduceMax

const reduceMaxAttrs = attrs({
  axes: z.array(z.number()).optional(),
  keepdims: z.number().default(1),
  noop_with_empty_axes: z.number().default(0),
});
type ReduceMaxAttrs = z.infer<typeof reduceMaxAttrs>;

/** Reduced axes (sorted, non-negative): attribute before opset 18, input since; [] = no-op. */
function maxAxes(opset: number, a: ReduceMaxAttrs, axesInput: number[] | undefined, rank: number) {
  const raw = opset >= 18 ? (axesInput ?? []) : (a.axes ?? []);
  if (raw.length === 0) {
    return a.noop_with_empty_axes ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return raw.map((x) => normAxis(x, rank)).sort((p, q) => p - q);
}

function hostReduceMax(t: Tensor, axes: number[], keep: boolean): Tensor {
  const x = floats(t);
  const { of, count, dims } = groupsOf(t.dims, axes);
  const out = new Float64Array(count).fill(-Infinity);
  for (let i = 0; i < x.length; i++) out[of[i]] = Math.max(out[of[i]], x[i]);
  return {
    dtype: "float64",
    dims: keep ? dims : t.dims.filter((_, i) => !axes.includes(i)),
    data: out,
  };
}

/** The reduced axes of a node being differentiated: its axes input must be a constant. */
function nodeMaxAxes(b: Emitter, node: Node, x: string[], a: ReduceMaxAttrs, opset: number) {
  const axesInput = x[1] ? constInts(b.meta(x[1])) : [];
  if (!axesInput) {
    throw new UserError(`${node.opType} node "${node.name}": axes must be a constant`);
  }
  return maxAxes(opset, a, axesInput, b.rank(x[0]));
}

/**
 * Where the maximum was taken, as weights of X's shape summing to 1 over each reduced group:
 * ties share the derivative equally (JAX's rule for reduce_max). x ≤ max always, so "x is a
 * maximum" is 1 − [x < max]: Less and Cast take floats at every opset (Equal only since 11,
 * Where since 9).
 */
function argmaxWeights(b: Emitter, x: string, y: string, axes: number[], keep: boolean): string {
  const max = keep ? y : b.unsqueeze(y, axes);
  const hit = b.sub(b.scalar(1, x), indicator(b, b.op("Less", [x, max]), x));
  return b.div(hit, b.reduceSum(hit, axes, true));
}

const reduceMax = defineRule(reduceMaxAttrs, {
  infer: ({ inputs, attrs, opset }) => {
    const m = inputs[0]!;
    const axesInput = inputs[1] ? constInts(inputs[1]) : [];
    if (!m.shape || !axesInput) return [{ dtype: m.dtype }];
    const axes = maxAxes(opset, attrs, axesInput, m.shape.length);
    const shape = attrs.keepdims
      ? m.shape.map((d, i) => (axes.includes(i) ? 1 : d))
      : m.shape.filter((_, i) => !axes.includes(i));
    return [{ dtype: m.dtype, shape }];
  },
  evaluate: ({ inputs, attrs, opset }) => {
    const t = inputs[0]!;
    const axes = maxAxes(opset, attrs, inputs[1] && numbers(inputs[1]), t.dims.length);
    return [hostReduceMax(t, axes, attrs.keepdims === 1)];
  },
  jvp: ({ b, node, x, y, dx, attrs, opset }) => {
    const axes = nodeMaxAxes(b, node, x, attrs, opset);
    if (axes.length === 0) return [dx[0]];
    const keep = attrs.keepdims === 1;
    const w = argmaxWeights(b, x[0], y[0], axes, keep);
    return [b.reduceSum(b.mul(w, dx[0]!), axes.map((a) => a + 1), keep)];
  },
  vjp: ({ b, node, x, y, gy, attrs, opset }) => {
    const axes = nodeMaxAxes(b, node, x, attrs, opset);
    if (axes.length === 0) return [gy[0], null];
    const keep = attrs.keepdims === 1;
    const g = keep ? gy[0]! : b.unsqueeze(gy[0]!, axes);
    return [b.mul(argmaxWeights(b, x[0], y[0], axes, keep), g), null];
  },
});

// ---------------------------------------------------------------- Clip

const clipAttrs = attrs({ min: z.number().optional(), max: z.number().optional() });
type ClipAttrs = z.infer<typeof clipAttrs>;

/** The bounds as values: attributes before opset 11, optional scalar inputs since ("" = none). */
function clipBounds(b: Emitter, x: string[], a: ClipAttrs, opset: number) {
  if (opset >= 11) return { lo: x[1] || undefined, hi: x[2] || undefined };
  return {
    lo: a.min === undefined ? undefined : b.scalar(a.min, x[0]),
    hi: a.max === undefined ? undefined : b.scalar(a.max, x[0]),
  };
}

/**
 * y = min(hi, max(x, lo)) (ONNX: when min > max every value becomes max). The derivative
 * flows to x strictly inside (lo, hi), to lo where x < lo < hi, and to hi where
 * max(x, lo) > hi; the boundaries themselves (measure zero) go to hi, or to neither.
 */
function clipMasks(b: Emitter, x: string, lo?: string, hi?: string) {
  const ind = (cond: string) => indicator(b, cond, x);
  const inside = () => {
    const parts = [
      lo && ind(b.op("Greater", [x, lo])),
      hi && ind(b.op("Less", [x, hi])),
    ].filter((p): p is string => !!p);
    return parts.length === 2 ? b.mul(parts[0], parts[1]) : parts[0];
  };
  const atLo = () => {
    const below = ind(b.op("Less", [x, lo!]));
    return hi ? b.mul(below, ind(b.op("Less", [lo!, hi]))) : below;
  };
  const atHi = () => {
    const raised = lo ? b.where(b.op("Less", [x, lo]), lo, x) : x;
    return b.sub(b.scalar(1, x), ind(b.op("Less", [raised, hi!])));
  };
  return { inside, atLo, atHi };
}

const clip = defineRule(clipAttrs, {
  infer: ({ inputs }) => sameAsInput(inputs),
  evaluate: ({ inputs, attrs, opset }) => {
    const bound = (t: Tensor | undefined, attr: number | undefined, none: number) =>
      opset >= 11 ? (t ? floats(t)[0] : none) : (attr ?? none);
    const lo = bound(inputs[1], attrs.min, -Infinity);
    const hi = bound(inputs[2], attrs.max, Infinity);
    return [map(inputs[0]!, (v) => Math.min(hi, Math.max(v, lo)))];
  },
  jvp: ({ b, x, y, dx, attrs, opset }) => {
    const { lo, hi } = clipBounds(b, x, attrs, opset);
    const m = clipMasks(b, x[0], lo, hi);
    const r = b.rank(y[0]);
    return [
      b.sum([
        dx[0] ? (lo || hi ? b.mul(m.inside()!, dx[0]) : dx[0]) : null,
        dx[1] ? b.mul(m.atLo(), alignTangent(b, dx[1], r)) : null,
        dx[2] ? b.mul(m.atHi(), alignTangent(b, dx[2], r)) : null,
      ]),
    ];
  },
  // Gradients of the output's shape; the driver sums them down to the scalar bounds.
  vjp: ({ b, x, gy, needs, attrs, opset }) => {
    const { lo, hi } = clipBounds(b, x, attrs, opset);
    const m = clipMasks(b, x[0], lo, hi);
    const g = gy[0]!;
    return [
      needs[0] ? (lo || hi ? b.mul(m.inside()!, g) : g) : null,
      needs[1] ? b.mul(m.atLo(), g) : null,
      needs[2] ? b.mul(m.atHi(), g) : null,
    ];
  },
});

// ---------------------------------------------------------------- Gelu

const geluAttrs = attrs({ approximate: z.enum(["none", "tanh"]).default("none") });
type GeluAttrs = z.infer<typeof geluAttrs>;

/** √(2/π) and the cubic coefficient of the tanh approximation. */
const C = Math.sqrt(2 / Math.PI);
const A = 0.044715;

function hostGelu(x: number, a: GeluAttrs): number {
  if (a.approximate === "tanh") return 0.5 * x * (1 + Math.tanh(C * (x + A * x * x * x)));
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/**
 * d/dx gelu: exact, Φ(x) + x·φ(x) with Φ(x) = ½(1 + erf(x/√2)), φ(x) = e^(−x²/2)/√(2π);
 * tanh form, ½(1 + t) + ½·x·(1 − t²)·C·(1 + 3A·x²) with t = tanh(C·(x + A·x³)).
 */
function geluDerivative(b: Emitter, x: string, a: GeluAttrs): string {
  const s = (v: number) => b.scalar(v, x);
  const x2 = b.mul(x, x);
  if (a.approximate === "tanh") {
    const t = b.op("Tanh", [b.mul(s(C), b.add(x, b.mul(s(A), b.mul(x2, x))))]);
    const left = b.mul(s(0.5), b.add(s(1), t));
    const slope = b.mul(s(0.5 * C), b.add(s(1), b.mul(s(3 * A), x2)));
    return b.add(left, b.mul(b.mul(x, b.sub(s(1), b.mul(t, t))), slope));
  }
  const cdf = b.mul(s(0.5), b.add(s(1), b.op("Erf", [b.mul(x, s(Math.SQRT1_2))])));
  const pdf = b.mul(b.op("Exp", [b.mul(x2, s(-0.5))]), s(1 / Math.sqrt(2 * Math.PI)));
  return b.add(cdf, b.mul(x, pdf));
}

function checkGelu(node: Node, opset: number): void {
  if (opset < 20) {
    throw new UserError(
      `${node.opType} node "${node.name}": Gelu exists since opset 20 (model: ${opset})`,
    );
  }
}

const gelu = defineRule(geluAttrs, {
  infer: ({ node, inputs, opset }): Meta[] => {
    checkGelu(node, opset);
    return sameAsInput(inputs);
  },
  evaluate: ({ node, inputs, attrs, opset }) => {
    checkGelu(node, opset);
    return [map(inputs[0]!, (v) => hostGelu(v, attrs))];
  },
  jvp: ({ b, x, dx, attrs }) => [b.mul(geluDerivative(b, x[0], attrs), dx[0]!)],
  vjp: ({ b, x, gy, attrs }) => [b.mul(gy[0]!, geluDerivative(b, x[0], attrs))],
});

/** Ops around losses and heads: ReduceMax (max-stabilised scores), Clip, Gelu. */
export const lossRules: Record<string, Rule> = {
  ReduceMax: reduceMax,
  Clip: clip,
  Gelu: gelu,
};
