/**
 * Constant folding, driven by the rule table: each node's `infer` gives its outputs' metadata
 * (shape, and for shape arithmetic the known value), and a node whose inputs are all known
 * constants is computed with its rule's `evaluate` (the reference semantics). What is known
 * becomes an initializer; what depends on a runtime value (a symbolic batch dim, a parameter)
 * stays in the graph for the rules to differentiate.
 *
 * This is what the shape subgraphs exporters emit need: `Shape → Gather → Unsqueeze → Concat
 * → Reshape` with a static input shape folds to a constant target; with a symbolic batch dim
 * the batch entry stays a runtime computation while the other entries become constants.
 *
 * @module
 */

import type { Dim, DType, Graph, Model, Node, Tensor, TensorData } from "../onnx/types.ts";
import { elementCount, isFloat } from "../onnx/types.ts";
import { numbers, toFloat64 } from "./host/ndarray.ts";
import { topologicalOrder } from "./prepare.ts";
import type { Meta } from "./meta.ts";
import { lookupRule } from "./table.ts";

/** Options of `foldConstants`. */
export interface FoldOptions {
  /** Shapes of graph inputs (symbolic dims allowed), overriding the declared ones. */
  inputShapes?: Record<string, Dim[]>;
  /**
   * Initializers whose value may change (parameters): never folded into their consumers.
   * Default: every float initializer. Integer initializers are constants.
   */
  isVariable?: (name: string, t: Tensor) => boolean;
  /** Largest tensor (elements) computed on the host; larger work stays in the graph. */
  limit?: number;
}

export interface FoldResult {
  model: Model;
  /** Nodes replaced by initializers. */
  folded: number;
  /** Nodes dropped because no graph output depends on them. */
  removed: number;
  /** Metadata of every value of the folded graph. */
  metas: Map<string, Meta>;
}

const DEFAULT_LIMIT = 1 << 20;

/** Folds `model`'s constant subgraphs into initializers; the input model is not changed. */
export function foldConstants(model: Model, options: FoldOptions = {}): FoldResult {
  const limit = options.limit ?? DEFAULT_LIMIT;
  const isVariable = options.isVariable ?? ((_: string, t: Tensor) => isFloat(t.dtype));
  const opset = model.opsets[""] ?? 7;
  const src = model.graph;
  const graph: Graph = {
    name: src.name,
    inputs: src.inputs.map((v) => {
      const shape = options.inputShapes?.[v.name] ?? v.shape;
      return { ...v, shape: shape && [...shape] };
    }),
    outputs: src.outputs.map((v) => ({ ...v, shape: v.shape && [...v.shape] })),
    initializers: new Map(src.initializers),
    nodes: [],
  };
  const live = liveNodes(src);
  const removedBefore = src.nodes.length - live.length;

  // Known constants: initializers that are neither variable nor overridable by an input.
  const inputNames = new Set(graph.inputs.map((v) => v.name));
  const consts = new Map<string, Tensor>();
  const metas = new Map<string, Meta>();
  for (const [name, t] of graph.initializers) {
    const constant = !isVariable(name, t) && !inputNames.has(name);
    if (constant) consts.set(name, t);
    metas.set(name, { dtype: t.dtype, shape: [...t.dims], value: constant ? t : undefined });
  }
  for (const v of graph.inputs) {
    const prior = metas.get(v.name);
    metas.set(v.name, { dtype: v.dtype, shape: v.shape ?? prior?.shape });
  }

  const outputNames = new Set(graph.outputs.map((v) => v.name));
  const folded: Map<string, Tensor> = new Map();
  let foldedNodes = 0;
  for (const node of topologicalOrder({ ...src, nodes: live })) {
    const rule = lookupRule(node);
    const inputs = node.inputs.map((n) => (n === "" ? undefined : metas.get(n)));
    const out = rule.infer(node, opset, inputs);
    const values = computeOutputs(node, opset, out, consts, limit);
    node.outputs.forEach((name, i) => {
      if (!name || !out[i]) return;
      const v = values?.[i];
      metas.set(name, v ? { dtype: v.dtype, shape: [...v.dims], value: v } : out[i]);
    });
    const foldable = values !== undefined &&
      node.outputs.every((o, i) => o === "" || (values[i] !== undefined && !outputNames.has(o)));
    if (foldable) {
      node.outputs.forEach((o, i) => {
        if (o === "") return;
        consts.set(o, values[i]!);
        folded.set(o, values[i]!);
      });
      foldedNodes++;
    } else {
      graph.nodes.push(node);
      node.outputs.forEach((o, i) => values?.[i] && consts.set(o, values[i]!));
    }
  }
  for (const [name, t] of folded) graph.initializers.set(name, t);

  // Folding leaves shape subgraphs and constants nobody reads: drop them.
  const kept = liveNodes(graph);
  const removedAfter = graph.nodes.length - kept.length;
  graph.nodes = kept;
  const used = new Set<string>([...graph.outputs.map((v) => v.name)]);
  for (const n of graph.nodes) for (const i of n.inputs) used.add(i);
  for (const name of [...graph.initializers.keys()]) {
    if (!used.has(name) && !inputNames.has(name)) graph.initializers.delete(name);
  }
  return {
    model: { ...model, opsets: { ...model.opsets }, graph },
    folded: foldedNodes,
    removed: removedBefore + removedAfter,
    metas,
  };
}

/**
 * The node's output values when they are known: computed by the rule's `evaluate` when every
 * input is a constant (and small), else taken from `infer` (shape arithmetic on static dims).
 * Undefined entries are outputs only known at run time.
 */
function computeOutputs(
  node: Node,
  opset: number,
  metas: Meta[],
  consts: Map<string, Tensor>,
  limit: number,
): (Tensor | undefined)[] | undefined {
  const rule = lookupRule(node);
  const present = node.inputs.filter((n) => n !== "");
  const allConst = present.every((n) => consts.has(n));
  const hasGraph = Object.values(node.attrs).some((a) => a.type === "graph");
  const small = (m: Meta | undefined) =>
    !m?.shape || m.shape.every((d) => typeof d === "number") &&
      elementCount(m.shape as number[]) <= limit;
  if (
    allConst && rule.evaluate && !hasGraph &&
    present.every((n) => consts.get(n)!.data.length <= limit) && metas.every(small)
  ) {
    try {
      const inputs = node.inputs.map((n) => (n === "" ? undefined : toFloat64(consts.get(n)!)));
      const outs = rule.evaluate(node, opset, inputs);
      return node.outputs.map((_, i) => outs[i] && withDType(outs[i], metas[i]?.dtype));
    } catch {
      // Leave the node to onnxruntime: folding is an optimisation, not a requirement.
    }
  }
  const known = metas.map((m) => m?.value);
  return known.some((v) => v) ? known : undefined;
}

const INT64_MAX = 2n ** 63n - 1n;

/** A host result (floats as float64) in the element type the graph declares for it. */
export function withDType(t: Tensor, dtype: DType | undefined): Tensor {
  if (!dtype || dtype === t.dtype) return t;
  const dims = [...t.dims];
  const vals = t.data instanceof BigInt64Array ? undefined : numbers(t);
  let data: TensorData;
  switch (dtype) {
    case "float32":
      data = Float32Array.from(vals ?? numbers(t));
      break;
    case "float64":
      data = Float64Array.from(vals ?? numbers(t));
      break;
    case "int64":
      data = t.data instanceof BigInt64Array ? t.data : BigInt64Array.from(vals!, (v) => {
        const b = Number.isFinite(v) ? BigInt(Math.trunc(v)) : (v > 0 ? INT64_MAX : -INT64_MAX);
        return b > INT64_MAX ? INT64_MAX : b < -INT64_MAX - 1n ? -INT64_MAX - 1n : b;
      });
      break;
    case "int32":
      data = Int32Array.from(vals ?? numbers(t));
      break;
    case "int8":
      data = Int8Array.from(vals ?? numbers(t));
      break;
    case "uint8":
    case "bool":
      data = Uint8Array.from(vals ?? numbers(t));
      break;
  }
  return { dtype, dims, data };
}

/** The nodes some graph output depends on, in the graph's order. */
export function liveNodes(graph: Graph): Node[] {
  const producer = new Map<string, Node>();
  for (const n of graph.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const live = new Set<Node>();
  const stack = graph.outputs.map((v) => v.name);
  while (stack.length > 0) {
    const n = producer.get(stack.pop()!);
    if (!n || live.has(n)) continue;
    live.add(n);
    for (const i of n.inputs) if (i) stack.push(i);
  }
  return graph.nodes.filter((n) => live.has(n));
}
