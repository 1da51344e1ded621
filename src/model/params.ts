/**
 * The flat parameter vector: where each trainable tensor of a model lives in it, the vector
 * itself (shared memory the coordinator owns), per-tensor views into it, and a model copy
 * holding its values.
 *
 * @module
 */
import { z } from "zod";
import type { Model, Tensor } from "../onnx/types.ts";

const int = z.int().nonnegative();

/** A ParamLayout as it crosses the worker boundary (parsed there, like every message). */
export const LayoutSchema = z.object({
  names: z.array(z.string()),
  dims: z.array(z.array(int)),
  offsets: z.array(int),
  sizes: z.array(int),
  total: int,
});

/** Where each trainable tensor lives in the flat parameter vector. */
export type ParamLayout = z.infer<typeof LayoutSchema>;

/** The layout of `names` (float initializers of `model`), in the given order. */
export function paramLayout(model: Model, names: string[]): ParamLayout {
  const dims = names.map((n) => [...model.graph.initializers.get(n)!.dims]);
  const sizes = dims.map((d) => d.reduce((a, b) => a * b, 1));
  const offsets: number[] = [];
  let total = 0;
  for (const s of sizes) {
    offsets.push(total);
    total += s;
  }
  return { names, dims, offsets, sizes, total };
}

/** The parameters in one flat float32 vector backed by a SharedArrayBuffer (owned by the coordinator). */
export function sharedParams(model: Model, layout: ParamLayout): Float32Array {
  const flat = new Float32Array(new SharedArrayBuffer(layout.total * 4));
  layout.names.forEach((n, i) => {
    flat.set(model.graph.initializers.get(n)!.data as Float32Array, layout.offsets[i]);
  });
  return flat;
}

/** Per-tensor views into the flat vector (no copy). */
export function paramViews(flat: Float32Array, layout: ParamLayout): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  layout.names.forEach((n, i) => {
    out[n] = {
      dtype: "float32",
      dims: layout.dims[i],
      data: flat.subarray(layout.offsets[i], layout.offsets[i] + layout.sizes[i]),
    };
  });
  return out;
}

/** A copy of `model` whose parameters are the values in `flat`. */
export function withParams(model: Model, layout: ParamLayout, flat: Float32Array): Model {
  const initializers = new Map(model.graph.initializers);
  layout.names.forEach((n, i) => {
    initializers.set(n, {
      dtype: "float32",
      dims: layout.dims[i],
      data: Float32Array.from(
        flat.subarray(layout.offsets[i], layout.offsets[i] + layout.sizes[i]),
      ),
    });
  });
  return { ...model, graph: { ...model.graph, initializers } };
}
