/**
 * The graphs a training run derives from a model: model + loss, its JVP graph (forward
 * gradients), its VJP graph (backprop) and the evaluation graph, encoded for the workers.
 *
 * @module
 */
import { activitySites, activityTransform } from "../ad/activity.ts";
import { jvpTransform } from "../ad/jvp.ts";
import { vjpTransform } from "../ad/vjp.ts";
import { encodeModel } from "../onnx/encode.ts";
import { withLoss } from "../onnx/models/loss.ts";
import type { Model } from "../onnx/types.ts";
import { buildObjective, lossOutputOnly, type Objective } from "./objective.ts";

/** The graphs a training run needs, as ONNX bytes for the workers. */
export interface TrainingGraphs {
  /** Outputs loss and loss__tangent [K]. */
  jvp: Uint8Array;
  /** Outputs loss and w__grad per parameter; input loss__cotangent. */
  vjp: Uint8Array;
  /** Outputs loss and logits, for evaluation. */
  evaluation: Uint8Array;
  /** Activity perturbation: the graph (outputs loss and w__grad) and its perturbed values. */
  activity?: { graph: Uint8Array; sites: { input: string; dims: number[] }[] };
}

/** Which graphs to build (each defaults to yes, but activity, which defaults to no). */
export interface GraphChoice {
  jvp?: boolean;
  vjp?: boolean;
  activity?: boolean;
  /** Rank of the JVP graph's weight tangents (dense when absent). */
  lowRank?: number;
}

/** Model + loss with only the `loss` output: the function both methods differentiate. */
export function lossOnly(model: Model): Model {
  const full = withLoss(model);
  return {
    ...full,
    graph: { ...full.graph, outputs: full.graph.outputs.filter((o) => o.name === "loss") },
  };
}

/** The graphs of the plain objective (the model's cross-entropy) with respect to `wrt`. */
export function trainingGraphs(
  model: Model,
  wrt: string[],
  K: number,
  which: GraphChoice = {},
): TrainingGraphs {
  const objective = buildObjective(model, {
    parameters: wrt,
    seed: 0,
    source: model.graph.name,
    perExample: which.activity,
  });
  return objectiveGraphs(model, objective, K, which);
}

/**
 * The graphs of `objective` (built from `model`): every method and estimator differentiates
 * the same function, with its stop-gradients; evaluation runs the plain model.
 */
export function objectiveGraphs(
  model: Model,
  objective: Objective,
  K: number,
  which: GraphChoice = {},
): TrainingGraphs {
  const { wrt, stopGradients } = objective;
  const f = lossOutputOnly(objective.model);
  const empty = new Uint8Array();
  const options = { wrt, stopGradients };
  const graphs: TrainingGraphs = {
    jvp: which.jvp === false
      ? empty
      : encodeModel(jvpTransform(f, { ...options, tangents: K, lowRank: which.lowRank })),
    vjp: which.vjp === false ? empty : encodeModel(vjpTransform(f, options)),
    evaluation: encodeModel(
      parametersAsInputs(withLoss(model), wrt.filter((w) => !objective.heads.includes(w))),
    ),
  };
  if (which.activity) {
    const activity = { ...options, tangents: K, perExampleLosses: objective.perExampleLosses };
    graphs.activity = {
      graph: encodeModel(activityTransform(objective.model, activity)),
      sites: activitySites(objective.model, activity).map(({ input, dims }) => ({ input, dims })),
    };
  }
  return graphs;
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
