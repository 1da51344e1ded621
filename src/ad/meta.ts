/**
 * Static metadata of graph values, shared by the emitter, the rules and the drivers: what
 * is known about a value (element type, shape, constant content) while graphs are written,
 * and the one thing the emitter needs from a rule to keep it up to date (shape inference).
 *
 * @module
 */

import type { Dim, DType, Node, Tensor } from "../onnx/types.ts";

/** What is known statically about a value: element type, shape, and constant content. */
export interface Meta {
  dtype: DType;
  /** `undefined` when the shape is unknown. Symbolic dims are strings. */
  shape?: Dim[];
  /** The value, when it is a known constant (initializer, Constant, folded shape arithmetic). */
  value?: Tensor;
  /** For 1-D int64 shape tensors: the (possibly symbolic) dims they hold, e.g. from Shape(x). */
  dims?: Dim[];
}

/** An op's shape inference: output metadata from a node and its inputs' metadata. */
export interface MetaInference {
  infer(node: Node, opset: number, inputs: (Meta | undefined)[]): Meta[];
}
