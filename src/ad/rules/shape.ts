import { int64Tensor, tensorNumbers } from "../../onnx/tensor.ts";
import type { Dim, Tensor } from "../../onnx/types.ts";
import { numbers } from "../check/ndarray.ts";
import { attrs, defineRule, type Meta, type Rule, z } from "../rule.ts";
import { normAxis } from "../shapes.ts";
import { noAttrs } from "./helpers.ts";

/** Dims held by a 1-D int64 shape value: symbolic (from Shape) or constant. */
export function shapeDims(m: Meta | undefined): Dim[] | undefined {
  if (!m) return undefined;
  if (m.dims) return m.dims;
  return m.value ? tensorNumbers(m.value) : undefined;
}

/** Constant int list of an input (axes, shapes), if known. */
export function constInts(m: Meta | undefined): number[] | undefined {
  return m?.value ? tensorNumbers(m.value) : undefined;
}

function shapeMeta(dims: Dim[] | undefined): Meta {
  return {
    dtype: "int64",
    shape: [dims?.length ?? "rank"],
    dims,
    value: dims && dims.every((d) => typeof d === "number")
      ? int64Tensor([dims.length], dims as number[])
      : undefined,
  };
}

/** Unsqueeze: insert size-1 axes (attribute before opset 13, input since). */
function unsqueezeShape(shape: Dim[], axes: number[]): Dim[] {
  const rank = shape.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : shape[j++]);
  return out;
}

function squeezeShape(shape: Dim[], axes: number[] | undefined): Dim[] {
  if (!axes) return shape.filter((d) => d !== 1);
  const norm = new Set(axes.map((a) => normAxis(a, shape.length)));
  return shape.filter((_, i) => !norm.has(i));
}

const axesAttr = attrs({ axes: z.array(z.number()).optional() });

function axesOf(
  opset: number,
  since: number,
  attr: number[] | undefined,
  input: Meta | undefined,
): number[] | undefined {
  return opset >= since ? constInts(input) : attr;
}

function reshaped(t: Tensor, dims: number[]): Tensor {
  return { ...t, dims };
}

/** Core shape ops. */
export const shapeRules: Record<string, Rule> = {
  Shape: defineRule(attrs({ start: z.number().optional(), end: z.number().optional() }), {
    infer: ({ inputs, attrs }) => {
      const s = inputs[0]?.shape;
      return [shapeMeta(s && s.slice(attrs.start ?? 0, attrs.end ?? s.length))];
    },
    evaluate: ({ inputs, attrs }) => {
      const s = inputs[0]!.dims;
      const d = s.slice(attrs.start ?? 0, attrs.end ?? s.length);
      return [int64Tensor([d.length], d)];
    },
    zeroDerivative: true,
  }),
  ConstantOfShape: defineRule(attrs({ value: z.custom<Tensor>().optional() }), {
    infer: (
      { inputs, attrs },
    ) => [{ dtype: attrs.value?.dtype ?? "float32", shape: shapeDims(inputs[0]) }],
    evaluate: ({ inputs, attrs }) => {
      const dims = numbers(inputs[0]!);
      const n = dims.reduce((a, b) => a * b, 1);
      const v = attrs.value ? numbers(attrs.value)[0] : 0;
      return [{ dtype: "float64", dims, data: new Float64Array(n).fill(v) }];
    },
    zeroDerivative: true,
  }),
  Unsqueeze: defineRule(axesAttr, {
    infer: ({ inputs, attrs, opset }) => {
      const axes = axesOf(opset, 13, attrs.axes, inputs[1]);
      const m = inputs[0]!;
      const shape = m.shape && axes && unsqueezeShape(m.shape, axes);
      return [{
        dtype: m.dtype,
        shape,
        value: m.value && shape ? reshaped(m.value, shape as number[]) : undefined,
      }];
    },
    evaluate: ({ inputs, attrs, opset }) => {
      const axes = opset >= 13 ? numbers(inputs[1]!) : attrs.axes!;
      return [reshaped(inputs[0]!, unsqueezeShape(inputs[0]!.dims, axes) as number[])];
    },
    jvp: ({ b, dx, x, attrs, opset }) => {
      const axes = opset >= 13 ? constInts(b.meta(x[1])) : attrs.axes;
      const rank = b.rank(x[0]) + axes!.length;
      return [b.unsqueeze(dx[0]!, axes!.map((a) => normAxis(a, rank) + 1))];
    },
    vjp: ({ b, gy, x, attrs, opset }) => {
      const axes = opset >= 13 ? constInts(b.meta(x[1])) : attrs.axes;
      const rank = b.rank(x[0]) + axes!.length;
      return [b.squeeze(gy[0]!, axes!.map((a) => normAxis(a, rank))), null];
    },
  }),
  Squeeze: defineRule(axesAttr, {
    infer: ({ inputs, attrs, opset }) => {
      const axes = axesOf(opset, 13, attrs.axes, inputs[1]);
      const m = inputs[0]!;
      return [{ dtype: m.dtype, shape: m.shape && squeezeShape(m.shape, axes) }];
    },
    evaluate: ({ inputs, attrs, opset }) => {
      const axes = opset >= 13 ? (inputs[1] ? numbers(inputs[1]) : undefined) : attrs.axes;
      return [reshaped(inputs[0]!, squeezeShape(inputs[0]!.dims, axes) as number[])];
    },
  }),
  Concat: defineRule(attrs({ axis: z.number() }), {
    infer: ({ inputs, attrs }) => {
      const ms = inputs.filter((m): m is Meta => !!m);
      const first = ms[0];
      if (!first.shape || ms.some((m) => !m.shape)) return [{ dtype: first.dtype }];
      const axis = normAxis(attrs.axis, first.shape.length);
      const parts = ms.map((m) => m.shape![axis]);
      const total: Dim = parts.every((p) => typeof p === "number")
        ? (parts as number[]).reduce((a, b) => a + b, 0)
        : parts.join("+");
      const shape = first.shape.map((d, i) => (i === axis ? total : d));
      // Concatenated shape vectors keep their (possibly symbolic) dims.
      const dimsList = ms.map(shapeDims);
      const dims = first.dtype === "int64" && shape.length === 1 && dimsList.every((d) => d)
        ? dimsList.flat() as Dim[]
        : undefined;
      return [dims ? shapeMeta(dims) : { dtype: first.dtype, shape }];
    },
    evaluate: ({ inputs, attrs }) => [concat(inputs.filter((t): t is Tensor => !!t), attrs.axis)],
  }),
  Expand: defineRule(noAttrs, {
    infer: ({ inputs }) => {
      const m = inputs[0]!;
      const target = shapeDims(inputs[1]);
      if (!m.shape || !target) return [{ dtype: m.dtype }];
      const rank = Math.max(m.shape.length, target.length);
      const shape: Dim[] = [];
      for (let i = 0; i < rank; i++) {
        const a = m.shape[m.shape.length - rank + i] ?? 1;
        const t = target[target.length - rank + i] ?? 1;
        shape.push(a === 1 ? t : a);
      }
      return [{ dtype: m.dtype, shape }];
    },
  }),
};

/** Host concat along an axis. */
export function concat(ts: Tensor[], axis: number): Tensor {
  const rank = ts[0].dims.length;
  const ax = normAxis(axis, rank);
  const outer = ts[0].dims.slice(0, ax).reduce((a, b) => a * b, 1);
  const inner = (t: Tensor) => t.dims.slice(ax).reduce((a, b) => a * b, 1);
  const dims = [...ts[0].dims];
  dims[ax] = ts.reduce((a, t) => a + t.dims[ax], 0);
  const isInt = ts[0].dtype === "int64";
  const out: (number | bigint)[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const n = inner(t);
      for (let j = 0; j < n; j++) out.push((t.data as ArrayLike<number | bigint>)[o * n + j]);
    }
  }
  return isInt
    ? { dtype: "int64", dims, data: BigInt64Array.from(out as bigint[]) }
    : { dtype: "float64", dims, data: Float64Array.from(out as number[]) };
}
