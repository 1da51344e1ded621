import { UserError } from "../errors.ts";
import { decodeModel } from "../onnx/decode.ts";
import { encodeModel } from "../onnx/encode.ts";
import type { Model } from "../onnx/types.ts";
import { isFloat } from "../onnx/types.ts";
import { exposeWrtAsInputs, wrtAsPlainInputs } from "./jvp.ts";
import { prepare, type TransformOptions } from "./prepare.ts";
import { lookupRule } from "./table.ts";
import { unbroadcast } from "./tangent.ts";

export const COTANGENT = "__cotangent";
export const GRAD = "__grad";

/**
 * Reverse mode: a graph that takes a cotangent `o__cotangent` for each float output and
 * outputs `w__grad` (shape of w) for each `wrt` tensor: the vector–Jacobian product.
 *
 * Each `wrt` tensor is a plain graph input of the returned model, without an initializer
 * (onnxruntime would not accept a feed for an input that is also an initializer): the caller
 * feeds its value with every run, together with the other inputs and the cotangents. A `wrt`
 * tensor that was a weight of the model keeps its values in the original model's initializers.
 */
export function vjpModel(model: Uint8Array, options: TransformOptions): Uint8Array {
  return encodeModel(wrtAsPlainInputs(vjpTransform(decodeModel(model), options), options.wrt));
}

export function vjpTransform(model: Model, options: TransformOptions): Model {
  const { graph, emitter: e, active } = prepare(model, options);
  const forwardNodes = [...graph.nodes];
  exposeWrtAsInputs(model, graph, options.wrt, e.metas);

  // Gradient contributions per value; summed once, when first read.
  const parts = new Map<string, string[]>();
  const push = (name: string, g: string) => parts.set(name, [...(parts.get(name) ?? []), g]);
  const total = (name: string): string | null => {
    const list = parts.get(name);
    if (!list || list.length === 0) return null;
    const sum = e.sum(list)!;
    parts.set(name, [sum]);
    return sum;
  };

  for (const out of [...graph.outputs]) {
    if (!isFloat(out.dtype)) continue;
    const name = `${out.name}${COTANGENT}`;
    e.b.names.reserve(name);
    graph.inputs.push({ name, dtype: out.dtype, shape: e.metas.get(out.name)?.shape });
    e.metas.set(name, { dtype: out.dtype, shape: e.metas.get(out.name)?.shape });
    if (active.has(out.name)) push(out.name, name);
  }

  for (const node of [...forwardNodes].reverse()) {
    const needs = node.inputs.map((x) => active.has(x));
    if (!needs.some(Boolean)) continue;
    const gy = node.outputs.map((y) => (active.has(y) ? total(y) : null));
    if (gy.every((g) => g === null)) continue;
    const rule = lookupRule(node);
    if (rule.zeroDerivative) continue;
    if (!rule.vjp) {
      throw new UserError(
        `${node.opType} node "${node.name}": op ${node.opType} has no reverse-mode (VJP) rule`,
      );
    }
    const gx = rule.vjp(node, e.opset, { b: e, x: node.inputs, y: node.outputs, gy, needs });
    node.inputs.forEach((x, i) => {
      const g = gx[i];
      if (!g || !needs[i]) return;
      push(x, unbroadcast(e, g, e.shape(x)));
    });
  }

  for (const w of options.wrt) {
    const name = `${w}${GRAD}`;
    e.b.names.reserve(name);
    const g = total(w) ?? e.zerosLike(w);
    e.b.node("Identity", [g], {}, { outputs: [name] });
    graph.outputs.push({ name, dtype: e.dtype(w), shape: e.shape(w) });
  }
  return { ...model, graph };
}
