import type { Dim } from "../onnx/types.ts";
import type { Emitter } from "./emit.ts";
import { sameShape } from "./shapes.ts";

/**
 * Helpers for the leading tangent axis K. A tangent of x has shape [K, ...shape(x)]; before
 * it meets a value of higher rank it must get size-1 axes after K, or numpy broadcasting
 * would align K with a data axis (a [K, O] bias tangent against [K, N, O]).
 */
export function alignTangent(e: Emitter, t: string, outRank: number): string {
  const r = e.rank(t) - 1;
  if (r >= outRank) return t;
  return e.unsqueeze(t, Array.from({ length: outRank - r }, (_, i) => i + 1));
}

/** Makes `t` exactly [K, ...shape(y)], broadcasting it if a term left it smaller. */
export function fullTangent(e: Emitter, t: string, y: string, K: number): string {
  const target: Dim[] = [K, ...e.shape(y)];
  const aligned = alignTangent(e, t, target.length - 1);
  if (sameShape(e.meta(aligned).shape, target)) return aligned;
  if (e.opset < 8) return e.add(aligned, zerosAbove(e, y)); // Expand arrived in opset 8
  return e.op("Expand", [aligned, tangentShape(e, y, K)]);
}

/**
 * Zeros [1, ...shape(y)] from y itself, for opsets before Expand (8) and ConstantOfShape (9):
 * adding them broadcasts a tangent to y's full shape. (y is finite wherever this is used.)
 */
function zerosAbove(e: Emitter, y: string): string {
  return e.mul(e.unsqueeze(y, [0]), e.scalar(0, y));
}

/** The runtime shape [K, ...shape(y)] as a 1-D int64 tensor. */
export function tangentShape(e: Emitter, y: string, K: number): string {
  return e.op("Concat", [e.ints([K]), e.shapeOf(y)], { axis: 0 });
}

/** Zero tangent [K, ...shape(y)] (for outputs that depend on no `wrt` tensor). */
export function zeroTangent(e: Emitter, y: string, K: number): string {
  if (e.opset < 9) {
    const ones = Array.from({ length: e.rank(y) }, () => 1);
    const dtype = e.dtype(y);
    const data = dtype === "float64" ? new Float64Array(K) : new Float32Array(K);
    return e.add(zerosAbove(e, y), e.constant({ dtype, dims: [K, ...ones], data }, "zeros"));
  }
  const zero = {
    dtype: e.dtype(y),
    dims: [1],
    data: e.dtype(y) === "float64" ? new Float64Array(1) : new Float32Array(1),
  };
  return e.op("ConstantOfShape", [tangentShape(e, y, K)], { value: zero });
}

/**
 * Sums a gradient of broadcast shape `from` back to the shape `to` of the input it belongs
 * to: over leading axes `to` lacks, and over axes where `to` has size 1.
 */
export function unbroadcast(e: Emitter, g: string, to: Dim[]): string {
  const from = e.shape(g);
  if (sameShape(from, to)) return g;
  const lead = from.length - to.length;
  const keepAxes: number[] = [];
  for (let i = 0; i < to.length; i++) {
    if (to[i] === 1 && from[lead + i] !== 1) keepAxes.push(lead + i);
  }
  let out = e.reduceSum(g, keepAxes, true);
  out = e.reduceSum(out, Array.from({ length: lead }, (_, i) => i), false);
  return out;
}
