/**
 * Element movement on the host for the reference evaluator: tensors of any element type
 * (floats as float64) re-indexed, concatenated, transposed and gathered, as the layout,
 * slicing and gather rules' `evaluate` need.
 *
 * @module
 */

import type { Tensor } from "../../onnx/types.ts";
import { normAxis } from "../shapes.ts";
import { size, strides } from "./ndarray.ts";

/** A tensor of `dims` whose element i is t's element src(i), or `fill` where src(i) < 0. */
export function remap(t: Tensor, dims: number[], src: (i: number) => number, fill = 0): Tensor {
  const n = size(dims);
  const d = t.data;
  if (d instanceof BigInt64Array) {
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const j = src(i);
      out[i] = j < 0 ? BigInt(fill) : d[j];
    }
    return { dtype: t.dtype, dims, data: out };
  }
  // Every other TensorData is an array of numbers with the same constructor signature.
  const from = d as Float64Array;
  const out = new (d.constructor as Float64ArrayConstructor)(n);
  for (let i = 0; i < n; i++) {
    const j = src(i);
    out[i] = j < 0 ? fill : from[j];
  }
  return { dtype: t.dtype, dims, data: out };
}

/** Source index per output index when each output axis reads one input coordinate. */
export function axisMap(
  inDims: number[],
  outDims: number[],
  coord: (axis: number, o: number) => number,
): (i: number) => number {
  const inS = strides(inDims);
  const outS = strides(outDims);
  return (i) => {
    let j = 0;
    for (let a = 0; a < outDims.length; a++) {
      const c = coord(a, Math.floor(i / outS[a]) % outDims[a]);
      if (c < 0) return -1;
      j += c * inS[a];
    }
    return j;
  };
}

/** Host concat along an axis, keeping the element type. */
export function concat(ts: Tensor[], axis: number): Tensor {
  const ax = normAxis(axis, ts[0].dims.length);
  const dims = [...ts[0].dims];
  dims[ax] = ts.reduce((a, t) => a + t.dims[ax], 0);
  const outer = size(dims.slice(0, ax));
  const out: (number | bigint)[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const n = size(t.dims.slice(ax));
      const data = t.data as ArrayLike<number | bigint>;
      for (let j = 0; j < n; j++) out.push(data[o * n + j]);
    }
  }
  const first = ts[0].data;
  const data = first instanceof BigInt64Array
    ? BigInt64Array.from(out as bigint[])
    : (first.constructor as Float64ArrayConstructor).from(out as number[]);
  return { dtype: ts[0].dtype, dims, data };
}

/** Transpose: output axis a is input axis perm[a]. */
export function hostTranspose(t: Tensor, perm: number[]): Tensor {
  const dims = perm.map((p) => t.dims[p]);
  const inS = strides(t.dims);
  const outS = strides(dims);
  return remap(t, dims, (i) => {
    let j = 0;
    for (let a = 0; a < dims.length; a++) j += (Math.floor(i / outS[a]) % dims[a]) * inS[perm[a]];
    return j;
  });
}

/** Gather along `axis` at flat indices `idx` (shaped `idxShape`; negative counts from the back). */
export function hostGather(t: Tensor, idx: number[], idxShape: number[], axis: number): Tensor {
  const d = t.dims[axis];
  const post = size(t.dims.slice(axis + 1));
  const n = idx.length;
  const dims = [...t.dims.slice(0, axis), ...idxShape, ...t.dims.slice(axis + 1)];
  return remap(t, dims, (i) => {
    const k = Math.floor(i / post) % n;
    const p = Math.floor(i / (post * n));
    const ix = idx[k] < 0 ? idx[k] + d : idx[k];
    return (p * d + ix) * post + (i % post);
  });
}
