/**
 * Activity perturbation (Ren, Kornblith, Liao, Hinton, ICLR 2023): a forward gradient whose
 * noise sits on the output of each layer, independently per example, instead of on the weights.
 *
 * For every node that reads a trained parameter (Gemm, Conv, MatMul, Add of a bias, a norm's
 * scale...), its output `z` [batch, ...] gets a tangent input `z__tangent` [K, batch, ...]
 * (the "site"). One forward-mode pass from all sites at once gives, per example i and tangent
 * k, the directional derivative s_ki of the per-example loss(es) the site reaches. Then
 * `ĝ_z = (1/K) Σ_k s_k ⊙ v_k / batch` is unbiased for ∂loss/∂z (the other sites' noise is
 * independent with mean zero), and each parameter's estimate follows from ĝ_z exactly as a
 * backward pass forms it at that one layer: the node's own VJP rule, fed ĝ_z as the cotangent
 * of its output, emitted in the same graph. No backward pass through the network is emitted.
 *
 * The objective must be `loss = Σ_l mean_i l_i` over the `perExampleLosses` outputs l [batch]
 * (one loss, or one per block with local losses), and each example's losses must depend on that
 * example only (no batch statistics). Stop-gradients (TransformOptions) keep a site's noise
 * inside its block: a site then uses only the losses it still reaches.
 *
 * @module
 */

import { UserError } from "../errors.ts";
import type { Dim, Model, Node } from "../onnx/types.ts";
import { isFloat } from "../onnx/types.ts";
import { scalarTensor } from "../onnx/tensor.ts";
import { exposeWrtAsInputs, propagateTangents, TANGENT } from "./jvp.ts";
import { activeValues, prepare, type Prepared, type TransformOptions } from "./prepare.ts";
import { lookupRule } from "./table.ts";
import { unbroadcast } from "./tangent.ts";
import { GRAD } from "./vjp.ts";

export interface ActivityOptions extends TransformOptions {
  /** K: tangents per example and site in one run. Default 1. */
  tangents?: number;
  /** Per-example loss outputs, each [batch]; the objective is Σ_l mean_i l_i. */
  perExampleLosses: string[];
}

/**
 * One perturbed value. A layer (a node reading a trained parameter) feeds it, directly or
 * through a chain of parameter-free per-example ops (ReLU, pooling, Flatten) that nothing else
 * reads: the noise sits at the end of that chain, where the layer's output is smallest, and the
 * chain's own VJP rules carry ĝ back to the layer (ReLU masks it, MaxPool routes it), so no
 * noise lands where the true gradient is known to be zero.
 */
export interface ActivitySite {
  /** The perturbed value and its tangent input (`<value>__tangent`, [K, batch, ...dims]). */
  value: string;
  input: string;
  /** Shape of one example's slice of the value (static). */
  dims: number[];
  /** The layer node and the parameters it reads. */
  node: string;
  params: string[];
  /** The parameter-free nodes from the layer's output to `value`, in graph order. */
  chain: string[];
  /**
   * True when only parameter-free ops lie between `value` and the losses (a classifier head's
   * logits): its exact cotangent is a short local VJP through the loss, so it gets no noise
   * (as Ren et al. train each local head with its exact gradient).
   */
  exact: boolean;
}

/** Parameter-free ops that act on each example alone, with one differentiable input. */
const PER_EXAMPLE_OPS = new Set([
  "Relu",
  "LeakyRelu",
  "Elu",
  "Selu",
  "Sigmoid",
  "Tanh",
  "Softplus",
  "Gelu",
  "MaxPool",
  "AveragePool",
  "Identity",
  "Flatten",
]);

/** The sites of `model` for `options`, in graph order (what a sampler must fill). */
export function activitySites(model: Model, options: ActivityOptions): ActivitySite[] {
  return findSites(prepare(model, options), options).filter((s) => !s.exact);
}

/**
 * The activity-perturbed forward-gradient graph: inputs as the model's (parameters exposed as
 * inputs) plus one tangent input per site; outputs the model's plus `<w>__grad`, the estimate of
 * ∂loss/∂w for each `wrt` tensor.
 */
export function activityTransform(model: Model, options: ActivityOptions): Model {
  const K = options.tangents ?? 1;
  if (!Number.isInteger(K) || K < 1) {
    throw new UserError(`tangents: expected a positive integer, got ${K}`);
  }
  const prep = prepare(model, options);
  const { graph, emitter: e, stops } = prep;
  const nodes = [...graph.nodes];
  const sites = findSites(prep, options);
  exposeWrtAsInputs(model, graph, options.wrt, e.metas);

  const seeds = new Map<string, string>();
  for (const site of sites.filter((s) => !s.exact)) {
    e.b.names.reserve(site.input);
    const shape = [K, ...e.shape(site.value)];
    graph.inputs.push({ name: site.input, dtype: e.dtype(site.value), shape });
    e.metas.set(site.input, { dtype: e.dtype(site.value), shape });
    seeds.set(site.value, site.input);
  }
  const active = activeValues(nodes, e.metas, seeds.keys(), stops);
  const tangents = new Map<string, string>();
  propagateTangents(e, nodes, active, tangents, K, seeds);

  const wrt = new Set(options.wrt);
  const parts = new Map<string, string[]>();
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const site of sites) {
    const reached = activeValues(nodes, e.metas, [site.value], stops);
    const losses = options.perExampleLosses.filter((l) => reached.has(l));
    if (losses.length === 0) continue; // the site reaches no loss: its parameters' gradient is 0
    let cotangent = site.exact
      ? localCotangent(e, nodes, reached, site.value, losses)
      : siteCotangent(e, e.sum(losses.map((l) => tangents.get(l) ?? null))!, site, losses[0]);
    for (const name of [...site.chain].reverse()) {
      const link = byName.get(name)!;
      const [g] = vjpOf(e, link, [cotangent], [true]);
      cotangent = unbroadcast(e, g!, e.shape(link.inputs[0]));
    }
    const node = byName.get(site.node)!;
    const needs = node.inputs.map((x) => wrt.has(x));
    const gx = vjpOf(e, node, [cotangent], needs);
    node.inputs.forEach((x, i) => {
      const g = gx[i];
      if (!g || !needs[i]) return;
      parts.set(x, [...(parts.get(x) ?? []), unbroadcast(e, g, e.shape(x))]);
    });
  }

  for (const w of options.wrt) {
    const name = `${w}${GRAD}`;
    e.b.names.reserve(name);
    const g = e.sum(parts.get(w) ?? []) ?? e.zerosLike(w);
    e.b.node("Identity", [g], {}, { outputs: [name] });
    graph.outputs.push({ name, dtype: e.dtype(w), shape: e.shape(w) });
  }
  return { ...model, graph };
}

/**
 * The exact ∂loss/∂value by a reverse pass over the parameter-free nodes between `value` and
 * the per-example losses, each seeded with 1/batch (the batch mean's weight).
 */
function localCotangent(
  e: Prepared["emitter"],
  nodes: readonly Node[],
  reached: ReadonlySet<string>,
  value: string,
  losses: string[],
): string {
  const parts = new Map<string, string[]>();
  const push = (name: string, g: string) => parts.set(name, [...(parts.get(name) ?? []), g]);
  const total = (name: string) => {
    const sum = e.sum(parts.get(name) ?? []);
    if (sum !== null) parts.set(name, [sum]);
    return sum;
  };
  for (const l of losses) {
    const one = { ...scalarTensor(1, e.dtype(l)), dims: [1] };
    const ones = e.op("ConstantOfShape", [e.shapeOf(l)], { value: one });
    push(l, e.div(ones, batchSize(e, l)));
  }
  for (const node of nodes.filter((n) => n.inputs.some((x) => reached.has(x))).reverse()) {
    const gy = node.outputs.map((y) => (reached.has(y) ? total(y) : null));
    if (gy.every((g) => g === null) || lookupRule(node).zeroDerivative) continue;
    const needs = node.inputs.map((x) => reached.has(x));
    const gx = vjpOf(e, node, gy as string[], needs);
    node.inputs.forEach((x, i) => {
      const g = gx[i];
      if (g && needs[i]) push(x, unbroadcast(e, g, e.shape(x)));
    });
  }
  return total(value)!;
}

/** The batch size read at run time from a [batch] value, as a float [1]. */
function batchSize(e: Prepared["emitter"], perExample: string): string {
  const batch = e.op("Gather", [e.shapeOf(perExample), e.ints([0])], { axis: 0 });
  return e.op("Cast", [batch], { to: e.dtype(perExample) === "float64" ? 11 : 1 });
}

/** A node's VJP rule with the cotangent of its first output (the others are zero). */
function vjpOf(
  e: Prepared["emitter"],
  node: Node,
  gy0: string[],
  needs: boolean[],
): (string | null)[] {
  const rule = lookupRule(node);
  if (!rule.vjp) {
    throw new UserError(
      `${node.opType} node "${node.name}": op ${node.opType} has no reverse-mode (VJP) rule, ` +
        `which activity perturbation needs to form its parameters' estimate`,
    );
  }
  const gy = node.outputs.map((_, i) => gy0[i] ?? null);
  return rule.vjp(node, e.opset, { b: e, x: node.inputs, y: node.outputs, gy, needs });
}

/**
 * ĝ_z = (1/K) Σ_k s_k ⊙ v_k / batch: s [K, batch] broadcast over the example's dims, the mean
 * over the K tangents, and the batch mean's 1/batch (read at run time from the loss's shape).
 */
function siteCotangent(
  e: Prepared["emitter"],
  s: string,
  site: ActivitySite,
  loss: string,
): string {
  const rank = site.dims.length;
  const aligned = e.unsqueeze(s, Array.from({ length: rank }, (_, i) => i + 2));
  const mean = e.reduce("ReduceMean", e.mul(aligned, site.input), [0], false);
  return e.div(mean, batchSize(e, loss));
}

function findSites(prep: Prepared, options: ActivityOptions): ActivitySite[] {
  const { emitter: e, graph } = prep;
  const losses = options.perExampleLosses;
  if (losses.length === 0) {
    throw new UserError("perExampleLosses: name at least one per-example loss output");
  }
  let batch: Dim | undefined;
  for (const l of losses) {
    const shape = e.metas.get(l)?.shape;
    if (!graph.outputs.some((o) => o.name === l) || !shape || shape.length !== 1) {
      throw new UserError(`perExampleLosses: "${l}" must be a graph output of shape [batch]`);
    }
    if (batch !== undefined && shape[0] !== batch) {
      throw new UserError(`perExampleLosses: "${l}" has batch [${shape}], not [${batch}]`);
    }
    batch = shape[0];
  }
  const wrt = new Set(options.wrt);
  const sites: ActivitySite[] = [];
  const outputs = new Set(graph.outputs.map((o) => o.name));
  const consumers = (v: string) => graph.nodes.filter((n) => n.inputs.includes(v));
  for (const node of graph.nodes) {
    const params = node.inputs.filter((x) => wrt.has(x));
    if (params.length === 0) continue;
    let value = node.outputs[0];
    const chain: string[] = [];
    for (;;) {
      if (outputs.has(value) || prep.stops.has(value)) break;
      const next = consumers(value);
      if (next.length !== 1 || !PER_EXAMPLE_OPS.has(next[0].opType)) break;
      const link = next[0];
      if (link.inputs[0] !== value || link.inputs.slice(1).some((x) => x !== "")) break;
      if (link.opType === "Flatten" && (link.attrs.axis?.value ?? 1) !== 1) break;
      chain.push(link.name);
      value = link.outputs[0];
    }
    const meta = e.metas.get(value);
    const shape = meta?.shape;
    if (!meta || !isFloat(meta.dtype) || !shape || shape.length < 1 || shape[0] !== batch) {
      throw notPerExample(node, params[0], value, shape);
    }
    const dims = shape.slice(1);
    if (!dims.every((d): d is number => typeof d === "number")) {
      throw new UserError(
        `${node.opType} node "${node.name}": its output "${value}" has shape [${shape}]; ` +
          `activity perturbation needs static per-example dims (pass inputShapes)`,
      );
    }
    if (prep.stops.has(value)) {
      throw new UserError(`stopGradients: "${value}" is a layer output that a parameter feeds`);
    }
    const input = `${value}${TANGENT}`;
    sites.push({ value, input, dims, node: node.name, params, chain, exact: false });
  }
  // A site is exact when no layer lies between it and the losses it reaches.
  for (const site of sites) {
    const reached = activeValues(graph.nodes, e.metas, [site.value], prep.stops);
    site.exact = !graph.nodes.some((n) =>
      n.inputs.some((x) => reached.has(x)) && n.inputs.some((x) => wrt.has(x))
    );
  }
  return sites;
}

function notPerExample(node: Node, param: string, value: string, shape?: Dim[]): UserError {
  const got = shape ? `[${shape.join(", ")}]` : "an unknown shape";
  return new UserError(
    `${node.opType} node "${node.name}": it reads parameter "${param}" and its output ` +
      `"${value}" has ${got}, not a leading batch dimension; activity perturbation needs every ` +
      `trained parameter to be read directly by a layer applied per example (train with ` +
      `weight perturbation, or freeze "${param}")`,
  );
}
