import assert from "node:assert/strict";
import { normals } from "../src/ad/check/check_grads.ts";
import { activitySites, activityTransform } from "../src/ad/activity.ts";
import { GRAD, vjpTransform } from "../src/ad/vjp.ts";
import { oneHot } from "../src/data/batches.ts";
import { layerBoundaries, withLocalLosses } from "../src/model/local_losses.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { PER_EXAMPLE_LOSS, withLoss } from "../src/onnx/models/loss.ts";
import { trainableParameters } from "../src/onnx/models/parameters.ts";
import { createModel } from "../src/onnx/models/registry.ts";
import { Session } from "../src/onnx/session.ts";
import type { Model, Tensor } from "../src/onnx/types.ts";
import { sampleTangents } from "../src/random/tangents.ts";

/** The objective and what the transforms need to know about it. */
interface Objective {
  model: Model;
  wrt: string[];
  perExampleLosses: string[];
  stopGradients: string[];
}

function plain(model: Model): Objective {
  return {
    model: withLoss(model, { perExample: true }),
    wrt: trainableParameters(model).map((p) => p.name),
    perExampleLosses: [PER_EXAMPLE_LOSS],
    stopGradients: [],
  };
}

function local(model: Model): Objective {
  const wrt = trainableParameters(model).map((p) => p.name);
  const o = withLocalLosses(model, layerBoundaries(model, wrt), { seed: 5, parameters: wrt });
  return { ...o, wrt: [...wrt, ...o.heads] };
}

const tinyMlp = () => createModel("mlp", { inputShape: [4], classes: 3, seed: 2, hidden: [5, 4] });
const tinyCnn = () =>
  createModel("cnn", {
    inputShape: [1, 6, 6],
    classes: 3,
    seed: 2,
    channels: [2, 3],
    dense: [4],
  });

function data(model: Model, B: number, seed: number): Record<string, Tensor> {
  const shape = model.graph.inputs[0].shape!.slice(1) as number[];
  const size = B * shape.reduce((a, b) => a * b, 1);
  return {
    x: { dtype: "float32", dims: [B, ...shape], data: normals(size, seed) },
    labels: {
      dtype: "float32",
      dims: [B, 3],
      data: oneHot(Array.from({ length: B }, (_, i) => (i * 7 + seed) % 3), 3),
    },
  };
}

/** The exact gradient of the objective (VJP with the same stop-gradients). */
async function exact(o: Objective, feeds: Record<string, Tensor>) {
  const f = {
    ...o.model,
    graph: { ...o.model.graph, outputs: o.model.graph.outputs.filter((v) => v.name === "loss") },
  };
  const vjp = await Session.create(
    encodeModel(vjpTransform(f, { wrt: o.wrt, stopGradients: o.stopGradients })),
  );
  const out = await vjp.run({
    ...feeds,
    loss__cotangent: { dtype: "float32", dims: [], data: Float32Array.of(1) },
  });
  await vjp.release();
  return { loss: Number(out.loss.data[0]), grads: o.wrt.map((w) => out[`${w}${GRAD}`].data) };
}

function options(o: Objective, K: number) {
  return {
    wrt: o.wrt,
    tangents: K,
    perExampleLosses: o.perExampleLosses,
    stopGradients: o.stopGradients,
  };
}

/**
 * Tangent k of example i is √D·e_k over the concatenated sites (D values per example): then
 * (1/D) Σ_k s_k v_k is exactly ∂loss_i/∂z_i, so the estimate must equal the true gradient.
 */
async function basisEstimate(o: Objective, feeds: Record<string, Tensor>, B: number) {
  const sites = activitySites(o.model, options(o, 1));
  const sizes = sites.map((s) => s.dims.reduce((a, b) => a * b, 1));
  const D = sizes.reduce((a, b) => a + b, 0);
  const session = await Session.create(encodeModel(activityTransform(o.model, options(o, D))));
  const tangentFeeds: Record<string, Tensor> = {};
  let offset = 0;
  sites.forEach((site, j) => {
    const n = sizes[j];
    const v = new Float32Array(D * B * n);
    for (let k = 0; k < D; k++) {
      const local = k - offset;
      if (local < 0 || local >= n) continue;
      for (let i = 0; i < B; i++) v[(k * B + i) * n + local] = Math.sqrt(D);
    }
    offset += n;
    tangentFeeds[site.input] = { dtype: "float32", dims: [D, B, ...site.dims], data: v };
  });
  const out = await session.run({ ...feeds, ...tangentFeeds });
  await session.release();
  return { loss: Number(out.loss.data[0]), grads: o.wrt.map((w) => out[`${w}${GRAD}`].data) };
}

function maxRelError(got: ArrayLike<number | bigint>, want: ArrayLike<number | bigint>): number {
  let err = 0;
  let scale = 1e-6;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(Number(got[i]) - Number(want[i])));
    scale = Math.max(scale, Math.abs(Number(want[i])));
  }
  return err / scale;
}

for (
  const [name, model, objective] of [
    ["MLP", tinyMlp, plain],
    ["CNN", tinyCnn, plain],
    ["MLP with local losses", tinyMlp, local],
    ["CNN with local losses", tinyCnn, local],
  ] as const
) {
  Deno.test(`activity perturbation on a ${name}: basis tangents recover the exact gradient`, async () => {
    const o = objective(model());
    const feeds = data(o.model, 3, 1);
    const want = await exact(o, feeds);
    const got = await basisEstimate(o, feeds, 3);
    assert.ok(Math.abs(got.loss - want.loss) < 1e-6 * Math.max(1, Math.abs(want.loss)));
    o.wrt.forEach((w, i) => {
      const e = maxRelError(got.grads[i], want.grads[i]);
      assert.ok(e < 2e-3, `${w}: relative error ${e}`);
    });
  });
}

/**
 * Monte Carlo: R runs of K Gaussian tangents each; the mean of the R estimates must be within
 * 4.5 standard errors (from the runs' own spread) of the exact gradient in every coordinate.
 */
for (
  const [name, model, objective] of [["MLP", tinyMlp, plain], [
    "CNN with local losses",
    tinyCnn,
    local,
  ]] as const
) {
  Deno.test(`activity perturbation on a ${name}: Gaussian estimates are unbiased`, async () => {
    const o = objective(model());
    const B = 4;
    const K = 64;
    const R = 60;
    const feeds = data(o.model, B, 3);
    const want = (await exact(o, feeds)).grads.map((g) => Float64Array.from(g as Float32Array));
    const sites = activitySites(o.model, options(o, K));
    const session = await Session.create(encodeModel(activityTransform(o.model, options(o, K))));
    const sum = want.map((g) => new Float64Array(g.length));
    const sq = want.map((g) => new Float64Array(g.length));
    for (let r = 0; r < R; r++) {
      const tangents: Record<string, Tensor> = {};
      sites.forEach((site, j) => {
        const n = B * site.dims.reduce((a, b) => a * b, 1);
        const v = new Float32Array(K * n);
        sampleTangents(v, n, { seed: 9, step: r, worker: j, firstTangent: 0, K, dist: "normal" });
        tangents[site.input] = { dtype: "float32", dims: [K, B, ...site.dims], data: v };
      });
      const out = await session.run({ ...feeds, ...tangents });
      o.wrt.forEach((w, i) => {
        const g = out[`${w}${GRAD}`].data as Float32Array;
        for (let j = 0; j < g.length; j++) {
          sum[i][j] += g[j];
          sq[i][j] += g[j] * g[j];
        }
      });
    }
    await session.release();
    o.wrt.forEach((w, i) => {
      for (let j = 0; j < want[i].length; j++) {
        const mean = sum[i][j] / R;
        const sd = Math.sqrt(Math.max(sq[i][j] / R - mean * mean, 0) * R / (R - 1));
        const se = sd / Math.sqrt(R);
        assert.ok(
          Math.abs(mean - want[i][j]) <= 4.5 * se + 1e-6,
          `${w}[${j}]: mean ${mean}, exact ${want[i][j]}, standard error ${se}`,
        );
      }
    });
  });
}

Deno.test("activity perturbation refuses a parameter read by a node with no batch axis", () => {
  const model = withLoss(tinyMlp(), { perExample: true });
  // A Transpose of a weight: its output is weight-shaped, not per example.
  const g = model.graph;
  const gemm = g.nodes.find((n) => n.opType === "Gemm")!;
  g.nodes.unshift({
    name: "wt",
    opType: "Transpose",
    domain: "",
    inputs: [gemm.inputs[1]],
    outputs: ["wt_out"],
    attrs: {},
  });
  gemm.inputs[1] = "wt_out";
  gemm.attrs.transB = { type: "int", value: 0 };
  const wrt = trainableParameters(model).map((p) => p.name);
  assert.throws(
    () => activityTransform(model, { wrt, perExampleLosses: [PER_EXAMPLE_LOSS] }),
    /Transpose node "wt": it reads parameter "dense1.weight" .* not a leading batch dimension/,
  );
});

/** cos(a, b) over several tensors. */
function cosine(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  a.forEach((x, i) => {
    for (let j = 0; j < x.length; j++) {
      dot += x[j] * b[i][j];
      na += x[j] * x[j];
      nb += b[i][j] * b[i][j];
    }
  });
  return dot / Math.sqrt(na * nb);
}

Deno.test("on the built-in CNN, FG-A's cosine to the gradient is far above FG-W's, as theory bounds it", async () => {
  const model = createModel("cnn", { inputShape: [1, 28, 28], classes: 10, seed: 0 });
  const B = 32;
  const R = 24;
  const o = plain(model);
  const feeds = {
    x: { dtype: "float32", dims: [B, 1, 28, 28], data: normals(B * 784, 5) } as Tensor,
    labels: {
      dtype: "float32",
      dims: [B, 10],
      data: oneHot(Array.from({ length: B }, (_, i) => i % 10), 10),
    } as Tensor,
  };
  const want = (await exact(o, feeds)).grads as Float32Array[];
  const params = trainableParameters(model);
  const n = params.reduce((s, p) => s + p.size, 0);

  // FG-W, K = 1: (∇f·v) v from the exact gradient (the JVP is checked elsewhere).
  const cw: number[] = [];
  for (let r = 0; r < R; r++) {
    const v = params.map((p, i) => {
      const t = new Float32Array(p.size);
      sampleTangents(t, p.size, {
        seed: 1,
        step: r,
        worker: i,
        firstTangent: 0,
        K: 1,
        dist: "normal",
      });
      return t;
    });
    const s = v.reduce((acc, t, i) => acc + t.reduce((a, x, j) => a + x * want[i][j], 0), 0);
    cw.push(cosine(v.map((t) => t.map((x) => s * x)), want));
  }
  // FG-A, K = 1, from the activity graph.
  const sites = activitySites(o.model, options(o, 1));
  const D = sites.reduce((s, site) => s + site.dims.reduce((a, b) => a * b, 1), 0);
  const session = await Session.create(encodeModel(activityTransform(o.model, options(o, 1))));
  const ca: number[] = [];
  for (let r = 0; r < R; r++) {
    const tangents: Record<string, Tensor> = {};
    sites.forEach((site, j) => {
      const m = B * site.dims.reduce((a, b) => a * b, 1);
      const v = new Float32Array(m);
      sampleTangents(v, m, { seed: 2, step: r, worker: j, firstTangent: 0, K: 1, dist: "normal" });
      tangents[site.input] = { dtype: "float32", dims: [1, B, ...site.dims], data: v };
    });
    const out = await session.run({ ...feeds, ...tangents });
    ca.push(cosine(o.wrt.map((w) => out[`${w}${GRAD}`].data as Float32Array), want));
  }
  await session.release();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const se = (xs: number[]) =>
    Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1) / xs.length);
  // FG-W: E[cos] = E|z|/√n·(1 + O(1/n)) = √(2/(πn)) for a Gaussian tangent.
  const theoryW = Math.sqrt(2 / (Math.PI * n));
  assert.ok(
    Math.abs(mean(cw) - theoryW) <= 4.5 * se(cw) + 0.1 * theoryW,
    `FG-W cosine ${mean(cw)}, theory ${theoryW}`,
  );
  // FG-A perturbs D values per example instead of n weights and averages B independent
  // per-example estimates, so its cosine is at least √(n/D) times FG-W's (no credit taken for
  // the batch); the layers that feed the loss directly are exact, which only adds to it.
  const bound = Math.sqrt(n / D);
  const ratio = mean(ca) / mean(cw);
  assert.ok(ratio >= bound, `FG-A/FG-W cosine ratio ${ratio} below √(n/D) = ${bound}`);
});
