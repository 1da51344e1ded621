/**
 * The float64 reference evaluator: runs a whole model on the host with each rule's
 * `evaluate`, the finite-difference side of the gradient checks.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Model, Tensor } from "../../onnx/types.ts";
import { topologicalOrder } from "../prepare.ts";
import { lookupRule } from "../table.ts";
import { toFloat64 } from "./ndarray.ts";

/**
 * Evaluates a model on the host in float64 with each op's reference semantics, independent
 * of onnxruntime: the finite-difference side of the gradient checks.
 */
export function evaluate(model: Model, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const opset = model.opsets[""] ?? 7;
  const values = new Map<string, Tensor>();
  for (const [name, t] of model.graph.initializers) values.set(name, toFloat64(t));
  for (const [name, t] of Object.entries(feeds)) values.set(name, toFloat64(t));
  for (const node of topologicalOrder(model.graph)) {
    const rule = lookupRule(node);
    if (!rule.evaluate) {
      throw new UserError(
        `${node.opType} node "${node.name}": op ${node.opType} has no reference evaluation`,
      );
    }
    const outs = rule.evaluate(
      node,
      opset,
      node.inputs.map((n) => (n === "" ? undefined : values.get(n))),
    );
    node.outputs.forEach((name, i) => name && outs[i] && values.set(name, outs[i]));
  }
  const result: Record<string, Tensor> = {};
  for (const o of model.graph.outputs) result[o.name] = values.get(o.name)!;
  return result;
}
