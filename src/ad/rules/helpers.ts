import { map } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, z } from "../rule.ts";

/** Output metadata equal to input 0's, without its constant value. */
export function sameAsInput(inputs: (Meta | undefined)[]): Meta[] {
  const m = inputs[0]!;
  return [{ dtype: m.dtype, shape: m.shape }];
}

/** Float constant 1 or 0 where `cond` holds, with the dtype of `like`. */
export function indicator(e: Emitter, cond: string, like: string): string {
  return e.op("Cast", [cond], { to: e.dtype(like) === "float64" ? 11 : 1 });
}

/**
 * An elementwise op y = f(x) (further inputs constant): both rules multiply by the local
 * derivative f'(x), built once from x and y. JAX's `defjvp` for unary ops, in graph form.
 */
export function unaryRule<S extends z.ZodType>(
  schema: S,
  derivative: (e: Emitter, x: string, y: string, attrs: z.infer<S>) => string,
  f: (x: number, attrs: z.infer<S>) => number,
): Rule {
  return defineRule(schema, {
    infer: ({ inputs }) => sameAsInput(inputs),
    evaluate: ({ inputs, attrs }) => [map(inputs[0]!, (v) => f(v, attrs))],
    jvp: ({ b, x, y, dx, attrs }) => [b.mul(derivative(b, x[0], y[0], attrs), dx[0]!)],
    vjp: ({ b, x, y, gy, attrs }) => [b.mul(gy[0]!, derivative(b, x[0], y[0], attrs))],
  });
}

/** A linear op y = c·x: tangent and cotangent pass through the same linear map. */
export function linearUnaryRule(
  apply: (e: Emitter, t: string) => string,
  f: (x: number) => number,
): Rule {
  return defineRule(attrs({}), {
    infer: ({ inputs }) => sameAsInput(inputs),
    evaluate: ({ inputs }) => [map(inputs[0]!, f)],
    jvp: ({ b, dx }) => [apply(b, dx[0]!)],
    vjp: ({ b, gy }) => [apply(b, gy[0]!)],
  });
}

export const noAttrs = attrs({});
