/**
 * The layout family: ops that change how a tensor's elements are arranged, not which ones it
 * holds (Identity, Reshape, Flatten, Transpose, Unsqueeze, Squeeze). Each is linear, so each
 * is a `linearRule`: the JVP applies the op to the tangent with its axes shifted past K, the
 * VJP applies the inverse arrangement to the cotangent.
 *
 * @module
 */

import type { Dim, Node } from "../../onnx/types.ts";
import type { Emitter } from "../emit.ts";
import { numbers } from "../host/ndarray.ts";
import { hostTranspose } from "../host/movement.ts";
import type { Meta } from "../meta.ts";
import { attrs, type Rule, unsupported, z } from "../rule.ts";
import { normAxis } from "../shapes.ts";
import { linearRule, linearUnaryRule } from "./helpers.ts";
import { dimsOf, tangentDims } from "./shape_emit.ts";
import {
  constInts,
  label,
  meta,
  needConst,
  product,
  quotient,
  reshapedMeta,
  shapeDims,
} from "./shape_tracking.ts";

/** The shape after inserting size-1 axes at `axes` (of the output rank). */
function unsqueezeShape(shape: Dim[], axes: number[]): Dim[] {
  const rank = shape.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : shape[j++]);
  return out;
}

/**
 * Squeezed axes, normalised and sorted. Without axes every size-1 dim goes; a symbolic dim
 * counts as not 1 (its runtime value cannot be known here), as ONNX shape inference does.
 */
function squeezedAxes(shape: Dim[], axes: number[] | undefined): number[] {
  if (!axes) return shape.flatMap((d, i) => (d === 1 ? [i] : []));
  return axes.map((a) => normAxis(a, shape.length)).sort((p, q) => p - q);
}

const axesAttr = attrs({ axes: z.array(z.number()).optional() });

/** Axes from the attribute (before `since`) or the constant input; undefined when unknown. */
function axesOf(
  opset: number,
  since: number,
  attr: number[] | undefined,
  input: Meta | undefined,
): number[] | undefined {
  return opset >= since ? constInts(input) : attr;
}

/** Squeeze's axes (attribute before 13, optional input since; all size-1 dims when omitted). */
function squeezedAxesOf(
  opset: number,
  attr: number[] | undefined,
  input: Meta | undefined,
  shape: Dim[] | undefined,
): number[] | undefined {
  if (!shape) return undefined;
  if (opset >= 13 && input) {
    const axes = constInts(input);
    return axes && squeezedAxes(shape, axes);
  }
  return squeezedAxes(shape, opset >= 13 ? undefined : attr);
}

/** Reshape's output shape: 0 copies the input dim (unless allowzero), -1 takes the rest. */
function reshapeTarget(node: Node, inShape: Dim[] | undefined, target: Dim[], allowzero: boolean) {
  if (allowzero && target.includes(0) && target.includes(-1)) {
    throw unsupported(node, "allowzero", "= 1 with both 0 and -1 in the shape is invalid ONNX");
  }
  const out: Dim[] = target.map((
    t,
    i,
  ) => (t === 0 && !allowzero ? (inShape?.[i] ?? label(node, i)) : t));
  const free = out.indexOf(-1);
  if (free >= 0) {
    out[free] = inShape ? quotient(inShape, out.filter((_, i) => i !== free)) : label(node, free);
  }
  return out;
}

/** Flatten's 2-D output shape: the dims before `axis` and the dims from it, multiplied. */
function flattenShape(node: Node, shape: Dim[], axis: number): Dim[] {
  const a = normAxis(axis, shape.length);
  if (a < 0 || a > shape.length) {
    throw unsupported(node, "axis", `= ${axis} is out of range for rank ${shape.length}`);
  }
  return [product(shape.slice(0, a)), product(shape.slice(a))];
}

/** Reshape-like ops: tangent reshaped to [K, ...shape(y)], cotangent to shape(x). */
const reshapeJvp = (b: Emitter, dx: string, y: string, K: number) =>
  b.op("Reshape", [dx, tangentDims(b, y, K)]);
const reshapeVjp = (b: Emitter, gy: string, x: string) =>
  b.op("Reshape", [gy, dimsOf(b, x, 0, b.rank(x))]);

/** Transpose's permutation: the attribute, or the axes reversed. */
function permOf(perm: number[] | undefined, rank: number): number[] {
  return perm ?? Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

/** The layout family's table entries. */
export const layoutRules: Record<string, Rule> = {
  Identity: linearUnaryRule((_e, t) => t, (x) => x),

  Reshape: linearRule(attrs({ allowzero: z.number().default(0) }), {
    infer: ({ node, inputs, attrs }) => {
      const m = inputs[0]!;
      const target = shapeDims(inputs[1]);
      if (target) {
        return [reshapedMeta(m, reshapeTarget(node, m.shape, target, attrs.allowzero === 1))];
      }
      const r = inputs[1]?.shape?.[0];
      return [{
        dtype: m.dtype,
        shape: typeof r === "number"
          ? Array.from({ length: r }, (_, i) => label(node, i))
          : undefined,
      }];
    },
    evaluate: ({ node, inputs, attrs }) => {
      const t = inputs[0]!;
      const dims = reshapeTarget(node, t.dims, numbers(inputs[1]!), attrs.allowzero === 1);
      return [{ ...t, dims: dims as number[] }];
    },
    tangent: ({ b, y, K }, t) => reshapeJvp(b, t, y[0], K),
    transpose: ({ b, x }, g) => reshapeVjp(b, g, x[0]),
  }),

  Flatten: linearRule(attrs({ axis: z.number().default(1) }), {
    infer: ({ node, inputs, attrs }) => {
      const m = inputs[0]!;
      return [reshapedMeta(m, m.shape && flattenShape(node, m.shape, attrs.axis))];
    },
    evaluate: ({ node, inputs, attrs }) => {
      const t = inputs[0]!;
      return [{ ...t, dims: flattenShape(node, t.dims, attrs.axis) as number[] }];
    },
    tangent: ({ b, y, K }, t) => reshapeJvp(b, t, y[0], K),
    transpose: ({ b, x }, g) => reshapeVjp(b, g, x[0]),
  }),

  Transpose: linearRule(attrs({ perm: z.array(z.number()).optional() }), {
    infer: ({ inputs, attrs }) => {
      const m = inputs[0]!;
      if (!m.shape) return [{ dtype: m.dtype }];
      const perm = permOf(attrs.perm, m.shape.length);
      return [{ dtype: m.dtype, shape: perm.map((p) => m.shape![p]) }];
    },
    evaluate: ({ inputs, attrs }) => {
      const t = inputs[0]!;
      return [hostTranspose(t, permOf(attrs.perm, t.dims.length))];
    },
    tangent: ({ b, x, attrs }, t) => {
      const perm = permOf(attrs.perm, b.rank(x[0]));
      return b.transpose(t, [0, ...perm.map((p) => p + 1)]);
    },
    transpose: ({ b, x, attrs }, g) => {
      const perm = permOf(attrs.perm, b.rank(x[0]));
      return b.transpose(g, perm.map((_, i) => perm.indexOf(i)));
    },
  }),

  Unsqueeze: linearRule(axesAttr, {
    infer: ({ inputs, attrs, opset }) => {
      const axes = axesOf(opset, 13, attrs.axes, inputs[1]);
      const m = inputs[0]!;
      return [reshapedMeta(m, m.shape && axes && unsqueezeShape(m.shape, axes))];
    },
    evaluate: ({ inputs, attrs, opset }) => {
      const axes = opset >= 13 ? numbers(inputs[1]!) : attrs.axes!;
      return [{ ...inputs[0]!, dims: unsqueezeShape(inputs[0]!.dims, axes) as number[] }];
    },
    tangent: ({ b, x, node, attrs, opset }, t) => {
      const axes = needConst(node, "axes", axesOf(opset, 13, attrs.axes, meta(b, x[1])));
      const rank = b.rank(x[0]) + axes.length;
      return b.unsqueeze(t, axes.map((a) => normAxis(a, rank) + 1));
    },
    transpose: ({ b, x, node, attrs, opset }, g) => {
      const axes = needConst(node, "axes", axesOf(opset, 13, attrs.axes, meta(b, x[1])));
      const rank = b.rank(x[0]) + axes.length;
      return b.squeeze(g, axes.map((a) => normAxis(a, rank)));
    },
  }),

  Squeeze: linearRule(axesAttr, {
    infer: ({ inputs, attrs, opset }) => {
      const m = inputs[0]!;
      // Opset ≥ 13: an omitted axes input squeezes every size-1 dim; a runtime one is unknown.
      if (opset >= 13 && inputs[1] && !constInts(inputs[1])) return [{ dtype: m.dtype }];
      const axes = squeezedAxesOf(opset, attrs.axes, inputs[1], m.shape);
      return [reshapedMeta(m, m.shape && m.shape.filter((_, i) => !axes!.includes(i)))];
    },
    evaluate: ({ inputs, attrs, opset }) => {
      const t = inputs[0]!;
      const raw = opset >= 13 ? (inputs[1] ? numbers(inputs[1]) : undefined) : attrs.axes;
      const axes = squeezedAxes(t.dims, raw);
      return [{ ...t, dims: t.dims.filter((_, i) => !axes.includes(i)) }];
    },
    tangent: ({ b, x, node, attrs, opset }, t) => {
      const axes = needConst(
        node,
        "axes",
        squeezedAxesOf(opset, attrs.axes, meta(b, x[1]), b.shape(x[0])),
      );
      return b.squeeze(t, axes.map((a) => a + 1));
    },
    transpose: ({ b, x, node, attrs, opset }, g) => {
      const axes = needConst(
        node,
        "axes",
        squeezedAxesOf(opset, attrs.axes, meta(b, x[1]), b.shape(x[0])),
      );
      return b.unsqueeze(g, axes);
    },
  }),
};
