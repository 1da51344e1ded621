import { elementCount, isFloat, type Model } from "../types.ts";

/** One trainable tensor: its initializer name, shape and number of values. */
export interface ParameterInfo {
  name: string;
  dims: number[];
  size: number;
}

/**
 * The trainable parameters: the model's float initializers, in initializer order (the order
 * that flat parameter vectors and checkpoints use). Integer initializers (shapes, axes) are
 * constants, not parameters.
 */
export function trainableParameters(model: Model): ParameterInfo[] {
  const out: ParameterInfo[] = [];
  for (const [name, t] of model.graph.initializers) {
    if (isFloat(t.dtype)) out.push({ name, dims: [...t.dims], size: elementCount(t.dims) });
  }
  return out;
}

/** Total number of trainable values. */
export function parameterCount(model: Model): number {
  return trainableParameters(model).reduce((n, p) => n + p.size, 0);
}
