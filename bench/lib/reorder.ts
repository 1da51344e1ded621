/**
 * A prototype for the memory analysis, not used by training: reorders a JVP graph so each
 * tangent node follows the last primal node it depends on, instead of all tangent nodes
 * after the whole primal graph (the order src/ad/jvp.ts emits). Under a schedule that follows
 * the node order, primal activations then die layer by layer.
 */
import type { Model } from "../../src/onnx/types.ts";

/** `primalCount`: how many leading nodes are the primal graph (the model + loss). */
export function interleaveTangentNodes(model: Model, primalCount: number): Model {
  const nodes = model.graph.nodes;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  const key: number[] = [];
  nodes.forEach((n, i) => {
    if (i < primalCount) {
      key[i] = i;
      return;
    }
    key[i] = Math.max(-1, ...n.inputs.map((x) => key[producer.get(x) ?? -1] ?? -1));
  });
  const order = nodes.map((_, i) => i).sort((a, b) =>
    key[a] - key[b] || Number(a >= primalCount) - Number(b >= primalCount) || a - b
  );
  return { ...model, graph: { ...model.graph, nodes: order.map((i) => nodes[i]) } };
}
