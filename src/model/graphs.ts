/**
 * The graphs a training run derives from a model: model + loss, its JVP graph (forward
 * gradients), its VJP graph (backprop) and the evaluation graph, encoded for the workers.
 *
 * @module
 */
import { jvpTransform } from "../ad/jvp.ts";
import { vjpTransform } from "../ad/vjp.ts";
import { encodeModel } from "../onnx/encode.ts";
import { withLoss } from "../onnx/models/loss.ts";
import type { Model } from "../onnx/types.ts";

/** The graphs a training run needs, as ONNX bytes for the workers. */
export interface TrainingGraphs {
  /** Outputs loss and loss__tangent [K]. */
  jvp: Uint8Array;
  /** Outputs loss and w__grad per parameter; input loss__cotangent. */
  vjp: Uint8Array;
  /** Outputs loss and logits, for evaluation. */
  evaluation: Uint8Array;
}

/** Model + loss with only the `loss` output: the function both methods differentiate. */
export function lossOnly(model: Model): Model {
  const full = withLoss(model);
  return {
    ...full,
    graph: { ...full.graph, outputs: full.graph.outputs.filter((o) => o.name === "loss") },
  };
}

export function trainingGraphs(
  model: Model,
  wrt: string[],
  K: number,
  which: { jvp?: boolean; vjp?: boolean } = {},
): TrainingGraphs {
  const f = lossOnly(model);
  const empty = new Uint8Array();
  return {
    jvp: which.jvp === false ? empty : encodeModel(jvpTransform(f, { wrt, tangents: K })),
    vjp: which.vjp === false ? empty : encodeModel(vjpTransform(f, { wrt })),
    evaluation: encodeModel(parametersAsInputs(withLoss(model), wrt)),
  };
}

/** Declares the parameters as inputs too (their values stay as defaults), so they can be fed. */
export function parametersAsInputs(model: Model, names: string[]): Model {
  const declared = new Set(model.graph.inputs.map((v) => v.name));
  const extra = names.filter((n) => !declared.has(n)).map((n) => {
    const t = model.graph.initializers.get(n)!;
    return { name: n, dtype: t.dtype, shape: [...t.dims] };
  });
  return { ...model, graph: { ...model.graph, inputs: [...model.graph.inputs, ...extra] } };
}
