/**
 * The function a run differentiates: the model with its cross-entropy, or with local losses
 * (one head and loss per block, stop-gradients between blocks). Both methods and every
 * estimator differentiate the same objective, so their results compare like with like.
 *
 * @module
 */

import { UserError } from "../errors.ts";
import { PER_EXAMPLE_LOSS, withLoss } from "../onnx/models/loss.ts";
import type { Model } from "../onnx/types.ts";
import { layerBoundaries, withLocalLosses } from "./local_losses.ts";

export interface Objective {
  /** Outputs `loss` (the objective), `logits` and the per-example losses. */
  model: Model;
  /** What is trained: the model's parameters, then the local heads' (if any). */
  wrt: string[];
  perExampleLosses: string[];
  stopGradients: string[];
  /** Training-only parameters (local heads): not in the exported model. */
  heads: string[];
  /** The block boundaries (empty without local losses). */
  blocks: string[];
}

export interface ObjectiveOptions {
  /** Trained parameters of the model. */
  parameters: string[];
  /** Local losses at these boundaries; `"layers"` puts one block per layer. */
  localLosses?: string[] | "layers";
  /** Seeds the local heads' initial weights. */
  seed: number;
  /** The model's name or file, for messages. */
  source: string;
  /** Add the per-example loss output (activity perturbation needs it; local losses have it). */
  perExample?: boolean;
}

export function buildObjective(model: Model, options: ObjectiveOptions): Objective {
  const { parameters, localLosses } = options;
  if (!localLosses) {
    return {
      model: withLoss(model, { perExample: options.perExample }),
      wrt: parameters,
      perExampleLosses: options.perExample ? [PER_EXAMPLE_LOSS] : [],
      stopGradients: [],
      heads: [],
      blocks: [],
    };
  }
  const blocks = localLosses === "layers" ? layerBoundaries(model, parameters) : localLosses;
  if (blocks.length === 0) {
    throw new UserError(
      `--local-losses: ${options.source} has a single layer, so there is nothing to split ` +
        `into blocks`,
    );
  }
  const o = withLocalLosses(model, blocks, { seed: options.seed, parameters });
  return { ...o, wrt: [...parameters, ...o.heads] };
}

/** The objective with only its `loss` output: what the JVP and VJP transforms differentiate. */
export function lossOutputOnly(model: Model): Model {
  return {
    ...model,
    graph: { ...model.graph, outputs: model.graph.outputs.filter((o) => o.name === "loss") },
  };
}
