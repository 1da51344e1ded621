/**
 * Emit helpers for the data-movement rules: shape vectors built from static and runtime
 * pieces, zeros of a runtime shape, and Slice and Pad in the form the model's opset expects.
 *
 * @module
 */

import { scalarTensor } from "../../onnx/tensor.ts";
import type { DType, Tensor } from "../../onnx/types.ts";
import type { Emitter } from "../emit.ts";
import { isStatic } from "../shapes.ts";
import { constInts, isNum } from "./shape_tracking.ts";

/** Ends like INT64_MAX as plain safe numbers (they are clamped by the op anyway). */
export const BIG = Number.MAX_SAFE_INTEGER;
export const safe = (v: number) => Math.max(-BIG, Math.min(BIG, v));

/** A 1-D int64 list: constant values, or the name of a runtime int64 vector. */
export type Ints = number[] | string;

/** x's dims [from, to) as a 1-D int64: a constant when static, else read at run time. */
export function dimsOf(b: Emitter, x: string, from: number, to: number): string {
  const s = b.shape(x).slice(from, to);
  if (isStatic(s)) return b.ints(s);
  if (b.opset >= 15) return b.op("Shape", [x], { start: from, end: to });
  return emitSlice(b, b.shapeOf(x), [from], [to], [0]);
}

/** One 1-D int64 from constant and runtime pieces (adjacent constants merged). */
export function joinDims(b: Emitter, pieces: Ints[]): string {
  const merged: Ints[] = [];
  for (const piece of pieces) {
    const p = typeof piece === "string" ? (constInts(b.meta(piece)) ?? piece) : piece;
    const last = merged[merged.length - 1];
    if (Array.isArray(p) && Array.isArray(last)) merged[merged.length - 1] = [...last, ...p];
    else if (!Array.isArray(p) || p.length > 0) merged.push(p);
  }
  if (merged.length === 0) return b.ints([]);
  const names = merged.map((p) => (typeof p === "string" ? p : b.ints(p)));
  return names.length === 1 ? names[0] : b.op("Concat", names, { axis: 0 });
}

/** The shape [K, ...shape(y)] of y's tangent. */
export function tangentDims(b: Emitter, y: string, K: number): string {
  return joinDims(b, [[K], dimsOf(b, y, 0, b.rank(y))]);
}

export function zeroValue(dtype: DType): Tensor {
  return { ...scalarTensor(0, dtype === "float64" ? "float64" : "float32"), dims: [1] };
}

/** Zeros of the runtime shape `dims` (rank `rank`). */
export function zeros(b: Emitter, dims: string, rank: number, dtype: DType): string {
  if (b.opset >= 9) return b.op("ConstantOfShape", [dims], { value: zeroValue(dtype) });
  // ConstantOfShape is opset 9: tile a one-element zero instead.
  const one = b.constant({ ...zeroValue(dtype), dims: Array(rank).fill(1) }, "zero");
  return b.op("Tile", [one, dims]);
}

export const zerosLike = (b: Emitter, x: string) =>
  zeros(b, dimsOf(b, x, 0, b.rank(x)), b.rank(x), b.dtype(x));

/** A zero tangent [K, ...shape(x)] for an input without one. */
export function zeroTangentOf(b: Emitter, x: string, K: number): string {
  return zeros(b, tangentDims(b, x, K), b.rank(x) + 1, b.dtype(x));
}

export function emitSlice(
  b: Emitter,
  x: string,
  starts: Ints,
  ends: Ints,
  axes: number[],
  steps?: number[],
): string {
  const stepped = steps?.some((s) => s !== 1);
  if (b.opset >= 10) {
    const vec = (v: Ints) => (typeof v === "string" ? v : b.ints(v.map(safe)));
    const inputs = [x, vec(starts), vec(ends), b.ints(axes)];
    if (stepped) inputs.push(b.ints(steps!));
    return b.op("Slice", inputs);
  }
  if (typeof starts === "string" || typeof ends === "string" || stepped) {
    throw new Error("internal: runtime or strided Slice before opset 10");
  }
  return b.op("Slice", [x], { starts: starts.map(safe), ends: ends.map(safe), axes });
}

/** Zero-pads x by begin/end per axis: constants, or names of 1-element int64 vectors. */
export function emitPad(
  b: Emitter,
  x: string,
  begin: (number | string)[],
  end: (number | string)[],
): string {
  const all = [...begin, ...end];
  if (all.every(isNum)) {
    if (all.every((p) => p === 0)) return x;
    if (b.opset < 11) return b.op("Pad", [x], { pads: all, mode: "constant" });
    return b.op("Pad", [x, b.ints(all)]);
  }
  if (b.opset < 11) throw new Error("internal: runtime Pad before opset 11");
  return b.op("Pad", [x, joinDims(b, all.map((p) => (typeof p === "number" ? [p] : p)))]);
}

/** Pads of one axis only, the others zero. */
export function padAxis(
  b: Emitter,
  x: string,
  axis: number,
  lo: number | string,
  hi: number | string,
): string {
  const begin: (number | string)[] = b.shape(x).map(() => 0);
  const end = [...begin];
  begin[axis] = lo;
  end[axis] = hi;
  return emitPad(b, x, begin, end);
}
