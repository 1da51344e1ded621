/**
 * The elementwise family: ops of one differentiable input applied per element (activations,
 * Exp, Log, Sqrt, Sin, ...), mostly one-line `unaryRule`s that multiply by the local
 * derivative, plus Neg (linear), Dropout (inference form), Cast and Sign.
 *
 * @module
 */

import { dtypeFromCode } from "../../onnx/dtype.ts";
import type { Emitter } from "../emit.ts";
import type { DType, Tensor } from "../../onnx/types.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { castTensor, erf, floats, map } from "../host/ndarray.ts";
import { indicator, linearUnaryRule, noAttrs, sameAsInput, unaryRule } from "./helpers.ts";

const INTEGER = new Set<DType>(["int64", "int32", "int8", "uint8"]);

/** A constant cast as onnxruntime would (float32 stays float32, unlike the float64 host type). */
function castValue(t: Tensor, code: number, to: DType): Tensor {
  const c = castTensor(t, code);
  return to === "float32" ? { dtype: to, dims: c.dims, data: Float32Array.from(floats(c)) } : c;
}

/** 1 − y², the derivative of tanh written with its output. */
function oneMinusSquare(e: Emitter, y: string): string {
  return e.sub(e.scalar(1, y), e.mul(y, y));
}

const alpha = (dflt: number) => attrs({ alpha: z.number().default(dflt) });

/** Elementwise ops of one differentiable input. */
export const elementwiseRules: Record<string, Rule> = {
  Neg: linearUnaryRule((e, t) => e.neg(t), (x) => -x),
  Relu: unaryRule(
    noAttrs,
    (e, x) => indicator(e, e.op("Greater", [x, e.scalar(0, x)]), x),
    (x) => Math.max(x, 0),
  ),
  LeakyRelu: unaryRule(alpha(0.01), (e, x, _y, { alpha }) => {
    const pos = e.op("Greater", [x, e.scalar(0, x)]);
    return e.where(pos, e.scalar(1, x), e.scalar(alpha, x));
  }, (x, { alpha }) => (x > 0 ? x : alpha * x)),
  // d/dx elu = 1 for x > 0, else alpha·eˣ = y + alpha.
  Elu: unaryRule(alpha(1), (e, x, y, { alpha }) => {
    const pos = e.op("Greater", [x, e.scalar(0, x)]);
    return e.where(pos, e.scalar(1, x), e.add(y, e.scalar(alpha, x)));
  }, (x, { alpha }) => (x > 0 ? x : alpha * Math.expm1(x))),
  Sigmoid: unaryRule(
    noAttrs,
    (e, _x, y) => e.mul(y, e.sub(e.scalar(1, y), y)),
    (x) => 1 / (1 + Math.exp(-x)),
  ),
  Tanh: unaryRule(noAttrs, (e, _x, y) => oneMinusSquare(e, y), Math.tanh),
  Softplus: unaryRule(noAttrs, (e, x) => e.op("Sigmoid", [x]), (x) => Math.log1p(Math.exp(x))),
  Exp: unaryRule(noAttrs, (_e, _x, y) => y, Math.exp),
  Log: unaryRule(noAttrs, (e, x) => e.op("Reciprocal", [x]), Math.log),
  Reciprocal: unaryRule(noAttrs, (e, _x, y) => e.neg(e.mul(y, y)), (x) => 1 / x),
  Sqrt: unaryRule(noAttrs, (e, _x, y) => e.div(e.scalar(0.5, y), y), Math.sqrt),
  Abs: unaryRule(noAttrs, (e, x) => e.sign(x), Math.abs),
  Sin: unaryRule(noAttrs, (e, x) => e.op("Cos", [x]), Math.sin),
  Cos: unaryRule(noAttrs, (e, x) => e.neg(e.op("Sin", [x])), Math.cos),
  // d/dx erf = 2/√π·e^(−x²)
  Erf: unaryRule(noAttrs, (e, x) => {
    const g = e.op("Exp", [e.neg(e.mul(x, x))]);
    return e.mul(g, e.scalar(2 / Math.sqrt(Math.PI), x));
  }, erf),
  Dropout: defineRule(
    attrs({
      seed: z.number().optional(),
      ratio: z.number().optional(),
      is_test: z.number().optional(),
    }),
    {
      // Inference mode: identity on the data; the optional mask output has no derivative.
      infer: ({ inputs }) => [...sameAsInput(inputs), { dtype: "bool", shape: inputs[0]?.shape }],
      evaluate: (
        { inputs },
      ) => [inputs[0]!, {
        dtype: "bool",
        dims: [...inputs[0]!.dims],
        data: new Uint8Array(inputs[0]!.data.length).fill(1),
      }],
      jvp: ({ dx }) => [dx[0], null],
      vjp: ({ gy, needs }) => [gy[0], ...needs.slice(1).map(() => null)],
    },
  ),
  Cast: defineRule(attrs({ to: z.number(), saturate: z.number().optional() }), {
    infer: ({ inputs, attrs, node }) => {
      const to = dtypeFromCode(attrs.to);
      if (!to) throw unsupported(node, "to", `= ${attrs.to} is not a supported element type`);
      const m = inputs[0];
      const out: Meta = { dtype: to, shape: m?.shape };
      // Exporters cast shape arithmetic (Shape → Cast → Mul → Cast): a known value stays known,
      // and a shape vector keeps its (possibly symbolic) elements between integer types.
      if (m?.value && m.value.data.length <= 256) out.value = castValue(m.value, attrs.to, to);
      if (m?.dims && INTEGER.has(m.dtype) && INTEGER.has(to)) out.dims = m.dims;
      return [out];
    },
    evaluate: ({ inputs, attrs }) => [castTensor(inputs[0]!, attrs.to)],
    // Float→float casts pass derivatives through (cast back to the source type on the way in).
    jvp: ({ b, dx, y }) => [b.castToFloat(dx[0]!, y[0])],
    vjp: ({ b, gy, x }) => [b.castToFloat(gy[0]!, x[0])],
  }),
  Sign: defineRule(noAttrs, {
    infer: ({ inputs }) => sameAsInput(inputs),
    evaluate: ({ inputs }) => [map(inputs[0]!, Math.sign)],
    zeroDerivative: true,
  }),
};
