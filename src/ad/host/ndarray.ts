/**
 * Minimal host ndarray helpers for the float64 reference code (the rules' `evaluate`, constant
 * folding, the checker). Floats are Float64Array; int64 stays BigInt64Array; bool is
 * Uint8Array.
 *
 * @module
 */

import { dtypeFromCode } from "../../onnx/dtype.ts";
import type { Dim, DType, Tensor } from "../../onnx/types.ts";
import { broadcastShapes } from "../shapes.ts";

/** A float64 tensor of `dims`: a copy of `data`, or zeros. */
export function f64(dims: number[], data?: ArrayLike<number>): Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  return { dtype: "float64", dims, data: data ? Float64Array.from(data) : new Float64Array(n) };
}

export function numbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}

/** Float tensors become float64: the reference evaluator computes in double precision. */
export function toFloat64(t: Tensor): Tensor {
  if (t.dtype !== "float32") return t;
  return { dtype: "float64", dims: [...t.dims], data: floats(t) };
}

/** Float data as float64 (ints converted). */
export function floats(t: Tensor): Float64Array {
  return t.data instanceof Float64Array ? t.data : Float64Array.from(numbers(t));
}

export function strides(dims: number[]): number[] {
  const s = new Array(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

export function size(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** Writes into `out` the multi-index of flat position `i` of `dims` (row-major `str`). */
export function unravel(i: number, dims: number[], str: number[], out: number[]): number[] {
  for (let a = 0; a < dims.length; a++) out[a] = Math.floor(i / str[a]) % dims[a];
  return out;
}

function asNumbers(dims: Dim[]): number[] {
  return dims.map((d) => {
    if (typeof d !== "number") throw new Error("internal: symbolic dim in a concrete tensor");
    return d;
  });
}

/** Maps flat output index → flat input index for numpy broadcasting of `inDims` to `outDims`. */
export function broadcastIndex(inDims: number[], outDims: number[]): (i: number) => number {
  const lead = outDims.length - inDims.length;
  const inStr = strides(inDims);
  const outStr = strides(outDims);
  return (i: number) => {
    let j = 0;
    for (let a = 0; a < outDims.length; a++) {
      const coord = Math.floor(i / outStr[a]) % outDims[a];
      const ia = a - lead;
      if (ia >= 0 && inDims[ia] !== 1) j += coord * inStr[ia];
    }
    return j;
  };
}

/** Elementwise map over broadcast inputs into a new tensor of `dtype`. */
export function broadcastMap(
  inputs: Tensor[],
  f: (...xs: number[]) => number,
  dtype: DType = "float64",
): Tensor {
  const dims = asNumbers(inputs.map((t): Dim[] => t.dims).reduce((a, b) => broadcastShapes(a, b)));
  const n = size(dims);
  const idx = inputs.map((t) => broadcastIndex(t.dims, dims));
  const vals = inputs.map((t) => floats(t));
  const out = dtype === "float64" ? new Float64Array(n) : new Uint8Array(n);
  const args = new Array<number>(inputs.length);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < inputs.length; k++) args[k] = vals[k][idx[k](i)];
    out[i] = f(...args);
  }
  return { dtype, dims, data: out };
}

/** Elementwise map of one float tensor. */
export function map(t: Tensor, f: (x: number) => number): Tensor {
  return { dtype: "float64", dims: [...t.dims], data: floats(t).map(f) };
}

/** erf to ~1e-15: Taylor series near 0, continued fraction for erfc in the tails. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 100 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= -x * x / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(a) = e^{-a²}/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + ...))))
  let k = a;
  for (let n = 60; n >= 1; n--) k = a + (n / 2) / k;
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / k;
  return x > 0 ? 1 - erfc : erfc - 1;
}

/** Cast on the host; float targets stay float64 (the reference evaluator's float type). */
export function castTensor(t: Tensor, to: number): Tensor {
  const target = dtypeFromCode(to);
  const dtype = target === "float32" ? "float64" : target;
  const vals = numbers(t);
  switch (dtype) {
    case "float64":
      return { dtype, dims: [...t.dims], data: Float64Array.from(vals) };
    case "int64":
      return {
        dtype,
        dims: [...t.dims],
        data: BigInt64Array.from(vals, (v) => BigInt(Math.trunc(v))),
      };
    case "int32":
      return { dtype, dims: [...t.dims], data: Int32Array.from(vals) };
    case "int8":
      return { dtype, dims: [...t.dims], data: Int8Array.from(vals) };
    default:
      return {
        dtype: dtype ?? "uint8",
        dims: [...t.dims],
        data: Uint8Array.from(vals, (v) => (dtype === "bool" ? (v ? 1 : 0) : v)),
      };
  }
}
