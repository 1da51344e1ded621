import { UserError } from "../errors.ts";
import { decodeModel } from "../onnx/decode.ts";
import { encodeModel } from "../onnx/encode.ts";
import type { Model } from "../onnx/types.ts";
import { isFloat } from "../onnx/types.ts";
import { prepare, type TransformOptions } from "./prepare.ts";
import { lookupRule } from "./table.ts";
import { fullTangent, zeroTangent } from "./tangent.ts";
import type { Emitter } from "./emit.ts";
import type { Dim, DType, Node } from "../onnx/types.ts";
import { densify, FACTOR_A, FACTOR_B, type LowRankTangent, lowRankTerm } from "./low_rank.ts";

export interface JvpOptions extends TransformOptions {
  /** K: tangents evaluated in one run. Default 1. */
  tangents?: number;
  /**
   * Rank R of the weight tangents (low_rank.ts): each `wrt` tensor of rank ≥ 2 takes two factor
   * inputs `w__tangent_a` [K, R, d0] and `w__tangent_b` [K, R, d1] instead of `w__tangent`.
   * Default: dense tangents.
   */
  lowRank?: number;
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
  const factored = new Map<string, LowRankTangent>();
  const R = options.lowRank;
  if (R !== undefined && (!Number.isInteger(R) || R < 1)) {
    throw new UserError(`lowRank: expected a positive integer, got ${R}`);
  }
  const input = (name: string, dtype: DType, shape: Dim[]) => {
    e.b.names.reserve(name);
    graph.inputs.push({ name, dtype, shape });
    e.metas.set(name, { dtype, shape });
    return name;
  };
  for (const w of options.wrt) {
    const dims = e.shape(w) as number[];
    const factors = R === undefined ? null : lowRankShape(dims, R);
    if (R !== undefined && factors) {
      const [d0, d1] = factors;
      const a = input(`${w}${FACTOR_A}`, e.dtype(w), [K, R, d0]);
      const b = input(`${w}${FACTOR_B}`, e.dtype(w), [K, R, d1]);
      factored.set(w, { a, b, R, dims });
    } else tangents.set(w, input(`${w}${TANGENT}`, e.dtype(w), [K, ...dims]));
  }

  propagateTangents(e, originalNodes, active, tangents, K, new Map(), factored);

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
  factored: ReadonlyMap<string, LowRankTangent> = new Map(),
): void {
  const seed = (y: string) => {
    const v = seeds.get(y);
    if (v === undefined) return;
    const t = tangents.get(y);
    tangents.set(y, t === undefined ? v : e.add(t, v));
  };
  for (const node of nodes) {
    if (node.inputs.some((x) => active.has(x))) {
      emitNodeTangents(e, node, active, tangents, K, factored);
    }
    node.outputs.forEach(seed);
  }
}

function emitNodeTangents(
  e: Emitter,
  node: Node,
  active: ReadonlySet<string>,
  tangents: Map<string, string>,
  K: number,
  factored: ReadonlyMap<string, LowRankTangent>,
): void {
  const rule = lookupRule(node);
  if (rule.zeroDerivative) return;
  // Low-rank weight tangents: a term the op forms from the factors, else the dense tangent.
  const terms: string[] = [];
  node.inputs.forEach((x, i) => {
    const t = factored.get(x);
    if (!t || tangents.has(x)) return;
    const term = lowRankTerm(e, node, i, t, K);
    if (term) terms.push(term);
    else tangents.set(x, densify(e, t, K));
  });
  if (!rule.jvp) {
    throw new UserError(
      `${node.opType} node "${node.name}": op ${node.opType} has no forward-mode (JVP) rule`,
    );
  }
  const dx = node.inputs.map((x) => tangents.get(x) ?? null);
  const dy = dx.some((t) => t !== null)
    ? rule.jvp(node, e.opset, { b: e, x: node.inputs, y: node.outputs, dx, K })
    : node.outputs.map(() => null);
  node.outputs.forEach((y, i) => {
    const t = i === 0 ? e.sum([dy[0], ...terms]) : dy[i];
    if (t && active.has(y)) tangents.set(y, fullTangent(e, t, y, K));
  });
}

/**
 * [d0, d1] of a weight that gets a rank-R tangent: rank ≥ 2, and its R·(d0 + d1) factor
 * values fewer than its d0·d1 entries (they are drawn from the weight's own stretch of the
 * tangent stream); else null (a dense tangent).
 */
export function lowRankShape(dims: readonly number[], R: number): [number, number] | null {
  if (dims.length < 2) return null;
  const d0 = dims[0];
  const d1 = dims.slice(1).reduce((a, b) => a * b, 1);
  return R * (d0 + d1) < d0 * d1 ? [d0, d1] : null;
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
