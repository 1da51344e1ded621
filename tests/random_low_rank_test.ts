import assert from "node:assert/strict";
import { rebuildEstimate } from "../src/engine/forward_engine.ts";
import { accumulateFactored, sampleFactors } from "../src/random/low_rank.ts";

const stream = { seed: 5, step: 3, worker: 1, dist: "normal" as const, offset: 17 };

/** V = (1/√R) Σ_r a_r ⊗ b_r of one tangent, flattened. */
function tangent(R: number, d0: number, d1: number, step: number, dist: "normal" | "rademacher") {
  const a = new Float32Array(R * d0);
  const b = new Float32Array(R * d1);
  sampleFactors(a, b, { K: 1, R, d0, d1 }, { ...stream, step, dist });
  const v = new Float32Array(d0 * d1);
  accumulateFactored(v, [1], a, b, { K: 1, R, d0, d1 }, { from: 0, to: d0 * d1 });
  return v;
}

for (const dist of ["normal", "rademacher"] as const) {
  for (const R of [1, 2]) {
    Deno.test(`rank-${R} ${dist} tangents have mean 0 and covariance I (Monte Carlo, 4.5 SE)`, () => {
      const [d0, d1] = [3, 4];
      const n = d0 * d1;
      const M = 20_000;
      const sum = new Float64Array(n);
      const prod = new Float64Array(n * n);
      const prodSq = new Float64Array(n * n);
      for (let m = 0; m < M; m++) {
        const v = tangent(R, d0, d1, m, dist);
        for (let i = 0; i < n; i++) {
          sum[i] += v[i];
          for (let j = 0; j < n; j++) {
            const p = v[i] * v[j];
            prod[i * n + j] += p;
            prodSq[i * n + j] += p * p;
          }
        }
      }
      for (let i = 0; i < n; i++) {
        const mean = sum[i] / M;
        const se = Math.sqrt(prod[i * n + i] / M / M);
        assert.ok(Math.abs(mean) <= 4.5 * se, `mean[${i}] = ${mean} (se ${se})`);
        for (let j = 0; j < n; j++) {
          const c = prod[i * n + j] / M;
          const se2 = Math.sqrt(Math.max(prodSq[i * n + j] / M - c * c, 1e-12) / M);
          const want = i === j ? 1 : 0;
          assert.ok(Math.abs(c - want) <= 4.5 * se2, `cov[${i},${j}] = ${c} (se ${se2})`);
        }
      }
    });
  }
}

Deno.test("a low-rank estimate rebuilt in slices equals the estimate rebuilt whole", () => {
  const layout = {
    names: ["w1", "b1", "w2"],
    dims: [[5, 7], [5], [3, 5]],
    offsets: [0, 35, 40],
    sizes: [35, 5, 15],
    total: 55,
  };
  const sums = Float32Array.of(0.5, -1.25, 2);
  const key = { seed: 9, step: 4, stream: 0, dist: "normal" as const };
  for (const R of [1, 2]) {
    const whole = new Float32Array(55);
    rebuildEstimate(whole, sums, { start: 0, end: 55 }, key, undefined, { layout, R });
    const parts = new Float32Array(55);
    for (const [start, end] of [[0, 13], [13, 38], [38, 41], [41, 55]]) {
      rebuildEstimate(parts, sums, { start, end }, key, undefined, { layout, R });
    }
    assert.deepEqual(parts, whole);
    // The bias keeps its dense tangent: as the dense rebuild gives it.
    const dense = new Float32Array(55);
    rebuildEstimate(dense, sums, { start: 0, end: 55 }, key);
    assert.deepEqual(whole.subarray(35, 40), dense.subarray(35, 40));
    assert.notDeepEqual(whole.subarray(0, 35), dense.subarray(0, 35));
  }
});
