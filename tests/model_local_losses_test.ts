import assert from "node:assert/strict";
import { normals } from "../src/ad/check/check_grads.ts";
import { GRAD, vjpTransform } from "../src/ad/vjp.ts";
import { oneHot } from "../src/data/batches.ts";
import { layerBoundaries, withLocalLosses } from "../src/model/local_losses.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { trainableParameters } from "../src/onnx/models/parameters.ts";
import { createModel } from "../src/onnx/models/registry.ts";
import { Session } from "../src/onnx/session.ts";
import type { Model } from "../src/onnx/types.ts";

const H = 5;
const B = 3;
const C = 3;
const mlp = () => createModel("mlp", { inputShape: [4], classes: C, seed: 4, hidden: [H] });

function values(model: Model, name: string): Float64Array {
  return Float64Array.from(model.graph.initializers.get(name)!.data as Float32Array);
}

/** x·Wᵀ + b for row-major x [B, I], W [O, I]. */
function linear(x: Float64Array, w: Float64Array, b: Float64Array, I: number, O: number) {
  const out = new Float64Array(B * O);
  for (let i = 0; i < B; i++) {
    for (let o = 0; o < O; o++) {
      let s = b[o];
      for (let j = 0; j < I; j++) s += x[i * I + j] * w[o * I + j];
      out[i * O + o] = s;
    }
  }
  return out;
}

/** (softmax(logits) − y) / B: the gradient of the mean cross-entropy at the logits. */
function dLogits(logits: Float64Array, y: Float32Array): Float64Array {
  const out = new Float64Array(B * C);
  for (let i = 0; i < B; i++) {
    const row = logits.subarray(i * C, (i + 1) * C);
    const m = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < C; c++) out[i * C + c] = (e[c] / s - y[i * C + c]) / B;
  }
  return out;
}

/** dW = dᵀ·x [O, I] and db = Σ_i d [O]. */
function linearGrads(d: Float64Array, x: Float64Array, I: number, O: number) {
  const dw = new Float64Array(O * I);
  const db = new Float64Array(O);
  for (let i = 0; i < B; i++) {
    for (let o = 0; o < O; o++) {
      db[o] += d[i * O + o];
      for (let j = 0; j < I; j++) dw[o * I + j] += d[i * O + o] * x[i * I + j];
    }
  }
  return [dw, db];
}

async function vjpGrads(model: Model, wrt: string[], stopGradients: string[], feeds: object) {
  const f = {
    ...model,
    graph: { ...model.graph, outputs: model.graph.outputs.filter((v) => v.name === "loss") },
  };
  const s = await Session.create(encodeModel(vjpTransform(f, { wrt, stopGradients })));
  const out = await s.run({
    ...feeds,
    loss__cotangent: { dtype: "float32", dims: [], data: Float32Array.of(1) },
  });
  await s.release();
  return Object.fromEntries(wrt.map((w) => [w, out[`${w}${GRAD}`].data as Float32Array]));
}

Deno.test("local-loss backprop equals the hand-written gradient of a two-block MLP", async () => {
  const model = mlp();
  const params = trainableParameters(model).map((p) => p.name);
  const blocks = layerBoundaries(model, params);
  assert.equal(blocks.length, 1, `one boundary between the two dense layers, got ${blocks}`);
  const o = withLocalLosses(model, blocks, { seed: 1, parameters: params });
  assert.deepEqual(o.heads, ["local_head1.weight", "local_head1.bias"]);

  const x = Float64Array.from(normals(B * 4, 7));
  const y = oneHot([0, 2, 1], C);
  const feeds = {
    x: { dtype: "float32", dims: [B, 4], data: Float32Array.from(x) },
    labels: { dtype: "float32", dims: [B, C], data: y },
  };
  const [w1, b1, w2, b2, wh, bh] = [
    "dense1.weight",
    "dense1.bias",
    "dense2.weight",
    "dense2.bias",
    "local_head1.weight",
    "local_head1.bias",
  ].map((n) => values(o.model, n));
  const z1 = linear(x, w1, b1, 4, H);
  const a1 = z1.map((v) => Math.max(v, 0));
  const dMain = dLogits(linear(a1, w2, b2, H, C), y);
  const dHead = dLogits(linear(a1, wh, bh, H, C), y);
  // Block 1 learns from its head only: the main loss's path into a1 is cut.
  const dz1 = new Float64Array(B * H);
  for (let i = 0; i < B; i++) {
    for (let h = 0; h < H; h++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += dHead[i * C + c] * wh[c * H + h];
      dz1[i * H + h] = z1[i * H + h] > 0 ? s : 0;
    }
  }
  const want: Record<string, Float64Array> = {};
  [want["dense1.weight"], want["dense1.bias"]] = linearGrads(dz1, x, 4, H);
  [want["dense2.weight"], want["dense2.bias"]] = linearGrads(dMain, a1, H, C);
  [want["local_head1.weight"], want["local_head1.bias"]] = linearGrads(dHead, a1, H, C);

  const wrt = [...params, ...o.heads];
  const got = await vjpGrads(o.model, wrt, o.stopGradients, feeds);
  for (const w of wrt) {
    want[w].forEach((v, i) => {
      assert.ok(Math.abs(got[w][i] - v) < 1e-5, `${w}[${i}]: ${got[w][i]} vs ${v}`);
    });
  }
  // Without the stop-gradient, the first layer's gradient also has the main loss's part.
  const joint = await vjpGrads(o.model, wrt, [], feeds);
  const diff = Math.max(
    ...Array.from(joint["dense1.weight"], (v, i) => Math.abs(v - want["dense1.weight"][i])),
  );
  assert.ok(diff > 1e-3, `the stop-gradient changes dense1's gradient (difference ${diff})`);
});

Deno.test("built-in block boundaries: one block per layer, before the Flatten of a CNN", () => {
  const cnn = createModel("cnn", { inputShape: [1, 28, 28], classes: 10, seed: 0 });
  const names = trainableParameters(cnn).map((p) => p.name);
  const blocks = layerBoundaries(cnn, names);
  const producers = blocks.map((t) => cnn.graph.nodes.find((n) => n.outputs.includes(t))!.opType);
  assert.deepEqual(producers, ["MaxPool", "MaxPool"]);
  const o = withLocalLosses(cnn, blocks, { seed: 0, parameters: names });
  assert.equal(o.perExampleLosses.length, 3);
  assert.equal(o.model.graph.nodes.filter((n) => n.opType === "GlobalAveragePool").length, 2);
});

Deno.test("withLocalLosses names a missing block tensor", () => {
  const model = mlp();
  const names = trainableParameters(model).map((p) => p.name);
  assert.throws(
    () => withLocalLosses(model, ["nope"], { seed: 0, parameters: names }),
    /--blocks: the model has no tensor named "nope"/,
  );
});
