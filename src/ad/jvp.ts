import { UserError } from "../errors.ts";
import { decodeModel } from "../onnx/decode.ts";
import { encodeModel } from "../onnx/encode.ts";
import type { Model } from "../onnx/types.ts";
import { isFloat } from "../onnx/types.ts";
import { prepare, type TransformOptions } from "./prepare.ts";
import { lookupRule } from "./table.ts";
import { fullTangent, zeroTangent } from "./tangent.ts";
import type { Emitter } from "./emit.ts";
import type { Node } from "../onnx/types.ts";

export interface JvpOptions extends TransformOptions {
  /** K: tangents evaluated in one run. Default 1. */
  tangents?: number;
}

/** Suffix of the tangent input of a `wrt` tensor and of the tangent output of an output. */
export const TANGENT = "__tangent";

/**
 * Forward mode: a graph that also outputs, for each float output `o`, `o__tangent` of shape
 * [K, ...shape(o)] — the K directional derivatives along the tangents fed as `w__tangent`.
 *
 * Each `wrt` tensor is a plain graph input of the returned model, without an initializer
 * (onnxruntime would not accept a feed for an input that is also an initializer): the caller
 * feeds its value with every run, together with the other inputs. A `wrt` tensor that was a
 * weight of the model keeps its values in the original model's initializers.
 */
export function jvpModel(model: Uint8Array, options: JvpOptions): Uint8Array {
  return encodeModel(wrtAsPlainInputs(jvpTransform(decodeModel(model), options), options.wrt));
}

/** Drops the initializers of the `wrt` inputs, so that they are inputs a runtime accepts feeds for. */
export function wrtAsPlainInputs(model: Model, wrt: string[]): Model {
  for (const w of wrt) model.graph.initializers.delete(w);
  return model;
}

export function jvpTransform(model: Model, options: JvpOptions): Model {
  const K = options.tangents ?? 1;
  if (!Number.isInteger(K) || K < 1) {
    throw new UserError(`tangents: expected a positive integer, got ${K}`);
  }
  const { graph, emitter: e, active } = prepare(model, options);
  const originalNodes = [...graph.nodes];

  exposeWrtAsInputs(model, graph, options.wrt, e.metas);
  const tangents = new Map<string, string>();
  for (const w of options.wrt) {
    const name = `${w}${TANGENT}`;
    e.b.names.reserve(name);
    const shape = [K, ...e.shape(w)];
    graph.inputs.push({ name, dtype: e.dtype(w), shape });
    e.metas.set(name, { dtype: e.dtype(w), shape });
    tangents.set(w, name);
  }

  propagateTangents(e, originalNodes, active, tangents, K);

  for (const out of [...graph.outputs]) {
    if (!isFloat(out.dtype)) continue;
    const name = `${out.name}${TANGENT}`;
    e.b.names.reserve(name);
    const t = tangents.get(out.name) ?? zeroTangent(e, out.name, K);
    e.b.node("Identity", [t], {}, { outputs: [name] });
    graph.outputs.push({
      name,
      dtype: out.dtype,
      shape: [K, ...(e.metas.get(out.name)?.shape ?? [])],
    });
  }
  return { ...model, graph };
}

/**
 * Emits the tangent of every active value reached by `nodes` in order, into `tangents` (value
 * name → tangent [K, ...shape]). Entries already in `tangents` are seeds. A value listed in
 * `seeds` also gets that seed tangent added after its node computed its own: how activity
 * perturbation injects noise at intermediate tensors.
 */
export function propagateTangents(
  e: Emitter,
  nodes: readonly Node[],
  active: ReadonlySet<string>,
  tangents: Map<string, string>,
  K: number,
  seeds: ReadonlyMap<string, string> = new Map(),
): void {
  const seed = (y: string) => {
    const v = seeds.get(y);
    if (v === undefined) return;
    const t = tangents.get(y);
    tangents.set(y, t === undefined ? v : e.add(t, v));
  };
  for (const node of nodes) {
    if (node.inputs.some((x) => active.has(x))) emitNodeTangents(e, node, active, tangents, K);
    node.outputs.forEach(seed);
  }
}

function emitNodeTangents(
  e: Emitter,
  node: Node,
  active: ReadonlySet<string>,
  tangents: Map<string, string>,
  K: number,
): void {
  const rule = lookupRule(node);
  if (rule.zeroDerivative) return;
  if (!rule.jvp) {
    throw new UserError(
      `${node.opType} node "${node.name}": op ${node.opType} has no forward-mode (JVP) rule`,
    );
  }
  const dx = node.inputs.map((x) => tangents.get(x) ?? null);
  const dy = rule.jvp(node, e.opset, { b: e, x: node.inputs, y: node.outputs, dx, K });
  node.outputs.forEach((y, i) => {
    const t = dy[i];
    if (t && active.has(y)) tangents.set(y, fullTangent(e, t, y, K));
  });
}

/** Each `wrt` initializer becomes an input of the same name; its value stays as the default. */
export function exposeWrtAsInputs(
  model: Model,
  graph: Model["graph"],
  wrt: string[],
  metas: Map<
    string,
    { dtype: Model["graph"]["inputs"][number]["dtype"]; shape?: (number | string)[] }
  >,
): void {
  for (const w of wrt) {
    if (graph.inputs.some((v) => v.name === w)) continue;
    const m = metas.get(w)!;
    graph.inputs.push({ name: w, dtype: m.dtype, shape: m.shape });
  }
  // ONNX IR < 4 requires every initializer to be an input; ours always are for wrt.
  if (model.irVersion < 4) model.irVersion = 4;
}
