/**
 * Tangent sampling throughput on one paper-MLP tangent (n = 1.86 M parameters).
 *
 *     deno bench bench/sampling_bench.ts
 *
 * Divide n by the time per iteration for samples/s. The `baseline` is the naive sampler that
 * DESIGN.md measured at ~15 M normals/s: Box–Muller with Math.random, both outputs used.
 */
import { fillUint32, streamKey } from "../src/random/counter_hash.ts";
import { accumulateEstimate } from "../src/random/estimate.ts";
import { fillNormalReference } from "../src/random/fill_normal.ts";
import { sampleTangent } from "../src/random/tangents.ts";

const N = 1_860_000;
const out = new Float32Array(N);
const words = new Uint32Array(N);
const acc = new Float32Array(N);
const stream = { seed: 1, step: 0, worker: 0, tangent: 0 };

function boxMuller(v: Float32Array): void {
  for (let i = 0; i + 1 < v.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - Math.random()));
    const theta = 2 * Math.PI * Math.random();
    v[i] = r * Math.cos(theta);
    v[i + 1] = r * Math.sin(theta);
  }
}

Deno.bench({
  name: "Box–Muller with Math.random",
  group: "normal tangent, n = 1.86M",
  baseline: true,
  fn: () => boxMuller(out),
});

Deno.bench({
  name: "sampleTangent normal (counter hash + table, WebAssembly SIMD)",
  group: "normal tangent, n = 1.86M",
  fn: () => sampleTangent(out, { ...stream, dist: "normal" }),
});

Deno.bench({
  name: "normal, JavaScript loop only (no WebAssembly)",
  group: "normal tangent, n = 1.86M",
  fn: () => fillNormalReference(streamKey(1, 0, 0, 0), 0, out),
});

Deno.bench({
  name: "sampleTangent rademacher",
  group: "normal tangent, n = 1.86M",
  fn: () => sampleTangent(out, { ...stream, dist: "rademacher" }),
});

Deno.bench({
  name: "fillUint32 (raw counter hash words)",
  group: "normal tangent, n = 1.86M",
  fn: () => fillUint32(streamKey(1, 0, 0, 0), 0, words),
});

Deno.bench({
  name: "accumulateEstimate normal, K = 4",
  group: "estimate from 4 scalars, n = 1.86M",
  baseline: true,
  fn: () =>
    accumulateEstimate(acc, N, Float32Array.of(0.1, -0.2, 0.3, 0.4), {
      seed: 1,
      step: 0,
      worker: 0,
      firstTangent: 0,
      dist: "normal",
    }),
});

Deno.bench({
  name: "accumulateEstimate rademacher, K = 4",
  group: "estimate from 4 scalars, n = 1.86M",
  fn: () =>
    accumulateEstimate(acc, N, Float32Array.of(0.1, -0.2, 0.3, 0.4), {
      seed: 1,
      step: 0,
      worker: 0,
      firstTangent: 0,
      dist: "rademacher",
    }),
});
