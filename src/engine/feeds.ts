/**
 * What every engine feeds its graph and reads back: the shared parameters plus one shard's
 * examples and one-hot labels, and the per-parameter `w__grad` outputs gathered into a flat
 * vector in the layout's order.
 *
 * @module
 */
import { GRAD } from "../ad/vjp.ts";
import { paramViews } from "../model/params.ts";
import type { Tensor } from "../onnx/types.ts";
import type { EngineSetup } from "./messages.ts";

/** The parameters (views of the shared vector) and the shard as graph inputs. */
export function shardFeeds(
  setup: EngineSetup,
  shard: { x: Float32Array; labels: Float32Array; count: number },
): Record<string, Tensor> {
  const { count } = shard;
  return {
    ...paramViews(setup.params, setup.layout),
    x: { dtype: "float32", dims: [count, ...setup.featureShape], data: shard.x },
    labels: { dtype: "float32", dims: [count, setup.classes], data: shard.labels },
  };
}

/** Copies each parameter's `w__grad` output into `into` at its layout offset; returns `into`. */
export function gatherGradient(
  out: Record<string, Tensor>,
  layout: EngineSetup["layout"],
  into: Float32Array,
): Float32Array {
  layout.names.forEach((name, i) =>
    into.set(out[`${name}${GRAD}`].data as Float32Array, layout.offsets[i])
  );
  return into;
}
