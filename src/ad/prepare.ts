import { UserError } from "../errors.ts";
import type { Dim, Graph, Model, Node } from "../onnx/types.ts";
import { isFloat } from "../onnx/types.ts";
import { NameGen } from "../onnx/names.ts";
import { Emitter } from "./emit.ts";
import type { Meta } from "./meta.ts";
import { lookupRule, ruleFor } from "./table.ts";

export interface TransformOptions {
  wrt: string[];
  inputShapes?: Record<string, number[]>;
  /**
   * Values treated as constants (stop-gradient): no derivative flows through them, although
   * the graph computes them as before. Local losses cut each block's input this way.
   */
  stopGradients?: string[];
}

/** A model ready to transform: a copy of its graph, sorted, with metadata for every value. */
export interface Prepared {
  model: Model;
  graph: Graph;
  emitter: Emitter;
  /** Values that depend on some `wrt` tensor. */
  active: Set<string>;
  /** The stop-gradient values (TransformOptions.stopGradients). */
  stops: Set<string>;
}

/** Copies the graph, checks `wrt`, fixes input shapes and infers metadata for every value. */
export function prepare(model: Model, options: TransformOptions): Prepared {
  const src = model.graph;
  const graph: Graph = {
    name: src.name,
    inputs: src.inputs.map((v) => ({ ...v, shape: v.shape && [...v.shape] })),
    outputs: src.outputs.map((v) => ({ ...v })),
    initializers: new Map(src.initializers),
    nodes: [],
  };
  const wrt = new Set(options.wrt);
  if (options.wrt.length === 0) {
    throw new UserError("wrt: name at least one tensor to differentiate with respect to");
  }

  for (const [name, dims] of Object.entries(options.inputShapes ?? {})) {
    const input = graph.inputs.find((v) => v.name === name);
    if (!input) {
      throw new UserError(
        `inputShapes: the model has no input "${name}" (inputs: ${
          graph.inputs.map((v) => v.name).join(", ")
        })`,
      );
    }
    if (input.shape && input.shape.length !== dims.length) {
      throw new UserError(
        `inputShapes: "${name}" has rank ${input.shape.length}, got shape [${dims}]`,
      );
    }
    input.shape = [...dims];
  }

  const metas = new Map<string, Meta>();
  for (const [name, t] of graph.initializers) {
    metas.set(name, { dtype: t.dtype, shape: [...t.dims], value: wrt.has(name) ? undefined : t });
  }
  for (const v of graph.inputs) {
    // An input with an initializer of the same name is overridable: not a constant.
    const prior = metas.get(v.name);
    metas.set(v.name, { dtype: v.dtype, shape: v.shape ?? prior?.shape });
  }
  for (const w of options.wrt) {
    const m = metas.get(w);
    if (!m) throw new UserError(`wrt: the model has no initializer or input named "${w}"`);
    if (!isFloat(m.dtype)) {
      throw new UserError(
        `wrt: "${w}" has type ${m.dtype}; only float tensors can be differentiated`,
      );
    }
    if (!m.shape) throw new UserError(`wrt: the shape of "${w}" is unknown; pass inputShapes`);
  }

  const opset = model.opsets[""] ?? 7;
  const emitter = new Emitter(graph, opset, metas, ruleFor, new NameGen(src));
  for (const node of topologicalOrder(src)) {
    lookupRule(node);
    graph.nodes.push(node);
    emitter.infer(node);
  }

  const stops = new Set(options.stopGradients ?? []);
  for (const s of stops) {
    if (!metas.has(s)) throw new UserError(`stopGradients: the model has no value named "${s}"`);
    if (wrt.has(s)) throw new UserError(`stopGradients: "${s}" is also in wrt`);
  }
  const active = activeValues(graph.nodes, metas, options.wrt, stops);
  return { model, graph, emitter, active, stops };
}

/**
 * The float values that depend on some root through differentiable ops: the only ones that
 * get tangents or gradients. A stopped value is never active, so nothing flows through it.
 */
export function activeValues(
  nodes: readonly Node[],
  metas: ReadonlyMap<string, Meta>,
  roots: Iterable<string>,
  stops: ReadonlySet<string> = new Set(),
): Set<string> {
  const active = new Set<string>([...roots].filter((r) => !stops.has(r)));
  for (const node of nodes) {
    if (ruleFor(node.opType)?.zeroDerivative) continue;
    if (!node.inputs.some((i) => active.has(i))) continue;
    for (const o of node.outputs) {
      if (!stops.has(o) && isFloat(metas.get(o)?.dtype ?? "int64")) active.add(o);
    }
  }
  return active;
}

/** Kahn's algorithm keeping the file's order among ready nodes, so output is deterministic. */
export function topologicalOrder(graph: Graph): Node[] {
  const available = new Set<string>([
    ...graph.initializers.keys(),
    ...graph.inputs.map((v) => v.name),
    "",
  ]);
  const pending = [...graph.nodes];
  const order: Node[] = [];
  while (pending.length > 0) {
    const i = pending.findIndex((n) => n.inputs.every((x) => available.has(x)));
    if (i < 0) {
      const n = pending[0];
      const missing = n.inputs.filter((x) => !available.has(x));
      throw new UserError(
        `${n.opType} node "${n.name}": input "${
          missing[0]
        }" is produced by no node, input or initializer (or the graph has a cycle)`,
      );
    }
    const [node] = pending.splice(i, 1);
    order.push(node);
    for (const o of node.outputs) available.add(o);
  }
  return order;
}

/** The shape of a value for a graph output declaration. */
export function declaredShape(e: Emitter, name: string): Dim[] | undefined {
  return e.metas.get(name)?.shape;
}
