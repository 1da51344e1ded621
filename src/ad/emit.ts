/**
 * The emitter rules and drivers write graphs with: a graph builder that keeps every value's
 * static metadata current and emits each op in the form the model's opset expects.
 *
 * @module
 */

import { type AttrInput, GraphBuilder } from "../onnx/builder.ts";
import type { NameGen } from "../onnx/names.ts";
import { scalarTensor } from "../onnx/tensor.ts";
import type { Dim, DType, Graph, Node, Tensor } from "../onnx/types.ts";
import type { Meta, MetaInference } from "./meta.ts";

/**
 * A graph builder that knows the static metadata (dtype, shape, constant value) of every
 * value and keeps it up to date for each node it emits, so rules and drivers can reason
 * about shapes (un-broadcasting, aligning the tangent axis) while they write the graph.
 * Its helpers emit the form of each op that the model's opset expects.
 */
export class Emitter {
  readonly b: GraphBuilder;

  constructor(
    graph: Graph,
    readonly opset: number,
    readonly metas: Map<string, Meta>,
    private readonly lookup: (opType: string) => MetaInference | undefined,
    names?: NameGen,
  ) {
    this.b = new GraphBuilder(graph, names);
  }

  meta(name: string): Meta {
    const m = this.metas.get(name);
    if (!m) throw new Error(`no metadata for value "${name}"`);
    return m;
  }

  shape(name: string): Dim[] {
    const s = this.meta(name).shape;
    if (!s) throw new Error(`the shape of "${name}" is unknown; pass inputShapes to fix it`);
    return s;
  }

  rank(name: string): number {
    return this.shape(name).length;
  }

  dtype(name: string): DType {
    return this.meta(name).dtype;
  }

  /** Records metadata for a node's outputs using its rule's shape inference. */
  infer(node: Node): void {
    const rule = this.lookup(node.opType);
    if (!rule) throw new Error(`internal: emitted op ${node.opType} has no rule`);
    const inputs = node.inputs.map((n) => (n === "" ? undefined : this.metas.get(n)));
    const out = rule.infer(node, this.opset, inputs);
    node.outputs.forEach((name, i) => out[i] && this.metas.set(name, out[i]));
  }

  node(
    type: string,
    inputs: string[],
    attrs: Record<string, AttrInput> = {},
    outputs = 1,
  ): string[] {
    const names = this.b.node(type, inputs, attrs, { outputs });
    this.infer(this.b.graph.nodes[this.b.graph.nodes.length - 1]);
    return names;
  }

  op(type: string, inputs: string[], attrs: Record<string, AttrInput> = {}): string {
    return this.node(type, inputs, attrs)[0];
  }

  constant(t: Tensor, base = "const"): string {
    const name = this.b.constant(t, base);
    this.metas.set(name, { dtype: t.dtype, shape: [...t.dims], value: t });
    return name;
  }

  /** A scalar constant with the element type of `like`. */
  scalar(value: number, like: string): string {
    return this.constant(scalarTensor(value, this.dtype(like)), "scalar");
  }

  ints(values: number[]): string {
    return this.constant(
      { dtype: "int64", dims: [values.length], data: BigInt64Array.from(values, BigInt) },
      "ints",
    );
  }

  // Arithmetic shortcuts.
  add(a: string, c: string): string {
    return this.op("Add", [a, c]);
  }
  sub(a: string, c: string): string {
    return this.op("Sub", [a, c]);
  }
  mul(a: string, c: string): string {
    return this.op("Mul", [a, c]);
  }
  div(a: string, c: string): string {
    return this.op("Div", [a, c]);
  }
  neg(a: string): string {
    return this.op("Neg", [a]);
  }

  /** Cast to the float type of `like`: float64 when it is float64, else float32. */
  castToFloat(x: string, like: string): string {
    return this.op("Cast", [x], { to: this.dtype(like) === "float64" ? 11 : 1 });
  }

  /** Sum of several terms, skipping nulls; null when there are none. */
  sum(terms: (string | null)[]): string | null {
    const xs = terms.filter((t): t is string => t !== null);
    if (xs.length === 0) return null;
    return xs.slice(1).reduce((acc, t) => this.add(acc, t), xs[0]);
  }

  // Ops whose signature changed across opsets: emit the form this opset expects.
  reduce(
    type: "ReduceSum" | "ReduceMean" | "ReduceMax",
    x: string,
    axes: number[],
    keepdims: boolean,
  ): string {
    const asInput = type === "ReduceSum" ? this.opset >= 13 : this.opset >= 18;
    const k = keepdims ? 1 : 0;
    if (asInput) return this.op(type, [x, this.ints(axes)], { keepdims: k });
    return this.op(type, [x], { axes, keepdims: k });
  }

  reduceSum(x: string, axes: number[], keepdims: boolean): string {
    return axes.length === 0 ? x : this.reduce("ReduceSum", x, axes, keepdims);
  }

  unsqueeze(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    return this.opset >= 13
      ? this.op("Unsqueeze", [x, this.ints(axes)])
      : this.op("Unsqueeze", [x], { axes });
  }

  squeeze(x: string, axes: number[]): string {
    if (axes.length === 0) return x;
    return this.opset >= 13
      ? this.op("Squeeze", [x, this.ints(axes)])
      : this.op("Squeeze", [x], { axes });
  }

  /** Reshape to dims (0 copies the input dim, -1 infers one dim). */
  reshape(x: string, dims: number[]): string {
    return this.op("Reshape", [x, this.ints(dims)]);
  }

  transpose(x: string, perm: number[]): string {
    if (perm.every((p, i) => p === i)) return x;
    return this.op("Transpose", [x], { perm });
  }

  shapeOf(x: string): string {
    return this.op("Shape", [x]);
  }

  /** `cond ? a : c` elementwise; before Where (opset 9), cond·a + (1 − cond)·c. */
  where(cond: string, a: string, c: string): string {
    if (this.opset >= 9) return this.op("Where", [cond, a, c]);
    const like = this.dtype(a) === "float64" ? a : c;
    const on = this.castToFloat(cond, like);
    return this.add(this.mul(on, a), this.mul(this.sub(this.scalar(1, like), on), c));
  }

  /** Sign of x; before Sign (opset 9), [x > 0] − [x < 0]. */
  sign(x: string): string {
    if (this.opset >= 9) return this.op("Sign", [x]);
    const zero = this.scalar(0, x);
    const pos = this.castToFloat(this.op("Greater", [x, zero]), x);
    return this.sub(pos, this.castToFloat(this.op("Less", [x, zero]), x));
  }

  /** `g` broadcast to the shape of `x`; before Expand (opset 8), g + zeros like x. */
  expandLike(g: string, x: string): string {
    if (this.opset >= 8) return this.op("Expand", [g, this.shapeOf(x)]);
    return this.add(g, this.zerosLike(x));
  }

  /** Zeros with the shape and type of `x` (works for symbolic shapes). */
  zerosLike(x: string): string {
    // ConstantOfShape arrived in opset 9; before it, x·0 (x is a finite parameter here).
    if (this.opset < 9) return this.mul(x, this.scalar(0, x));
    const zero = scalarTensor(0, this.dtype(x));
    return this.op("ConstantOfShape", [this.shapeOf(x)], {
      value: { ...zero, dims: [1] },
    });
  }
}
