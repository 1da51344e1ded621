/**
 * The rule interface: what one ONNX operator's table entry holds (attribute schema, shape
 * inference, JVP rule, VJP rule, float64 reference semantics) and `defineRule`, which folds
 * attribute parsing into the entry.
 *
 * @module
 */

import { z } from "zod";
import { UserError } from "../errors.ts";
import type { Node, Tensor } from "../onnx/types.ts";
import { attrValues } from "../onnx/types.ts";
import type { Emitter } from "./emit.ts";
import type { Meta, MetaInference } from "./meta.ts";

interface NodeContext<A> {
  node: Node;
  attrs: A;
  /** Opset version of the node's domain. */
  opset: number;
}

export interface InferContext<A> extends NodeContext<A> {
  /** One per node input; `undefined` for an omitted optional input. */
  inputs: (Meta | undefined)[];
}

interface EmitContext<A> extends NodeContext<A> {
  b: Emitter;
  /** Primal input names ("" where omitted) and output names. */
  x: string[];
  y: string[];
}

export interface JvpContext<A> extends EmitContext<A> {
  /** Tangent per input, shape [K, ...shape(input)]; `null` is a symbolic zero. */
  dx: (string | null)[];
  K: number;
}

export interface VjpContext<A> extends EmitContext<A> {
  /** Cotangent per output, shape of the output; `null` is a symbolic zero. */
  gy: (string | null)[];
  /** True for the inputs whose gradient is needed: a rule may skip the others. */
  needs: boolean[];
}

/**
 * One ONNX operator: its attribute schema, shape inference, JVP rule and VJP rule side by
 * side. A JVP rule returns one tangent per output ([K, ...shape], or null for zero). A VJP
 * rule returns one gradient per input (null for none); the driver un-broadcasts a gradient
 * that has the shape of output 0 back to the input's shape, and sums contributions.
 */
export interface RuleImpl<A> {
  infer(ctx: InferContext<A>): Meta[];
  jvp?(ctx: JvpContext<A>): (string | null)[];
  vjp?(ctx: VjpContext<A>): (string | null)[];
  /**
   * Reference semantics on the host, float tensors as float64: the finite-difference
   * checks evaluate the original model with these, independent of onnxruntime.
   */
  evaluate?(ctx: EvalContext<A>): Tensor[];
  /** Piecewise-constant output (Shape, comparisons, ArgMax): derivative zero everywhere. */
  zeroDerivative?: boolean;
}

export interface EvalContext<A> extends NodeContext<A> {
  /** Input values ("" inputs are undefined); float data are Float64Array. */
  inputs: (Tensor | undefined)[];
}

/** A rule with its attribute parsing folded in, as the table stores it. */
export interface Rule extends MetaInference {
  parse(node: Node): unknown;
  jvp?(
    node: Node,
    opset: number,
    ctx: Omit<JvpContext<unknown>, "node" | "attrs" | "opset">,
  ): (string | null)[];
  vjp?(
    node: Node,
    opset: number,
    ctx: Omit<VjpContext<unknown>, "node" | "attrs" | "opset">,
  ): (string | null)[];
  evaluate?(node: Node, opset: number, inputs: (Tensor | undefined)[]): Tensor[];
  zeroDerivative: boolean;
}

/**
 * Builds a table entry. Declare attributes with `attrs({...})` (a strict object), so an
 * attribute the rule does not know fails by name instead of being silently ignored.
 */
export function defineRule<S extends z.ZodType>(schema: S, impl: RuleImpl<z.infer<S>>): Rule {
  const parse = (node: Node): z.infer<S> => {
    const result = schema.safeParse(attrValues(node));
    if (result.success) return result.data;
    const issue = result.error.issues[0];
    const attr = issue.code === "unrecognized_keys" ? issue.keys.join(", ") : issue.path.join(".");
    throw new UserError(
      `${node.opType} node "${node.name}": attribute "${attr}" is not supported (${issue.message})`,
    );
  };
  return {
    parse,
    zeroDerivative: impl.zeroDerivative ?? false,
    infer: (node, opset, inputs) => impl.infer({ node, opset, attrs: parse(node), inputs }),
    jvp: impl.jvp && ((node, opset, ctx) => impl.jvp!({ ...ctx, node, opset, attrs: parse(node) })),
    vjp: impl.vjp && ((node, opset, ctx) => impl.vjp!({ ...ctx, node, opset, attrs: parse(node) })),
    evaluate: impl.evaluate &&
      ((node, opset, inputs) => impl.evaluate!({ node, opset, inputs, attrs: parse(node) })),
  };
}

/** Error for a rule that cannot handle an attribute value it parsed. */
export function unsupported(node: Node, attr: string, why: string): UserError {
  return new UserError(`${node.opType} node "${node.name}": attribute "${attr}" ${why}`);
}

export { z };

/** The attribute schema of a rule: unknown attributes are rejected. */
export const attrs = z.strictObject;
