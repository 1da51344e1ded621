/**
 * Symbolic shape tracking for the rules: int64 tensors of rank ≤ 1 carry their element values
 * in `Meta.dims` (symbolic entries allowed, e.g. Shape(x) of [N, 3] holds ["N", 3]) and in
 * `Meta.value` when all are known, through Shape → Gather → Unsqueeze → Concat → Reshape
 * chains as PyTorch exports them, so a runtime-computed Reshape target still has a static
 * meaning. Also the symbolic dim arithmetic (products, quotients, stand-in names) the shape
 * inference of the layout and slicing rules writes.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import { int64Tensor, tensorNumbers } from "../../onnx/tensor.ts";
import type { Dim, Node, Tensor } from "../../onnx/types.ts";
import type { Emitter } from "../emit.ts";
import { size } from "../host/ndarray.ts";
import type { Meta } from "../meta.ts";
import { isStatic } from "../shapes.ts";

/** Element values of a small int64 tensor (shape vectors): symbolic (from Shape) or constant. */
export function shapeDims(m: Meta | undefined): Dim[] | undefined {
  if (!m) return undefined;
  if (m.dims) return m.dims;
  return m.value ? tensorNumbers(m.value) : undefined;
}

/** Constant int list of an input (axes, shapes), if known. */
export function constInts(m: Meta | undefined): number[] | undefined {
  if (m?.value) return tensorNumbers(m.value);
  return m?.dims && isStatic(m.dims) ? m.dims : undefined;
}

/** Metadata of an int64 tensor of rank ≤ 1 holding `vals` (possibly symbolic). */
export function intsMeta(shape: Dim[], vals: Dim[] | undefined): Meta {
  return {
    dtype: "int64",
    shape,
    dims: vals,
    value: vals && isStatic(vals) && isStatic(shape) ? int64Tensor(shape, vals) : undefined,
  };
}

/** `m` under a new shape, keeping a constant value and element dims (rank ≤ 1). */
export function reshapedMeta(m: Meta, shape: Dim[] | undefined): Meta {
  const out: Meta = { dtype: m.dtype, shape };
  if (shape && isStatic(shape)) {
    if (m.value) out.value = { ...m.value, dims: shape };
    if (m.dims && shape.length <= 1) out.dims = m.dims;
  }
  return out;
}

/** Constants this small are folded at transform time (shape arithmetic on int tensors). */
export const FOLD_LIMIT = 256;

/** `m` with its constant value computed, when all inputs were known and the result is small. */
export function folded(m: Meta, known: boolean, compute: () => Tensor): Meta {
  if (!known || m.value || !m.shape || !isStatic(m.shape) || size(m.shape) > FOLD_LIMIT) return m;
  return { ...m, value: compute() };
}

/** A stand-in for a dim no rule can know statically; unique per node output and axis. */
export function label(node: Node, i: number): string {
  return `${node.outputs[0]}_dim${i}`;
}

/** Product of dims: a number when all are concrete, else a readable symbolic name. */
export function product(ds: Dim[]): Dim {
  const n = ds.reduce<number>((a, d) => (typeof d === "number" ? a * d : a), 1);
  const syms = ds.filter((d): d is string => typeof d === "string");
  if (syms.length === 0 || n === 0) return n;
  if (n === 1) return syms.join("*");
  return [...syms, n].join("*");
}

/** prod(num) / prod(den), cancelling equal symbolic names (for Reshape's -1). */
export function quotient(num: Dim[], den: Dim[]): Dim {
  const syms = num.filter((d): d is string => typeof d === "string");
  const extra: string[] = [];
  let n = 1;
  let m = 1;
  for (const d of num) if (typeof d === "number") n *= d;
  for (const d of den) {
    if (typeof d === "number") m *= d;
    else if (syms.includes(d)) syms.splice(syms.indexOf(d), 1);
    else extra.push(d);
  }
  if (extra.length === 0 && m !== 0 && n % m === 0) return product([...syms, n / m]);
  return `(${product(num)})/(${product(den)})`;
}

export const isNum = (d: Dim): d is number => typeof d === "number";

export function needConst(node: Node, what: string, v: number[] | undefined): number[] {
  if (v) return v;
  throw new UserError(
    `${node.opType} node "${node.name}": input "${what}" must be a constant (or computable from static shapes) to differentiate this op`,
  );
}

/** Metadata of an optional input ("" or absent → undefined). */
export function meta(b: Emitter, name: string | undefined): Meta | undefined {
  return name ? b.meta(name) : undefined;
}
