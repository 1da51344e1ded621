/**
 * Local losses (Ren, Kornblith, Liao, Hinton 2023; Belilovsky et al.): the model is cut into
 * blocks at boundary tensors; each block gets a small classifier head (global average pooling
 * where spatial, then one linear layer to the classes) and its own cross-entropy, and each
 * block's input is held constant for the next block (a stop-gradient), so a block learns only
 * from its own head. The last block's head is the model's own output. The objective is the sum
 * of the blocks' mean losses. The heads are training-only: the exported model is the plain one.
 *
 * @module
 */

import { prepare } from "../ad/prepare.ts";
import { UserError } from "../errors.ts";
import { GraphBuilder } from "../onnx/builder.ts";
import { layerInit } from "../onnx/models/init.ts";
import { exampleLogLikelihood, PER_EXAMPLE_LOSS, withLoss } from "../onnx/models/loss.ts";
import type { Graph, Model } from "../onnx/types.ts";
import { isFloat } from "../onnx/types.ts";

/** The training objective with local losses, and what the transforms must be told about it. */
export interface LocalLossObjective {
  /** Outputs `loss` (Σ_b mean_i l_bi), `logits`, and one per-example loss per block. */
  model: Model;
  /** The per-example loss outputs, block order (the last is the model's own). */
  perExampleLosses: string[];
  /** Where each block's input is cut (the stop-gradient copies of the boundaries). */
  stopGradients: string[];
  /** The heads' parameters (float initializers added to the model; not exported). */
  heads: string[];
  /** The boundary tensors, as given or found. */
  blocks: string[];
}

/** Ops whose parameters make a layer, for the built-in block boundaries. */
const LAYER_OPS = new Set(["Gemm", "Conv", "MatMul", "ConvTranspose"]);
/** Ops that only reshape a layer's input: the boundary moves before them (heads pool spatially). */
const RESHAPES = new Set(["Flatten", "Reshape"]);

/**
 * Block boundaries of a model: the data input of every layer (Gemm, Conv, MatMul) after the
 * first that reads a parameter, moved before a Flatten/Reshape. For the built-in cnn these are
 * the inputs of conv2 … and of the dense head: one block per layer.
 */
export function layerBoundaries(model: Model, parameters: readonly string[]): string[] {
  const params = new Set(parameters);
  const producer = new Map(model.graph.nodes.flatMap((n) => n.outputs.map((o) => [o, n])));
  const layers = model.graph.nodes.filter((n) =>
    LAYER_OPS.has(n.opType) && n.inputs.some((x) => params.has(x))
  );
  const out: string[] = [];
  for (const layer of layers.slice(1)) {
    let t = layer.inputs[0];
    for (let p = producer.get(t); p && RESHAPES.has(p.opType); p = producer.get(t)) {
      t = p.inputs[0];
    }
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

/**
 * The model (input `x`, output `logits` [batch, classes]) with a local head and loss per block.
 * `blocks` are tensor names; each must be a float value of the graph with a batch axis.
 */
export function withLocalLosses(
  model: Model,
  blocks: readonly string[],
  options: { seed: number; parameters: readonly string[] },
): LocalLossObjective {
  const base = withLoss(model, { perExample: true });
  const metas = prepare(base, { wrt: [...options.parameters] }).emitter.metas;
  const classes = base.graph.outputs.find((o) => o.name === "logits")?.shape?.[1];
  if (typeof classes !== "number") {
    throw new UserError(`${model.graph.name}: local losses need a static class count`);
  }
  const graph: Graph = {
    ...base.graph,
    inputs: [...base.graph.inputs],
    outputs: [],
    initializers: new Map(base.graph.initializers),
    nodes: base.graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs] })),
  };
  const b = new GraphBuilder(graph);
  const opset = base.opsets[""] ?? 7;
  const perExample: string[] = [];
  const stops: string[] = [];
  const heads: string[] = [];
  const means: string[] = [];

  blocks.forEach((t, i) => {
    const meta = metas.get(t);
    if (!meta) {
      throw new UserError(`--blocks: the model has no tensor named "${t}"`);
    }
    const shape = meta.shape;
    if (!isFloat(meta.dtype) || !shape || shape.length < 2) {
      throw new UserError(
        `--blocks: "${t}" must be a float tensor [batch, features] or [batch, channels, ...]`,
      );
    }
    const features = shape[1];
    if (typeof features !== "number") {
      throw new UserError(`--blocks: "${t}" has shape [${shape}]; its channel axis must be static`);
    }
    // Later layers read a stop-gradient copy; the head reads the block's own output.
    const stop = b.names.fresh(`${t}_stop_gradient`);
    for (const n of graph.nodes) n.inputs = n.inputs.map((x) => (x === t ? stop : x));
    b.node("Identity", [t], {}, { outputs: [stop], name: `block${i + 1}_stop_gradient` });
    stops.push(stop);

    const pooled = shape.length > 2
      ? b.op("Flatten", [b.op("GlobalAveragePool", [t])], { axis: 1 })
      : t;
    const layer = `local_head${i + 1}`;
    const init = layerInit(layer, [classes, features], features, options.seed);
    const weight = b.constant(init.weight, `${layer}.weight`);
    const bias = b.constant(init.bias, `${layer}.bias`);
    heads.push(weight, bias);
    const logits = b.op("Gemm", [pooled, weight, bias], { transB: 1 }, layer);
    const loss = b.names.fresh(`loss_block${i + 1}`);
    b.node("Neg", [exampleLogLikelihood(b, logits, "labels", opset)], {}, { outputs: [loss] });
    perExample.push(loss);
    means.push(b.op("ReduceMean", [loss], { keepdims: 0 }));
  });

  // The main loss node computes -mean(log-likelihood); the total adds the blocks' means to it.
  const main = graph.nodes.find((n) => n.outputs.includes("loss"))!;
  const mainLoss = b.names.fresh("loss_model");
  main.outputs = main.outputs.map((o) => (o === "loss" ? mainLoss : o));
  const total = [...means, mainLoss];
  const sum = total.slice(1).reduce((acc, t) => b.op("Add", [acc, t]), total[0]);
  b.node("Identity", [sum], {}, { outputs: ["loss"] });
  perExample.push(PER_EXAMPLE_LOSS);

  const dtype = base.graph.outputs[0].dtype;
  const batch = base.graph.outputs.find((o) => o.name === PER_EXAMPLE_LOSS)!.shape;
  graph.outputs = [
    ...base.graph.outputs.filter((o) => o.name !== PER_EXAMPLE_LOSS),
    ...perExample.map((name) => ({ name, dtype, shape: batch })),
  ];
  return {
    model: { ...base, graph },
    perExampleLosses: perExample,
    stopGradients: stops,
    heads,
    blocks: [...blocks],
  };
}
