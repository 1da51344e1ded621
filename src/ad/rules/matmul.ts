/**
 * The matrix-product family (MatMul with numpy broadcasting, Gemm): bilinear, so each tangent
 * term is a product with one operand replaced by its tangent, and the VJP terms are products
 * with the other operand transposed.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Dim, Tensor } from "../../onnx/types.ts";
import { broadcastIndex, floats, size } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, z } from "../rule.ts";
import { broadcastShapes } from "../shapes.ts";
import { alignTangent, unbroadcast } from "../tangent.ts";
import { noAttrs } from "./helpers.ts";

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Swaps the last two axes of a value of rank r. */
function swapLast(e: Emitter, t: string): string {
  const r = e.rank(t);
  return e.transpose(t, [...range(0, r - 2), r - 1, r - 2]);
}

/** Numpy matmul shape: a 1-D left operand gains (then loses) a row axis, a 1-D right a column. */
function matmulShape(a: Dim[], c: Dim[]): Dim[] {
  if (a.length === 0 || c.length === 0) throw new UserError("MatMul: operands must have rank ≥ 1");
  const a2 = a.length === 1 ? [1, a[0]] : a;
  const c2 = c.length === 1 ? [c[0], 1] : c;
  const batch = broadcastShapes(a2.slice(0, -2), c2.slice(0, -2), "MatMul");
  const out = [...batch, a2[a2.length - 2], c2[c2.length - 1]];
  if (a.length === 1) out.splice(out.length - 2, 1);
  if (c.length === 1) out.pop();
  return out;
}

function hostMatMul(a: Tensor, c: Tensor): Tensor {
  const ad = a.dims.length === 1 ? [1, a.dims[0]] : a.dims;
  const cd = c.dims.length === 1 ? [c.dims[0], 1] : c.dims;
  const [n, k, m] = [ad[ad.length - 2], ad[ad.length - 1], cd[cd.length - 1]];
  const batch = broadcastShapes(ad.slice(0, -2), cd.slice(0, -2)) as number[];
  const ia = broadcastIndex(ad.slice(0, -2), batch);
  const ic = broadcastIndex(cd.slice(0, -2), batch);
  const [av, cv] = [floats(a), floats(c)];
  const out = new Float64Array(size(batch) * n * m);
  for (let bi = 0; bi < size(batch); bi++) {
    const [oa, oc, oy] = [ia(bi) * n * k, ic(bi) * k * m, bi * n * m];
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let l = 0; l < k; l++) s += av[oa + i * k + l] * cv[oc + l * m + j];
        out[oy + i * m + j] = s;
      }
    }
  }
  return { dtype: "float64", dims: matmulShape(a.dims, c.dims) as number[], data: out };
}

/**
 * MatMul with numpy semantics. A tangent [K, ...shape] takes part in a MatMul as one more
 * batch axis, so it is lifted with size-1 axes until K sits in front of every batch axis of
 * the result; a 1-D operand's tangent gets its row (column) axis explicitly, removed after.
 */
const matMul = defineRule(noAttrs, {
  infer: ({ inputs }) => {
    const [a, c] = inputs as Meta[];
    return [{ dtype: a.dtype, shape: a.shape && c.shape && matmulShape(a.shape, c.shape) }];
  },
  evaluate: ({ inputs }) => [hostMatMul(inputs[0]!, inputs[1]!)],
  jvp: ({ b, x, dx }) => {
    const [A, B] = x;
    const [aVec, bVec] = [b.rank(A) === 1, b.rank(B) === 1];
    const batchA = Math.max(b.rank(A), 2) - 2;
    const batchB = Math.max(b.rank(B), 2) - 2;
    const batch = Math.max(batchA, batchB);
    const terms: string[] = [];
    if (dx[0]) {
      let t = aVec ? b.unsqueeze(dx[0], [1]) : dx[0]; // [K, 1, k]
      t = b.unsqueeze(t, range(1, 1 + batch - batchA));
      const out = b.op("MatMul", [t, B]);
      terms.push(aVec ? b.squeeze(out, [b.rank(out) - (bVec ? 1 : 2)]) : out);
    }
    if (dx[1]) {
      let t = bVec ? b.unsqueeze(dx[1], [2]) : dx[1]; // [K, k, 1]
      t = b.unsqueeze(t, range(1, 1 + batch - batchB));
      const out = b.op("MatMul", [A, t]);
      terms.push(bVec ? b.squeeze(out, [b.rank(out) - 1]) : out);
    }
    return [b.sum(terms)];
  },
  // gA = gy·Bᵀ and gB = Aᵀ·gy in the 2-D-ified frame, summed over broadcast batch axes.
  vjp: ({ b, x, gy, needs }) => {
    const [A, B] = x;
    const [aVec, bVec] = [b.rank(A) === 1, b.rank(B) === 1];
    const batch = Math.max(b.rank(A), b.rank(B), 2) - 2;
    const g = b.unsqueeze(gy[0]!, [...(aVec ? [batch] : []), ...(bVec ? [batch + 1] : [])]);
    let gA: string | null = null;
    let gB: string | null = null;
    if (needs[0]) {
      const bT = bVec ? b.unsqueeze(B, [0]) : swapLast(b, B);
      const full = b.op("MatMul", [g, bT]);
      gA = unbroadcast(b, aVec ? b.squeeze(full, [b.rank(full) - 2]) : full, b.shape(A));
    }
    if (needs[1]) {
      const aT = aVec ? b.unsqueeze(A, [1]) : swapLast(b, A);
      const full = b.op("MatMul", [aT, g]);
      gB = unbroadcast(b, bVec ? b.squeeze(full, [b.rank(full) - 1]) : full, b.shape(B));
    }
    return [gA, gB];
  },
});

const gemmAttrs = attrs({
  alpha: z.number().default(1),
  beta: z.number().default(1),
  transA: z.number().default(0),
  transB: z.number().default(0),
});

function hostGemm(
  a: Tensor,
  c: Tensor,
  bias: Tensor | undefined,
  { alpha, beta, transA, transB }: z.infer<typeof gemmAttrs>,
): Tensor {
  const [M, K] = transA ? [a.dims[1], a.dims[0]] : a.dims;
  const N = transB ? c.dims[0] : c.dims[1];
  const [av, cv] = [floats(a), floats(c)];
  const at = (i: number, l: number) => (transA ? av[l * M + i] : av[i * K + l]);
  const ct = (l: number, j: number) => (transB ? cv[j * K + l] : cv[l * N + j]);
  const out = new Float64Array(M * N);
  const bi = bias && broadcastIndex(bias.dims, [M, N]);
  const bv = bias && floats(bias);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let l = 0; l < K; l++) s += at(i, l) * ct(l, j);
      out[i * N + j] = alpha * s + (bv ? beta * bv[bi!(i * N + j)] : 0);
    }
  }
  return { dtype: "float64", dims: [M, N], data: out };
}

/** Scales by a constant unless it is 1. */
function scale(e: Emitter, t: string, k: number, like: string): string {
  return k === 1 ? t : e.mul(t, e.scalar(k, like));
}

/**
 * op(dA)·op(B) for a tangent dA [K, ...]. With transB, B (typically a weight matrix) is not
 * transposed: the K axis is folded into the rows and one Gemm with transB = 1 reads B as
 * stored, where MatMul would need a transposed copy of B on every run.
 */
function tangentTimesB(
  e: Emitter,
  dA: string,
  B: string,
  transA: boolean,
  transB: boolean,
): string {
  const opdA = transA ? e.transpose(dA, [0, 2, 1]) : dA;
  const [rowsB, colsB] = e.shape(B);
  const inner = transB ? colsB : rowsB;
  const out = transB ? rowsB : colsB;
  // Gemm's C input is optional only from opset 11.
  if (!transB || e.opset < 11 || typeof inner !== "number" || typeof out !== "number") {
    return e.op("MatMul", [opdA, transB ? e.transpose(B, [1, 0]) : B]);
  }
  const K = e.shape(dA)[0] as number;
  const rows = e.reshape(opdA, [-1, inner]);
  return e.reshape(e.op("Gemm", [rows, B], { transB: 1 }), [K, -1, out]);
}

/**
 * op(A)·op(dB) for a tangent dB [K, ...]. With transB, compute (dB·op(A)ᵀ)ᵀ per tangent:
 * the transposes then touch A and the result (activation-sized), not the weight tangent.
 */
function aTimesTangent(
  e: Emitter,
  A: string,
  dB: string,
  transA: boolean,
  transB: boolean,
): string {
  if (!transB) return e.op("MatMul", [transA ? e.transpose(A, [1, 0]) : A, dB]);
  const opAT = transA ? A : e.transpose(A, [1, 0]);
  return e.transpose(e.op("MatMul", [dB, opAT]), [0, 2, 1]);
}

/**
 * Gemm: Y = alpha·op(A)·op(B) + beta·C, op = optional transpose, C unidirectionally
 * broadcast to [M, N] (optional since opset 11). Derivatives go through MatMul, which every
 * opset has and which accepts the K axis as a batch axis.
 */
const gemm = defineRule(gemmAttrs, {
  infer: ({ inputs, attrs }) => {
    const [a, c] = inputs as Meta[];
    if (!a.shape || !c.shape) return [{ dtype: a.dtype }];
    const M = attrs.transA ? a.shape[1] : a.shape[0];
    const N = attrs.transB ? c.shape[0] : c.shape[1];
    return [{ dtype: a.dtype, shape: [M, N] }];
  },
  evaluate: ({ inputs, attrs }) => [hostGemm(inputs[0]!, inputs[1]!, inputs[2], attrs)],
  jvp: ({ b, x, y, dx, attrs }) => {
    const [A, B, C] = x;
    const product = b.sum([
      dx[0] && tangentTimesB(b, dx[0], B, attrs.transA === 1, attrs.transB === 1),
      dx[1] && aTimesTangent(b, A, dx[1], attrs.transA === 1, attrs.transB === 1),
    ]);
    const dC = C && dx[2] ? scale(b, alignTangent(b, dx[2], 2), attrs.beta, y[0]) : null;
    return [b.sum([product && scale(b, product, attrs.alpha, y[0]), dC])];
  },
  vjp: ({ b, x, y, gy, needs, attrs }) => {
    const [A, B] = x;
    const g = scale(b, gy[0]!, attrs.alpha, y[0]);
    let gA: string | null = null;
    let gB: string | null = null;
    if (needs[0]) {
      // op(A) = G·op(B)ᵀ; with transA, A = (G·op(B)ᵀ)ᵀ = op(B)·Gᵀ.
      gA = attrs.transA
        ? b.op("MatMul", [attrs.transB ? b.transpose(B, [1, 0]) : B, b.transpose(g, [1, 0])])
        : b.op("MatMul", [g, attrs.transB ? B : b.transpose(B, [1, 0])]);
    }
    if (needs[1]) {
      // op(B) = op(A)ᵀ·G; with transB, B = Gᵀ·op(A).
      gB = attrs.transB
        ? b.op("MatMul", [b.transpose(g, [1, 0]), attrs.transA ? b.transpose(A, [1, 0]) : A])
        : b.op("MatMul", [attrs.transA ? A : b.transpose(A, [1, 0]), g]);
    }
    // C's gradient has Y's shape; the driver sums it back to C's broadcast shape.
    const gC = needs[2] ? scale(b, gy[0]!, attrs.beta, y[0]) : null;
    return [gA, gB, gC];
  },
});

export const matmulRules: Record<string, Rule> = { MatMul: matMul, Gemm: gemm };
