/**
 * fwdgrad: train neural networks with forward gradients ("Gradients without
 * Backpropagation", Baydin et al. 2022) and compare them with backpropagation on the same
 * ONNX models, data and engine (onnxruntime-web).
 *
 * @example
 * ```ts
 * import { buildModel, jvpModel, loadDataset, vjpModel } from "./mod.ts";
 *
 * const dataset = await loadDataset("penguins", { seed: 0 });
 * const model = buildModel("mlp", { inputShape: dataset.featureShape, classes: 3, seed: 0 });
 * // One forward-mode pass gives K = 4 directional derivatives of the loss at once:
 * const jvp = jvpModel(model, { wrt: ["dense1.weight", "dense1.bias"], tangents: 4 });
 * // The backprop baseline: the exact gradient of every listed tensor.
 * const vjp = vjpModel(model, { wrt: ["dense1.weight", "dense1.bias"] });
 * ```
 *
 * @module
 */
import { encodeModel } from "./src/onnx/encode.ts";
import { withLoss } from "./src/onnx/models/loss.ts";
import { createModel, type ModelOptions } from "./src/onnx/models/registry.ts";

/**
 * ONNX bytes of a built-in model (`logreg`, `mlp`, `cnn`, `paper-mlp`, `paper-cnn`) with
 * its loss appended: inputs `x` and one-hot `labels`, outputs `loss` (mean softmax
 * cross-entropy) and `logits`. Parameters are float initializers named like `dense1.weight`.
 */
export function buildModel(name: string, options: ModelOptions): Uint8Array {
  return encodeModel(withLoss(createModel(name, options)));
}

export { MODEL_NAMES, type ModelName, type ModelOptions } from "./src/onnx/models/registry.ts";
export { withLoss } from "./src/onnx/models/loss.ts";
export { trainableParameters } from "./src/onnx/models/parameters.ts";
export { DATASET_NAMES, type DatasetOptions, loadDataset } from "./src/data/load.ts";
export type { Dataset, Split } from "./src/data/dataset.ts";

// The graph IR.
export { decodeModel } from "./src/onnx/decode.ts";
export { encodeModel } from "./src/onnx/encode.ts";
export { emptyGraph, float, floats, GraphBuilder } from "./src/onnx/builder.ts";
export type { Attr, Dim, DType, Graph, Model, Node, Tensor, ValueInfo } from "./src/onnx/types.ts";

// Differentiation.
export { jvpModel, type JvpOptions, jvpTransform } from "./src/ad/jvp.ts";
export { vjpModel, vjpTransform } from "./src/ad/vjp.ts";
// Activity perturbation (per-example tangents at layer outputs) and local losses.
export {
  type ActivityOptions,
  type ActivitySite,
  activitySites,
  activityTransform,
} from "./src/ad/activity.ts";
export { layerBoundaries, withLocalLosses } from "./src/model/local_losses.ts";
export { buildObjective, type Objective } from "./src/model/objective.ts";
export { projectionCoefficients } from "./src/random/projection.ts";
export {
  checkGrads,
  type GradCheckOptions,
  type GradCheckReport,
} from "./src/ad/check/check_grads.ts";
export { RULES } from "./src/ad/table.ts";

// Training.
export {
  resumeTrain,
  type RunSummary,
  train,
  type TrainOptions,
  type TrainOutcome,
} from "./src/train/run.ts";
// Checkpoints and worker supervision: resume a run, read its state, recognise a stopped run.
export { readCheckpoint, type RunCheckpoint, type RunStatus } from "./src/train/checkpoint.ts";
export { WorkerFailureError, type WorkerFailureEvent } from "./src/train/supervised_pool.ts";
// Bring your own model: a built-in name or an ONNX file (torch.onnx.export) in training form.
export {
  loadModelSource,
  type ModelSource,
  type ModelSourceOptions,
} from "./src/model/model_source.ts";
export type { TrainConfig } from "./src/train/config.ts";
export { UserError } from "./src/errors.ts";
