import assert from "node:assert/strict";
import { gatherBatch, shardRange } from "../src/data/batches.ts";
import { loadPenguins } from "../src/data/penguins.ts";
import { trainableParameters } from "../src/onnx/models/parameters.ts";
import { createModel } from "../src/onnx/models/registry.ts";
import { BackpropEngine } from "../src/engine/backprop_engine.ts";
import { combineEstimates, type WorkerEstimate } from "../src/train/steps/combine.ts";
import { ForwardEngine } from "../src/engine/forward_engine.ts";
import { trainingGraphs } from "../src/model/graphs.ts";
import { paramLayout, sharedParams } from "../src/model/params.ts";

// One step's estimates, computed with the same engines the workers run, in this thread.
const data = await loadPenguins({ seed: 0 });
const model = createModel("mlp", { inputShape: [4], classes: 3, seed: 0 });
const names = trainableParameters(model).map((p) => p.name);
const layout = paramLayout(model, names);
const params = sharedParams(model, layout);
const batch = gatherBatch(data.train, Int32Array.from({ length: 32 }, (_, i) => i * 3), [4]);
const labels = batch.oneHot(3);

async function engines(
  W: number,
  K: number,
  shared: boolean,
  rebuildInto?: Float32Array,
): Promise<ForwardEngine[]> {
  const { jvp } = trainingGraphs(model, names, K, { vjp: false });
  return await Promise.all(
    Array.from({ length: W }, (_, w) =>
      ForwardEngine.create({
        jvp,
        layout,
        params,
        K,
        seed: 7,
        stream: shared ? 0 : w,
        rebuildInto,
        dist: "normal",
        featureShape: [4],
        classes: 3,
      })),
  );
}

async function shardEstimates(
  es: ForwardEngine[],
  step: number,
  wantEstimate: boolean,
): Promise<WorkerEstimate[]> {
  return await Promise.all(es.map(async (e, w) => {
    const { start, end } = shardRange(32, es.length, w);
    const r = await e.step({
      step,
      x: batch.x.slice(start * 4, end * 4),
      labels: labels.slice(start * 3, end * 3),
      count: end - start,
      wantEstimate,
    });
    return { weight: (end - start) / 32, ...r };
  }));
}

async function exactGradient(): Promise<Float32Array> {
  const { vjp } = trainingGraphs(model, names, 1, { jvp: false });
  const b = await BackpropEngine.create({ vjp, layout, params, featureShape: [4], classes: 3 });
  const { gradient } = await b.step({ x: batch.x, labels, count: 32 });
  await b.release();
  return gradient;
}

const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * b[i], 0);

Deno.test("the shared-tangent estimate equals the independent formula on the same tangents", async () => {
  const es = await engines(2, 3, true);
  const parts = await shardEstimates(es, 5, true);
  const independent = new Float32Array(layout.total);
  const shared = new Float32Array(layout.total);
  const lossA = combineEstimates(parts, independent, null);
  const lossB = combineEstimates(parts.map(({ estimate: _e, ...p }) => p), shared, {
    seed: 7,
    step: 5,
    dist: "normal",
  });
  assert.equal(lossA, lossB);
  const scale = Math.max(...independent.map(Math.abs));
  for (let i = 0; i < layout.total; i++) {
    assert.ok(
      Math.abs(independent[i] - shared[i]) <= 1e-5 * scale,
      `element ${i}: ${independent[i]} vs ${shared[i]}`,
    );
  }
  await Promise.all(es.map((e) => e.release()));
});

Deno.test("one worker with 8 tangents and two workers with 4 each estimate the same gradient", async () => {
  const exact = await exactGradient();
  const u = Float32Array.from({ length: layout.total }, (_, i) => Math.sin(i * 12.9898));
  const setups = [await engines(1, 8, false), await engines(2, 4, false)];
  const M = 300;
  const samples: number[][] = [[], []];
  const grad = new Float32Array(layout.total);
  for (let s = 0; s < 2; s++) {
    for (let step = 0; step < M; step++) {
      combineEstimates(await shardEstimates(setups[s], step, true), grad, null);
      samples[s].push(dot(grad, u));
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = (xs: number[]) =>
    xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1);
  const truth = dot(exact, u);
  // Each mean is unbiased for ⟨∇f, u⟩ and the two agree (z-scores from the sample variances).
  for (const xs of samples) {
    const z = (mean(xs) - truth) / Math.sqrt(variance(xs) / M);
    assert.ok(Math.abs(z) < 4.5, `mean ${mean(xs)} vs exact ${truth} (z = ${z})`);
  }
  const z2 = (mean(samples[0]) - mean(samples[1])) /
    Math.sqrt((variance(samples[0]) + variance(samples[1])) / M);
  assert.ok(Math.abs(z2) < 4.5, `W=1 vs W=2 differ: z = ${z2}`);
  await Promise.all(setups.flat().map((e) => e.release()));
});

Deno.test("workers rebuilding slices of the shared-tangent estimate give the coordinator's vector", async () => {
  const into = new Float32Array(new SharedArrayBuffer(layout.total * 4)).fill(123);
  const es = await engines(2, 3, true, into);
  const parts = await shardEstimates(es, 9, false);
  const serial = new Float32Array(layout.total);
  combineEstimates(parts, serial, { seed: 7, step: 9, dist: "normal" });
  const sums = new Float32Array(3);
  for (const p of parts) p.scalars.forEach((s, k) => (sums[k] += p.weight * s));
  // Uneven slices, one rebuilt twice (a retried worker): the result must not change.
  const cut = 1000;
  es[0].rebuild(9, sums, { start: 0, end: cut });
  es[1].rebuild(9, sums, { start: cut, end: layout.total });
  es[1].rebuild(9, sums, { start: cut, end: layout.total });
  assert.deepEqual(into, Float32Array.from(serial));
  await Promise.all(es.map((e) => e.release()));
});
