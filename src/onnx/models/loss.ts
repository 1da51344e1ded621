import { UserError } from "../../errors.ts";
import { GraphBuilder } from "../builder.ts";
import type { Model, ValueInfo } from "../types.ts";

/**
 * Returns a copy of `model` that also computes the mean softmax cross-entropy against one-hot
 * `labels` [batch, classes]: loss = mean_n(−Σ_c labels·log_softmax(logits)). Built from plain
 * ONNX ops so the AD transforms differentiate it like any other part of the graph. Graph
 * outputs become `loss` (shape []) then the logits. The input model is not changed.
 */
export function withLoss(model: Model, options: { perExample?: boolean } = {}): Model {
  const logits = logitsOutput(model);
  const opset = model.opsets[""] ?? 0;
  if (opset < 7) {
    throw new UserError(`${model.graph.name}: the loss needs opset 7 or newer (model: ${opset})`);
  }
  const graph = {
    ...model.graph,
    inputs: [...model.graph.inputs],
    initializers: new Map(model.graph.initializers),
    nodes: [...model.graph.nodes],
  };
  const b = new GraphBuilder(graph);
  const reserved = ["labels", "loss", ...(options.perExample ? [PER_EXAMPLE_LOSS] : [])];
  for (const name of reserved) {
    // fresh() hands back the name itself only when nothing in the graph uses it yet.
    if (b.names.fresh(name) !== name) {
      throw new UserError(`${graph.name}: the name "${name}" is already used; cannot add the loss`);
    }
  }
  const batch = logits.shape?.[0] ?? "batch";
  const classes = logits.shape?.[1] ?? "classes";
  graph.inputs.push({ name: "labels", dtype: logits.dtype, shape: [batch, classes] });

  const logLikelihood = exampleLogLikelihood(b, logits.name, "labels", opset);
  const mean = b.op("ReduceMean", [logLikelihood], { keepdims: 0 });
  b.node("Neg", [mean], {}, { outputs: ["loss"] });
  graph.outputs = [{ name: "loss", dtype: logits.dtype, shape: [] }, logits];
  if (options.perExample) {
    b.node("Neg", [logLikelihood], {}, { outputs: [PER_EXAMPLE_LOSS] });
    graph.outputs.push({ name: PER_EXAMPLE_LOSS, dtype: logits.dtype, shape: [batch] });
  }
  return { ...model, opsets: { ...model.opsets }, graph };
}

/** The output `withLoss(model, { perExample: true })` adds: each example's loss, [batch]. */
export const PER_EXAMPLE_LOSS = "loss_per_example";

/** Σ_c labels·log_softmax(logits) per example, [batch] (the negated cross-entropy). */
export function exampleLogLikelihood(
  b: GraphBuilder,
  logits: string,
  labels: string,
  opset: number,
): string {
  // Negative axes exist since opset 11; the logits are 2-D, so -1 is axis 1.
  const logp = b.op("LogSoftmax", [logits], { axis: opset >= 11 ? -1 : 1 });
  const picked = b.op("Mul", [labels, logp]);
  // ReduceSum takes its axes as an int64 input since opset 13, as an attribute before.
  return opset >= 13
    ? b.op("ReduceSum", [picked, b.ints([1], "class_axis")], { keepdims: 0 })
    : b.op("ReduceSum", [picked], { axes: [1], keepdims: 0 });
}

/** The logits output: the one named `logits`, or the only output. */
function logitsOutput(model: Model): ValueInfo {
  const outs = model.graph.outputs;
  const found = outs.find((o) => o.name === "logits") ?? (outs.length === 1 ? outs[0] : undefined);
  if (!found) {
    throw new UserError(`${model.graph.name}: no "logits" output to attach the loss to`);
  }
  if (found.shape && found.shape.length !== 2) {
    throw new UserError(
      `${model.graph.name}: logits must be [batch, classes], got [${found.shape}]`,
    );
  }
  return found;
}
