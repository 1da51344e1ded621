import assert from "node:assert/strict";
import { normals } from "../src/ad/check/check_grads.ts";
import { jvpTransform, TANGENT } from "../src/ad/jvp.ts";
import { FACTOR_A, FACTOR_B } from "../src/ad/low_rank.ts";
import { emptyGraph, float, GraphBuilder } from "../src/onnx/builder.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { Session } from "../src/onnx/session.ts";
import type { Attr, Model, Tensor } from "../src/onnx/types.ts";

const f32 = (dims: number[], seed: number): Tensor => ({
  dtype: "float32",
  dims,
  data: normals(dims.reduce((a, b) => a * b, 1), seed),
});

/** y = op(x, W[, bias]) followed by Tanh (so that a densified consumer also appears). */
function model(
  op: "Gemm" | "Conv",
  xDims: number[],
  wDims: number[],
  attrs: Record<string, Attr | number | number[]>,
): Model {
  const g = emptyGraph(op);
  const b = new GraphBuilder(g);
  g.inputs.push({ name: "x", dtype: "float32", shape: ["N", ...xDims.slice(1)] });
  b.constant(f32(wDims, 3), "W");
  const out = op === "Gemm" && !attrs.transB ? wDims[1] : wDims[0];
  const bias = b.constant(f32([out], 4), "bias");
  const y = b.op(op, ["x", "W", bias], attrs);
  // W also feeds a Mul: there the tangent must be densified.
  const w2 = b.op("ReduceSum", [b.op("Mul", ["W", "W"])], { keepdims: 0 });
  b.node("Add", [b.op("Tanh", [y]), w2], {}, { outputs: ["out"] });
  g.outputs.push({ name: "out", dtype: "float32" });
  return { irVersion: 8, opsets: { "": 13 }, producerName: "test", graph: g };
}

/** V_k = (1/√R) Σ_r a_kr ⊗ b_kr, on the host. */
function dense(a: Float32Array, b: Float32Array, K: number, R: number, d0: number, d1: number) {
  const v = new Float32Array(K * d0 * d1);
  for (let k = 0; k < K; k++) {
    for (let r = 0; r < R; r++) {
      for (let i = 0; i < d0; i++) {
        for (let j = 0; j < d1; j++) {
          v[(k * d0 + i) * d1 + j] += a[(k * R + r) * d0 + i] * b[(k * R + r) * d1 + j] /
            Math.sqrt(R);
        }
      }
    }
  }
  return v;
}

const CASES: [
  string,
  "Gemm" | "Conv",
  number[],
  number[],
  Record<string, Attr | number | number[]>,
][] = [
  ["Gemm transB", "Gemm", [3, 5], [4, 5], { transB: 1 }],
  ["Gemm", "Gemm", [3, 5], [5, 4], { transB: 0 }],
  ["Gemm transA transB, alpha", "Gemm", [5, 3], [4, 5], {
    transA: 1,
    transB: 1,
    alpha: float(0.7),
  }],
  ["Gemm transA", "Gemm", [5, 3], [5, 4], { transA: 1 }],
  ["Conv 3×3 pads", "Conv", [2, 3, 6, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }],
  ["Conv strides, dilations", "Conv", [2, 2, 9, 8], [3, 2, 3, 2], {
    strides: [2, 1],
    dilations: [1, 2],
  }],
];

for (const [name, op, xDims, wDims, attrs] of CASES) {
  for (const R of [1, 2]) {
    Deno.test(`a rank-${R} weight tangent through ${name} equals the densified tangent`, async () => {
      const m = model(op, xDims, wDims, attrs);
      const K = 2;
      const d0 = wDims[0];
      const d1 = wDims.slice(1).reduce((a, b) => a * b, 1);
      const a = normals(K * R * d0, 7);
      const b = normals(K * R * d1, 8);
      const x = f32(xDims, 9);
      const bias = f32([m.graph.initializers.get("bias")!.dims[0]], 10);
      const common = {
        x,
        [`bias${TANGENT}`]: {
          ...bias,
          dims: [K, ...bias.dims],
          data: normals(K * bias.dims[0], 11),
        },
      };
      const low = await Session.create(
        encodeModel(jvpTransform(m, { wrt: ["W", "bias"], tangents: K, lowRank: R })),
      );
      const got = await low.run({
        ...common,
        [`W${FACTOR_A}`]: { dtype: "float32", dims: [K, R, d0], data: a },
        [`W${FACTOR_B}`]: { dtype: "float32", dims: [K, R, d1], data: b },
      });
      const full = await Session.create(
        encodeModel(jvpTransform(m, { wrt: ["W", "bias"], tangents: K })),
      );
      const want = await full.run({
        ...common,
        [`W${TANGENT}`]: { dtype: "float32", dims: [K, ...wDims], data: dense(a, b, K, R, d0, d1) },
      });
      await low.release();
      await full.release();
      const g = got[`out${TANGENT}`].data as Float32Array;
      const w = want[`out${TANGENT}`].data as Float32Array;
      assert.equal(g.length, w.length);
      const scale = Math.max(...Array.from(w, Math.abs));
      for (let i = 0; i < w.length; i++) {
        assert.ok(Math.abs(g[i] - w[i]) <= 1e-5 * scale, `[${i}]: ${g[i]} vs ${w[i]}`);
      }
    });
  }
}
