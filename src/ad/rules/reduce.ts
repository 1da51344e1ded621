/**
 * The reduction family (ReduceSum, ReduceMean): linear, so the tangent is reduced the same
 * way (axes shifted past K) and the cotangent is spread back over the reduced axes.
 *
 * @module
 */

import type { Dim, Tensor } from "../../onnx/types.ts";
import { floats, strides } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, z } from "../rule.ts";
import { normAxis } from "../shapes.ts";
import { constInts } from "./shape_tracking.ts";

const reduceAttrs = attrs({
  axes: z.array(z.number()).optional(),
  keepdims: z.number().default(1),
  noop_with_empty_axes: z.number().default(0),
});
type ReduceAttrs = z.infer<typeof reduceAttrs>;

/** Opset at which each reduction's axes moved from attribute to input. */
const AXES_INPUT_SINCE: Record<string, number> = { ReduceSum: 13, ReduceMean: 18 };

/** The normalised reduced axes, or undefined when unknown; [] with noop means identity. */
function reducedAxes(
  op: string,
  opset: number,
  a: ReduceAttrs,
  axesInput: Meta | undefined,
  rank: number,
): number[] | undefined {
  const raw = opset >= AXES_INPUT_SINCE[op]
    ? (axesInput ? constInts(axesInput) : [])
    : (a.axes ?? []);
  if (!raw) return undefined;
  if (raw.length === 0) {
    return a.noop_with_empty_axes ? [] : Array.from({ length: rank }, (_, i) => i);
  }
  return raw.map((x) => normAxis(x, rank)).sort((p, q) => p - q);
}

function reducedShape(shape: Dim[], axes: number[], keep: boolean): Dim[] {
  return keep
    ? shape.map((d, i) => (axes.includes(i) ? 1 : d))
    : shape.filter((_, i) => !axes.includes(i));
}

function hostReduce(t: Tensor, axes: number[], keep: boolean, mean: boolean): Tensor {
  const dims = t.dims;
  const outDimsKeep = dims.map((d, i) => (axes.includes(i) ? 1 : d));
  const outStr = strides(outDimsKeep);
  const inStr = strides(dims);
  const out = new Float64Array(outDimsKeep.reduce((a, b) => a * b, 1));
  const x = floats(t);
  for (let i = 0; i < x.length; i++) {
    let j = 0;
    for (let a = 0; a < dims.length; a++) {
      if (!axes.includes(a)) j += (Math.floor(i / inStr[a]) % dims[a]) * outStr[a];
    }
    out[j] += x[i];
  }
  if (mean) {
    const count = axes.reduce((a, ax) => a * dims[ax], 1);
    for (let j = 0; j < out.length; j++) out[j] /= count;
  }
  return { dtype: "float64", dims: reducedShape(dims, axes, keep) as number[], data: out };
}

/** Gradient of a reduction: re-insert reduced axes, broadcast back to the input's shape. */
function spread(e: Emitter, g: string, x: string, axes: number[], keep: boolean): string {
  const kept = keep ? g : e.unsqueeze(g, axes);
  return e.expandLike(kept, x);
}

function reduction(op: "ReduceSum" | "ReduceMean"): Rule {
  const mean = op === "ReduceMean";
  const axesFor = (opset: number, a: ReduceAttrs, e: Emitter, x: string[]) =>
    reducedAxes(op, opset, a, x[1] ? e.meta(x[1]) : undefined, e.rank(x[0]))!;
  return defineRule(reduceAttrs, {
    infer: ({ inputs, attrs, opset }) => {
      const m = inputs[0]!;
      if (!m.shape) return [{ dtype: m.dtype }];
      const axes = reducedAxes(op, opset, attrs, inputs[1], m.shape.length);
      return [{ dtype: m.dtype, shape: axes && reducedShape(m.shape, axes, attrs.keepdims === 1) }];
    },
    evaluate: ({ inputs, attrs, opset }) => {
      const t = inputs[0]!;
      const axesMeta = inputs[1] && { dtype: inputs[1].dtype, value: inputs[1] };
      const axes = reducedAxes(op, opset, attrs, axesMeta, t.dims.length)!;
      return [hostReduce(t, axes, attrs.keepdims === 1, mean)];
    },
    // The K axis is axis 0 of the tangent: reduce the same data axes, shifted by one.
    jvp: ({ b, x, dx, attrs, opset }) => {
      const axes = axesFor(opset, attrs, b, x);
      if (axes.length === 0) return [dx[0]];
      return [b.reduce(op, dx[0]!, axes.map((a) => a + 1), attrs.keepdims === 1)];
    },
    vjp: ({ b, x, y, gy, attrs, opset }) => {
      const axes = axesFor(opset, attrs, b, x);
      if (axes.length === 0) return [gy[0], null];
      const g = spread(b, gy[0]!, x[0], axes, attrs.keepdims === 1);
      if (!mean) return [g, null];
      // Divide by the number of reduced elements, from runtime sizes (dims may be symbolic).
      const count = b.castToFloat(b.div(b.op("Size", [x[0]]), b.op("Size", [y[0]])), x[0]);
      return [b.div(g, count), null];
    },
  });
}

export const reduceRules: Record<string, Rule> = {
  ReduceSum: reduction("ReduceSum"),
  ReduceMean: reduction("ReduceMean"),
};
