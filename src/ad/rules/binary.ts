/**
 * The binary family: broadcasting arithmetic (Add, Sub, Mul, Div, Pow), Where and the
 * zero-derivative comparisons. Rules combine tangents aligned to the output's rank; the driver
 * un-broadcasts their gradients back to each input's shape.
 *
 * @module
 */

import type { Dim, DType } from "../../onnx/types.ts";
import { broadcastMap, castTensor } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { defineRule, type Rule, unsupported } from "../rule.ts";
import { broadcastShapes, isStatic } from "../shapes.ts";
import { alignTangent } from "../tangent.ts";
import { noAttrs } from "./helpers.ts";
import { shapeDims } from "./shape_tracking.ts";

/** Broadcast shape of all present inputs, dtype of the first. */
function broadcastMeta(inputs: (Meta | undefined)[], dtypeFrom = 0): Meta {
  const present = inputs.filter((m): m is Meta => !!m);
  const shapes = present.map((m) => m.shape);
  const shape = shapes.every((s) => s)
    ? shapes.reduce((a, s) => broadcastShapes(a!, s!))
    : undefined;
  return { dtype: inputs[dtypeFrom]!.dtype, shape };
}

/** ONNX type codes of the integer types integer arithmetic keeps (for castTensor). */
const INT_CODES: Partial<Record<DType, number>> = { int64: 7, int32: 6 };

/**
 * Integer arithmetic on small shape vectors (rank ≤ 1) whose elements are known, e.g.
 * `Shape(x)[2] * Shape(x)[3]` as exporters write a flatten: the result's elements are known
 * too — a constant value when all are numbers, symbolic `Meta.dims` otherwise (int64).
 */
function foldInts(
  out: Meta,
  inputs: (Meta | undefined)[],
  symbol: string,
  f: (a: number, c: number) => number,
): Meta {
  const code = INT_CODES[out.dtype];
  const [a, c] = [shapeDims(inputs[0]), shapeDims(inputs[1])];
  const shape = out.shape;
  if (code === undefined || !a || !c || !shape || shape.length > 1 || !isStatic(shape)) return out;
  const n = shape.length === 0 ? 1 : shape[0];
  if (n > 256 || (a.length !== n && a.length !== 1) || (c.length !== n && c.length !== 1)) {
    return out;
  }
  const vals = Array.from({ length: n }, (_, i) => {
    const [p, q] = [a[a.length === 1 ? 0 : i], c[c.length === 1 ? 0 : i]];
    if (typeof p === "number" && typeof q === "number") return Math.trunc(f(p, q));
    return symbolic(symbol, p, q);
  });
  if (isStatic(vals)) {
    if (!vals.every(Number.isFinite)) return out; // division by zero: leave it to run time
    const t = castTensor({ dtype: "float64", dims: shape, data: Float64Array.from(vals) }, code);
    return { ...out, value: t, dims: out.dtype === "int64" ? vals : undefined };
  }
  return out.dtype === "int64" ? { ...out, dims: vals } : out;
}

/** p op q with a symbolic operand, simplified where an identity makes that exact. */
function symbolic(symbol: string, p: Dim, q: Dim): Dim {
  if ((symbol === "+" || symbol === "-") && q === 0) return p;
  if (symbol === "+" && p === 0) return q;
  if ((symbol === "*" || symbol === "/") && q === 1) return p;
  if (symbol === "*" && p === 1) return q;
  if (symbol === "*" && (p === 0 || q === 0)) return 0;
  return `(${p}${symbol}${q})`;
}

/** A tangent of input i lifted to the output's rank (after the K axis). */
function lift(e: Emitter, t: string | null, y: string): string | null {
  return t && alignTangent(e, t, e.rank(y));
}

/**
 * Broadcasting binary arithmetic. JVP rules combine aligned tangents; VJP rules return
 * gradients of the output's shape and the driver sums them back to each input's shape.
 */
function arithmetic(
  symbol: "+" | "-" | "*" | "/",
  f: (a: number, c: number) => number,
  jvp: (
    e: Emitter,
    a: string,
    c: string,
    y: string,
    da: string | null,
    dc: string | null,
  ) => string | null,
  vjp: (
    e: Emitter,
    a: string,
    c: string,
    y: string,
    g: string,
    needs: boolean[],
  ) => (string | null)[],
): Rule {
  return defineRule(noAttrs, {
    infer: ({ inputs }) => [foldInts(broadcastMeta(inputs), inputs, symbol, f)],
    evaluate: ({ inputs }) => {
      const out = broadcastMap([inputs[0]!, inputs[1]!], f);
      // Integer arithmetic stays integer (Div truncates, as onnxruntime's does).
      const code = INT_CODES[inputs[0]!.dtype];
      return [code === undefined ? out : castTensor(out, code)];
    },
    jvp: (
      { b, x, y, dx },
    ) => [jvp(b, x[0], x[1], y[0], lift(b, dx[0], y[0]), lift(b, dx[1], y[0]))],
    vjp: ({ b, x, y, gy, needs }) => vjp(b, x[0], x[1], y[0], gy[0]!, needs),
  });
}

const comparison = (f: (a: number, c: number) => boolean) =>
  defineRule(noAttrs, {
    infer: ({ inputs }) => [{ ...broadcastMeta(inputs), dtype: "bool" }],
    evaluate: (
      { inputs },
    ) => [broadcastMap([inputs[0]!, inputs[1]!], (a, c) => (f(a, c) ? 1 : 0), "bool")],
    zeroDerivative: true,
  });

export const binaryRules: Record<string, Rule> = {
  Add: arithmetic(
    "+",
    (a, c) => a + c,
    (e, _a, _c, _y, da, dc) => e.sum([da, dc]),
    (_e, _a, _c, _y, g) => [g, g],
  ),
  Sub: arithmetic(
    "-",
    (a, c) => a - c,
    (e, _a, _c, _y, da, dc) => (dc ? (da ? e.sub(da, dc) : e.neg(dc)) : da),
    (e, _a, _c, _y, g, needs) => [g, needs[1] ? e.neg(g) : null],
  ),
  Mul: arithmetic(
    "*",
    (a, c) => a * c,
    (e, a, c, _y, da, dc) => e.sum([da && e.mul(da, c), dc && e.mul(a, dc)]),
    (e, a, c, _y, g, needs) => [needs[0] ? e.mul(g, c) : null, needs[1] ? e.mul(g, a) : null],
  ),
  // y = a/c: ẏ = (ȧ − y·ċ)/c;  ḡa = g/c, ḡc = −g·y/c.
  Div: arithmetic(
    "/",
    (a, c) => a / c,
    (e, _a, c, y, da, dc) => {
      const num = dc ? (da ? e.sub(da, e.mul(y, dc)) : e.neg(e.mul(y, dc))) : da!;
      return e.div(num, c);
    },
    (e, _a, c, y, g, needs) => [
      needs[0] ? e.div(g, c) : null,
      needs[1] ? e.neg(e.div(e.mul(g, y), c)) : null,
    ],
  ),
  // y = a^p with p constant: ẏ = p·a^(p−1)·ȧ. A differentiable exponent is not supported.
  Pow: defineRule(noAttrs, {
    infer: ({ inputs }) => [broadcastMeta(inputs)],
    evaluate: ({ inputs }) => [broadcastMap([inputs[0]!, inputs[1]!], Math.pow)],
    jvp: ({ b, x, y, dx, node }) => {
      if (dx[1]) {
        throw unsupported(
          node,
          "exponent",
          "must be a constant (its input depends on a differentiated tensor)",
        );
      }
      return [b.mul(powDerivative(b, x[0], x[1]), lift(b, dx[0], y[0])!)];
    },
    vjp: ({ b, x, gy, needs, node }) => {
      if (needs[1]) {
        throw unsupported(
          node,
          "exponent",
          "must be a constant (its input depends on a differentiated tensor)",
        );
      }
      return [b.mul(gy[0]!, powDerivative(b, x[0], x[1])), null];
    },
  }),
  // Where(cond, a, c): derivative flows to whichever branch was selected.
  Where: defineRule(noAttrs, {
    infer: ({ inputs }) => [broadcastMeta(inputs, 1)],
    evaluate: (
      { inputs },
    ) => [broadcastMap([inputs[0]!, inputs[1]!, inputs[2]!], (c, a, d) => (c ? a : d))],
    jvp: ({ b, x, y, dx }) => {
      const zero = b.scalar(0, y[0]);
      const da = lift(b, dx[1], y[0]) ?? zero;
      const dc = lift(b, dx[2], y[0]) ?? zero;
      return [b.op("Where", [x[0], da, dc])];
    },
    vjp: ({ b, x, y, gy, needs }) => {
      const zero = b.scalar(0, y[0]);
      return [
        null,
        needs[1] ? b.op("Where", [x[0], gy[0]!, zero]) : null,
        needs[2] ? b.op("Where", [x[0], zero, gy[0]!]) : null,
      ];
    },
  }),
  Greater: comparison((a, c) => a > c),
  Less: comparison((a, c) => a < c),
  GreaterOrEqual: comparison((a, c) => a >= c),
  LessOrEqual: comparison((a, c) => a <= c),
  Equal: comparison((a, c) => a === c),
};

function powDerivative(e: Emitter, a: string, p: string): string {
  const pf = e.dtype(p) === e.dtype(a) ? p : e.castToFloat(p, a);
  return e.mul(pf, e.op("Pow", [a, e.sub(pf, e.scalar(1, a))]));
}
