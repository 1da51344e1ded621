// Moments of the tangent samplers. Each sample statistic is compared with its true value within
// 5 standard errors computed from the sample size (fixed seeds make each run deterministic),
// and one test shows that this check does reject slightly biased samplers.
import assert from "node:assert/strict";
import { inverseNormalCdf } from "../src/random/inverse_normal_cdf.ts";
import { CELL_COUNT, normalTable } from "../src/random/normal_table.ts";
import { sampleTangent, type TangentDist } from "../src/random/tangents.ts";

const Z = 5;
const M = 10_000_000;

function tangent(dist: TangentDist, tangentIndex: number, n = M, seed = 2024): Float32Array {
  const v = new Float32Array(n);
  sampleTangent(v, { seed, step: 3, worker: 1, tangent: tangentIndex, dist });
  return v;
}

/** Sample raw moments E[x], E[x²], E[x³], E[x⁴]. */
function moments(x: Float32Array): [number, number, number, number] {
  let m1 = 0, m2 = 0, m3 = 0, m4 = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const v2 = v * v;
    m1 += v;
    m2 += v2;
    m3 += v2 * v;
    m4 += v2 * v2;
  }
  const n = x.length;
  return [m1 / n, m2 / n, m3 / n, m4 / n];
}

/**
 * The checks a standard normal sample must pass: each raw moment within Z standard errors,
 * where Var(x^p) = E[x^2p] - E[x^p]² for the normal (E[x⁶] = 15, E[x⁸] = 105).
 * Returns the names of the failed checks.
 */
function normalMomentFailures(x: Float32Array): string[] {
  const [m1, m2, m3, m4] = moments(x);
  const se = (variance: number) => Z * Math.sqrt(variance / x.length);
  const failures: string[] = [];
  if (Math.abs(m1) > se(1)) failures.push(`mean ${m1}`);
  if (Math.abs(m2 - 1) > se(3 - 1)) failures.push(`variance ${m2}`);
  if (Math.abs(m3) > se(15)) failures.push(`third moment ${m3}`);
  if (Math.abs(m4 - 3) > se(105 - 9)) failures.push(`fourth moment ${m4}`);
  return failures;
}

Deno.test("normal tangents have mean 0, variance 1, no skew and fourth moment 3", () => {
  assert.deepEqual(normalMomentFailures(tangent("normal", 0)), []);
  // The tolerances above are 2.2e-3 on the variance and 0.5% on E[x⁴]; at this seed:
  const [, m2, , m4] = moments(tangent("normal", 0));
  assert.ok(Math.abs(m2 - 1) < 1e-3, `variance ${m2}`);
  assert.ok(Math.abs(m4 / 3 - 1) < 1e-2, `fourth moment ${m4}`);
});

Deno.test("the moment check rejects samplers with variance 1.05 or 1.005, a mean shift or flat tails", () => {
  const v = tangent("normal", 1);
  const scaled = (factor: number) => v.map((x) => x * factor);
  assert.ok(normalMomentFailures(scaled(Math.sqrt(1.05))).some((f) => f.startsWith("variance")));
  assert.ok(normalMomentFailures(scaled(Math.sqrt(1.005))).some((f) => f.startsWith("variance")));
  assert.ok(normalMomentFailures(v.map((x) => x + 0.005)).some((f) => f.startsWith("mean")));
  // Uniform on [-√3, √3]: variance 1 but E[x⁴] = 1.8.
  const u = v.map((x) => Math.sqrt(3) * (2 * (0.5 * (1 + Math.tanh(0.8 * x))) - 1));
  assert.ok(normalMomentFailures(u).some((f) => f.startsWith("fourth")));
  // Rademacher values pass the first three checks but not the fourth.
  assert.deepEqual(normalMomentFailures(tangent("rademacher", 0)).length, 1);
});

Deno.test("normal tail frequencies match P(|z| > 2), P(|z| > 3) and P(|z| > 4)", () => {
  const v = tangent("normal", 2);
  for (
    const [t, p] of [[2, 0.04550026389635842], [3, 0.0026997960632601866], [
      4,
      6.334248366623996e-5,
    ]]
  ) {
    let count = 0;
    for (const x of v) if (Math.abs(x) > t) count++;
    const tol = Z * Math.sqrt(p * (1 - p) / v.length);
    assert.ok(Math.abs(count / v.length - p) < tol, `P(|z| > ${t}) = ${count / v.length}`);
  }
  let positive = 0;
  for (const x of v) if (x > 0) positive++;
  assert.ok(Math.abs(positive / v.length - 0.5) < Z * 0.5 / Math.sqrt(v.length));
});

Deno.test("the normal sampler's exact moments, from its table, are variance 1 and E[x⁴] = 3", () => {
  // Every 32-bit word is equally likely, so the moments follow in closed form: linear pieces
  // a + b·t with t ~ U(0, 1) inside the cells, plus the exact normal tail beyond Φ⁻¹(2^-16).
  const { cells, scale, tailEdge } = normalTable();
  const cellMass = 2 ** -16;
  let m2 = 0, m4 = 0;
  for (let j = 1; j < CELL_COUNT; j++) {
    const step = cells[2 * j + 1];
    const a = cells[2 * j] - 0.5 * step;
    const b = step * 2 ** 16;
    m2 += (a * a + a * b + b * b / 3) * cellMass;
    m4 += (a ** 4 + 2 * a ** 3 * b + 2 * a * a * b * b + a * b ** 3 + b ** 4 / 5) * cellMass;
  }
  const density = Math.exp(-0.5 * tailEdge * tailEdge) / Math.sqrt(2 * Math.PI);
  m2 += scale ** 2 * (cellMass - tailEdge * density);
  m4 += scale ** 4 * (3 * cellMass - density * (tailEdge ** 3 + 3 * tailEdge));
  // Both halves mirror each other.
  m2 *= 2;
  m4 *= 2;
  assert.ok(Math.abs(m2 - 1) < 1e-6, `exact variance ${m2}`);
  assert.ok(Math.abs(m4 - 3) < 2e-4, `exact fourth moment ${m4}`);
});

Deno.test("inverseNormalCdf matches known normal quantiles", () => {
  const cases: [number, number][] = [
    [0.5, 0],
    [0.975, 1.959963984540054],
    [0.8413447460685429, 1],
    [0.022750131948179195, -2],
    [1e-10, -6.361340902404056],
  ];
  for (const [p, z] of cases) {
    assert.ok(Math.abs(inverseNormalCdf(p) - z) <= 2e-9 * Math.max(1, Math.abs(z)), `p = ${p}`);
  }
  for (const p of [2 ** -40, 2 ** -16, 2 ** -7, 0.25, 0.375]) {
    assert.equal(inverseNormalCdf(1 - p), -inverseNormalCdf(p));
  }
  assert.equal(inverseNormalCdf(0), -Infinity);
  assert.throws(() => inverseNormalCdf(1.5), RangeError);
});

Deno.test("Rademacher tangents are ±1 with mean 0", () => {
  const v = tangent("rademacher", 3);
  let sum = 0;
  for (const x of v) {
    if (x !== 1 && x !== -1) assert.fail(`value ${x}`);
    sum += x;
  }
  assert.ok(Math.abs(sum / v.length) < Z / Math.sqrt(v.length), `mean ${sum / v.length}`);
});

Deno.test("two tangents are uncorrelated, so E[v vᵀ] = I (normal and Rademacher)", () => {
  for (const dist of ["normal", "rademacher"] as const) {
    const pairs: [Float32Array, Float32Array][] = [
      [tangent(dist, 4), tangent(dist, 5)], // neighbouring tangents of one step and worker
      [tangent(dist, 4), tangent(dist, 4, M, 2025)], // neighbouring seeds
    ];
    for (const [a, b] of pairs) {
      let cross = 0;
      for (let i = 0; i < a.length; i++) cross += a[i] * b[i];
      // E[ab] = 0 and Var(ab) = 1 for independent unit-variance entries.
      assert.ok(Math.abs(cross / a.length) < Z / Math.sqrt(a.length), `${dist}: ${cross / M}`);
    }
    // Entries within one tangent: E[v_i v_{i+1}] = 0.
    const v = tangent(dist, 6);
    let lag = 0;
    for (let i = 0; i + 1 < v.length; i++) lag += v[i] * v[i + 1];
    assert.ok(Math.abs(lag / (v.length - 1)) < Z / Math.sqrt(v.length), `${dist} lag-1`);
  }
});
