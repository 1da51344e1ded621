import assert from "node:assert/strict";
import { accumulateEstimate } from "../src/random/estimate.ts";
import { sampleTangents, type TangentDist } from "../src/random/tangents.ts";

const DISTS: TangentDist[] = ["normal", "rademacher"];
const STREAM = { seed: 99, step: 4, worker: 1, firstTangent: 3 };

/** Small deterministic values in [-2, 2) for scalars and starting accumulators. */
function values(n: number, salt: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 7919 + salt * 104729) % 4001) / 1000 - 2);
}

/** acc0 + scale · Σ_k s_k v_k in float64, with the tangents materialised. */
function explicit(
  acc0: Float32Array,
  n: number,
  scalars: Float32Array,
  dist: TangentDist,
  offset: number,
  scale: number,
): Float64Array {
  const K = scalars.length;
  const v = new Float32Array(K * n);
  sampleTangents(v, n, { ...STREAM, K, dist, offset });
  const out = Float64Array.from(acc0);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let k = 0; k < K; k++) sum += scalars[k] * v[k * n + i];
    out[i] += scale * sum;
  }
  return out;
}

Deno.test("accumulateEstimate adds (1/K) Σ_k s_k v_k, as the explicit formula does", () => {
  const n = 10_001; // not a multiple of the chunk size
  for (const dist of DISTS) {
    for (const offset of [0, 77]) {
      const scalars = values(5, 1);
      const acc = values(n + 3, 2);
      const expected = explicit(acc, n, scalars, dist, offset, 1 / scalars.length);
      accumulateEstimate(acc, n, scalars, { ...STREAM, dist, offset });
      for (let i = 0; i < n; i++) {
        // Float32 rounding of the final sum only.
        const tol = 1e-6 * (1 + Math.abs(expected[i]));
        if (Math.abs(acc[i] - expected[i]) > tol) {
          assert.fail(`${dist} offset ${offset} element ${i}: ${acc[i]} vs ${expected[i]}`);
        }
      }
      // Entries past n are untouched.
      assert.deepEqual(Array.from(acc.subarray(n)), Array.from(values(n + 3, 2).subarray(n)));
    }
  }
});

Deno.test("accumulateEstimate uses an explicit scale in place of 1/K", () => {
  const n = 300;
  const scalars = values(3, 5);
  const acc = new Float32Array(n);
  accumulateEstimate(acc, n, scalars, { ...STREAM, dist: "normal" }, 2.5);
  const expected = explicit(new Float32Array(n), n, scalars, "normal", 0, 2.5);
  for (let i = 0; i < n; i++) assert.ok(Math.abs(acc[i] - expected[i]) < 1e-5, `element ${i}`);
});

Deno.test("accumulateEstimate with no scalars, no elements or a bad range changes nothing", () => {
  const acc = values(50, 3);
  accumulateEstimate(acc, 50, new Float32Array(0), { ...STREAM, dist: "normal" });
  accumulateEstimate(acc, 0, values(2, 1), { ...STREAM, dist: "normal" });
  assert.deepEqual(acc, values(50, 3));
  assert.throws(
    () => accumulateEstimate(acc, 51, values(2, 1), { ...STREAM, dist: "normal" }),
    RangeError,
  );
  // A range past the last counter is rejected before anything is added.
  const stream = { ...STREAM, dist: "normal" as const, offset: 2 ** 32 - 10 };
  assert.throws(() => accumulateEstimate(acc, 50, values(2, 1), stream), RangeError);
  assert.deepEqual(acc, values(50, 3));
});

Deno.test("the forward-gradient estimate averaged over many tangents approaches the gradient", () => {
  // With s_k = ∇f·v_k, E[s v] = E[v vᵀ] ∇f = ∇f exactly when the covariance is I.
  const grad = Float32Array.from([1, -2, 0.5, 0, 3, -1, 0.25, 2]);
  const n = grad.length;
  const K = 100_000;
  for (const dist of DISTS) {
    const v = new Float32Array(K * n);
    sampleTangents(v, n, { ...STREAM, K, dist });
    const scalars = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += grad[i] * v[k * n + i];
      scalars[k] = s;
    }
    const estimate = new Float32Array(n);
    accumulateEstimate(estimate, n, scalars, { ...STREAM, dist });
    let norm2 = 0;
    for (const g of grad) norm2 += g * g;
    for (let i = 0; i < n; i++) {
      // Var((∇f·v) v_i) is |∇f|² + g_i² for normal v and |∇f|² - g_i² for Rademacher v.
      const variance = dist === "normal" ? norm2 + grad[i] ** 2 : norm2 - grad[i] ** 2;
      const tol = 5 * Math.sqrt(variance / K);
      assert.ok(Math.abs(estimate[i] - grad[i]) < tol, `${dist} ${i}: ${estimate[i]}`);
    }
  }
});
