import assert from "node:assert/strict";
import { addGram, projectionCoefficients } from "../src/random/projection.ts";
import { sampleTangents } from "../src/random/tangents.ts";

const n = 12;
const a = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1) * (1 + i / 4));

/** (n/K)·V (VᵀV)⁻¹ Vᵀa for the K tangents of draw r. */
function projected(K: number, r: number): Float64Array {
  const v = new Float32Array(K * n);
  sampleTangents(v, n, { seed: 3, step: r, worker: 0, firstTangent: 0, K, dist: "normal" });
  const s = Array.from({ length: K }, (_, k) => a.reduce((sum, x, j) => sum + x * v[k * n + j], 0));
  const gram = new Float64Array(K * K);
  addGram(gram, v, K, n);
  const c = projectionCoefficients(gram, s, n);
  const out = new Float64Array(n);
  for (let k = 0; k < K; k++) for (let j = 0; j < n; j++) out[j] += c[k] * v[k * n + j];
  return out;
}

Deno.test("projection coefficients: K·(1/n)·V c is the orthogonal projection of a", () => {
  const K = 4;
  const p = projected(K, 0).map((x) => x * K / n);
  // The residual a − P a is orthogonal to every tangent, and P(P a) = P a.
  const v = new Float32Array(K * n);
  sampleTangents(v, n, { seed: 3, step: 0, worker: 0, firstTangent: 0, K, dist: "normal" });
  for (let k = 0; k < K; k++) {
    let dot = 0;
    for (let j = 0; j < n; j++) dot += (a[j] - p[j]) * v[k * n + j];
    assert.ok(Math.abs(dot) < 1e-4, `residual · v_${k} = ${dot}`);
  }
});

Deno.test("scaled projection is unbiased: its Monte Carlo mean is within 4.5 standard errors", () => {
  for (const K of [1, 3, 6]) {
    const M = 20_000;
    const sum = new Float64Array(n);
    const sq = new Float64Array(n);
    let cos = 0;
    let cosSq = 0;
    for (let r = 0; r < M; r++) {
      const g = projected(K, r);
      let dot = 0;
      let norm = 0;
      for (let j = 0; j < n; j++) {
        sum[j] += g[j];
        sq[j] += g[j] * g[j];
        dot += g[j] * a[j];
        norm += g[j] * g[j];
      }
      const c = dot / Math.sqrt(norm * a.reduce((s, x) => s + x * x, 0));
      cos += c / M;
      cosSq += c * c / M;
    }
    for (let j = 0; j < n; j++) {
      const mean = sum[j] / M;
      const se = Math.sqrt((sq[j] / M - mean * mean) / (M - 1));
      assert.ok(Math.abs(mean - a[j]) <= 4.5 * se, `K=${K} [${j}]: ${mean} vs ${a[j]} (se ${se})`);
    }
    // ‖Pa‖²/‖a‖² ~ Beta(K/2, (n−K)/2), so E[cos] = E[χ_K]/E[χ_n] exactly.
    const expected = meanChi(K) / meanChi(n);
    const se = Math.sqrt((cosSq - cos * cos) / (M - 1));
    assert.ok(Math.abs(cos - expected) <= 4.5 * se, `K=${K}: cosine ${cos} vs ${expected}`);
  }
});

Deno.test("projection refuses linearly dependent tangents", () => {
  const gram = Float64Array.of(1, 1, 1, 1);
  assert.throws(() => projectionCoefficients(gram, [1, 1], 5), /linearly dependent/);
});

/** Γ at positive integers and half-integers, by Γ(x + 1) = x·Γ(x). */
function gamma(x: number): number {
  let g = Number.isInteger(x) ? 1 : Math.sqrt(Math.PI);
  for (let y = Number.isInteger(x) ? 1 : 0.5; y < x; y++) g *= y;
  return g;
}

/** E[χ_m] = √2·Γ((m+1)/2)/Γ(m/2). */
function meanChi(m: number): number {
  return Math.SQRT2 * gamma((m + 1) / 2) / gamma(m / 2);
}
