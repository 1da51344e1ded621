/**
 * Low-rank weight tangents, a tangent representation beside the dense one and the symbolic
 * zero: a weight W [d0, ...rest] gets the tangent V_k = (1/√R) Σ_r a_kr ⊗ b_kr with factors
 * a [K, R, d0] and b [K, R, d1] (d1 the product of the other dims). With standard normal (or
 * Rademacher) factors E[vec V vec Vᵀ] = I, so the forward gradient stays unbiased, and sampling
 * costs K·R·(d0 + d1) values instead of K·d0·d1.
 *
 * The ops that pay for the structure consume it directly: Gemm's x·Vᵀ is two thin products,
 * (x·b)·a, and Conv's is a convolution with R·K filters followed by a contraction with a.
 * Every other consumer gets the densified tangent (`densify`).
 *
 * @module
 */
import type { Node } from "../onnx/types.ts";
import type { Emitter } from "./emit.ts";
import { tangentShape } from "./tangent.ts";

/** The factors of one weight's tangent. */
export interface LowRankTangent {
  /** [K, R, d0] and [K, R, d1]. */
  a: string;
  b: string;
  R: number;
  /** The weight's dims. */
  dims: number[];
}

/** The factor inputs of a low-rank weight tangent. */
export const FACTOR_A = "__tangent_a";
export const FACTOR_B = "__tangent_b";

/** V [K, ...dims] = (1/√R) Σ_r a_r ⊗ b_r, for consumers that need the dense tangent. */
export function densify(e: Emitter, t: LowRankTangent, K: number): string {
  const outer = e.op("MatMul", [e.transpose(t.a, [0, 2, 1]), t.b]); // [K, d0, d1]
  const dense = e.reshape(outer, [K, ...t.dims]);
  return t.R === 1 ? dense : e.mul(dense, e.scalar(1 / Math.sqrt(t.R), t.a));
}

/**
 * The term `node` contributes to its output's tangent from the low-rank tangent of input
 * `i`, emitted without forming V; null when the structure does not pay there (densify).
 */
export function lowRankTerm(
  e: Emitter,
  node: Node,
  i: number,
  t: LowRankTangent,
  K: number,
): string | null {
  const int = (name: string, fallback: number) => {
    const a = node.attrs[name];
    return a && a.type === "int" ? a.value : fallback;
  };
  const float = (name: string, fallback: number) => {
    const a = node.attrs[name];
    return a && a.type === "float" ? a.value : fallback;
  };
  const scale = 1 / Math.sqrt(t.R);
  if (node.opType === "Gemm" && i === 1 && t.dims.length === 2) {
    const x = int("transA", 0) ? e.transpose(node.inputs[0], [1, 0]) : node.inputs[0];
    // x·Vᵀ (transB) = Σ_r (x·b_r) a_rᵀ; x·V = Σ_r (x·a_r) b_rᵀ.
    const [inner, outer] = int("transB", 0) ? [t.b, t.a] : [t.a, t.b];
    const term = thinProducts(e, x, inner, outer, t.R, K);
    return scaled(e, term, float("alpha", 1) * scale, x);
  }
  if (node.opType === "Conv" && i === 1 && t.dims.length === 4 && int("group", 1) === 1) {
    const [, c, kh, kw] = t.dims;
    const filters = e.reshape(t.b, [K * t.R, c, kh, kw]);
    const attrs = Object.fromEntries(Object.entries(node.attrs).filter(([k]) => k !== "group"));
    const y = e.op("Conv", [node.inputs[0], filters], attrs); // [N, K·R, H', W']
    const spatial = e.reshape(y, [0, K, t.R, -1]); // [N, K, R, S]
    const perExample = e.transpose(spatial, [1, 0, 3, 2]); // [K, N, S, R]
    const mixed = e.op("MatMul", [perExample, e.unsqueeze(t.a, [1])]); // [K, N, S, out]
    const term = e.op("Reshape", [
      e.transpose(mixed, [0, 1, 3, 2]),
      tangentShape(e, node.outputs[0], K),
    ]);
    return scaled(e, term, scale, node.inputs[0]);
  }
  return null;
}

/** [K, M, out] = Σ_r (x·inner_r) ⊗ outer_r for x [M, in], inner [K, R, in], outer [K, R, out]. */
function thinProducts(
  e: Emitter,
  x: string,
  inner: string,
  outer: string,
  R: number,
  K: number,
): string {
  const flat = e.reshape(inner, [K * R, -1]); // [K·R, in]
  const projected = e.op("MatMul", [x, e.transpose(flat, [1, 0])]); // [M, K·R]
  const perTangent = e.reshape(e.transpose(projected, [1, 0]), [K, R, -1]); // [K, R, M]
  return e.op("MatMul", [e.transpose(perTangent, [0, 2, 1]), outer]); // [K, M, out]
}

function scaled(e: Emitter, t: string, k: number, like: string): string {
  return k === 1 ? t : e.mul(t, e.scalar(k, like));
}
