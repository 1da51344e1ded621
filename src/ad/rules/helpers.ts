/**
 * Rule builders by linearity (JAX's `defjvp`, `deflinear`) and the small pieces several rule
 * families share.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Node, Tensor } from "../../onnx/types.ts";
import type { Emitter } from "../emit.ts";
import { map } from "../host/ndarray.ts";
import type { Meta } from "../meta.ts";
import {
  attrs,
  defineRule,
  type EvalContext,
  type InferContext,
  type JvpContext,
  type Rule,
  type VjpContext,
  z,
} from "../rule.ts";

/** Output metadata equal to input 0's, without its constant value. */
export function sameAsInput(inputs: (Meta | undefined)[]): Meta[] {
  const m = inputs[0]!;
  return [{ dtype: m.dtype, shape: m.shape }];
}

/** Float constant 1 or 0 where `cond` holds, with the dtype of `like`. */
export function indicator(e: Emitter, cond: string, like: string): string {
  return e.castToFloat(cond, like);
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

/** What `linearRule` needs of an op that is linear in its input 0. */
export interface LinearImpl<A> {
  infer(ctx: InferContext<A>): Meta[];
  evaluate(ctx: EvalContext<A>): Tensor[];
  /** The op applied to the tangent [K, ...x], giving [K, ...y]: the K axis handled. */
  tangent(ctx: JvpContext<A>, t: string): string;
  /** The transposed op applied to the cotangent (shape of y), giving x's shape. */
  transpose(ctx: VjpContext<A>, g: string): string;
}

/**
 * An op linear in input 0, its other inputs constants (shapes, axes, indices): JAX's
 * `deflinear`. The JVP applies the op to the tangent, the VJP applies its transpose to the
 * cotangent, and no other input gets a gradient.
 */
export function linearRule<S extends z.ZodType>(schema: S, impl: LinearImpl<z.infer<S>>): Rule {
  return defineRule(schema, {
    infer: impl.infer,
    evaluate: impl.evaluate,
    jvp: (ctx) => [impl.tangent(ctx, ctx.dx[0]!)],
    vjp: (ctx) => ctx.x.map((_, i) => (i === 0 ? impl.transpose(ctx, ctx.gy[0]!) : null)),
  });
}

/** A self-adjoint elementwise linear op y = c·x: tangent and cotangent take the same map. */
export function linearUnaryRule(
  apply: (e: Emitter, t: string) => string,
  f: (x: number) => number,
): Rule {
  return linearRule(noAttrs, {
    infer: ({ inputs }) => sameAsInput(inputs),
    evaluate: ({ inputs }) => [map(inputs[0]!, f)],
    tangent: ({ b }, t) => apply(b, t),
    transpose: ({ b }, g) => apply(b, g),
  });
}

/** Error for a node whose derivative needs an op form newer than the model's opset. */
export function requireOpset(node: Node, b: Emitter, since: number, what: string): void {
  if (b.opset < since) {
    throw new UserError(
      `${node.opType} node "${node.name}": differentiating it needs ${what} (opset ≥ ${since}); the model has opset ${b.opset}`,
    );
  }
}

export const noAttrs = attrs({});
