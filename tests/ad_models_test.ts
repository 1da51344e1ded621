import assert from "node:assert/strict";
import { checkGrads, normals } from "../src/ad/check/check_grads.ts";
import { jvpTransform, TANGENT } from "../src/ad/jvp.ts";
import { GRAD, vjpTransform } from "../src/ad/vjp.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { withLoss } from "../src/onnx/models/loss.ts";
import { trainableParameters } from "../src/onnx/models/parameters.ts";
import { createModel, type ModelName } from "../src/onnx/models/registry.ts";
import { Session } from "../src/onnx/session.ts";
import type { Model, Tensor } from "../src/onnx/types.ts";
import { sampleTangents } from "../src/random/tangents.ts";
import { oneHot } from "../src/data/batches.ts";

/** Each built-in model with its loss, at the input size of its default dataset. */
function lossModel(name: ModelName): Model {
  const tabular = name === "logreg" || name === "mlp";
  return withLoss(
    createModel(name, {
      inputShape: tabular ? [4] : [1, 28, 28],
      classes: tabular ? 3 : 10,
      seed: 3,
    }),
  );
}

function batch(name: ModelName, N: number): Record<string, Tensor> {
  const tabular = name === "logreg" || name === "mlp";
  const shape = tabular ? [N, 4] : [N, 1, 28, 28];
  const classes = tabular ? 3 : 10;
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    x: { dtype: "float32", dims: shape, data: normals(size, 11) },
    labels: {
      dtype: "float32",
      dims: [N, classes],
      data: oneHot(Array.from({ length: N }, (_, i) => i % classes), classes),
    },
  };
}

for (
  const [name, tangents] of [["logreg", 3], ["mlp", 3], ["cnn", 2], ["paper-mlp", 2], [
    "paper-cnn",
    1,
  ]] as const
) {
  Deno.test(`${name} with its loss: JVP and VJP agree with float64 finite differences`, async () => {
    const N = name === "paper-cnn" ? 1 : 2;
    const report = await checkGrads(lossModel(name), { tangents, inputs: batch(name, N) });
    assert.ok(report.rows.length >= 2 * trainableParameters(lossModel(name)).length);
    for (const r of report.rows) {
      assert.ok(
        r.jvpVsFd <= report.tol && r.vjpVsJvp <= report.tol,
        `${r.output} wrt ${r.wrt}: ${r.jvpVsFd}, ${r.vjpVsJvp}`,
      );
    }
  });
}

/** The exact gradient (VJP) and M forward-gradient scalars ∇f·v_k (one JVP run) with their tangents. */
async function gradients(name: ModelName, M: number) {
  const model = lossModel(name);
  const f = {
    ...model,
    graph: { ...model.graph, outputs: model.graph.outputs.filter((o) => o.name === "loss") },
  };
  const params = trainableParameters(model);
  const wrt = params.map((p) => p.name);
  const n = params.reduce((a, p) => a + p.size, 0);
  const feeds = batch(name, 4);
  const vjp = await Session.create(encodeModel(vjpTransform(f, { wrt })));
  const g = await vjp.run({
    ...feeds,
    loss__cotangent: { dtype: "float32", dims: [], data: Float32Array.of(1) },
  });
  await vjp.release();
  const exact = new Float64Array(n);
  const tangents = new Float32Array(M * n);
  const jvpFeeds: Record<string, Tensor> = { ...feeds };
  let offset = 0;
  for (const p of params) {
    exact.set(g[`${p.name}${GRAD}`].data as Float32Array, offset);
    const t = new Float32Array(M * p.size);
    sampleTangents(t, p.size, {
      seed: 5,
      step: 0,
      worker: 0,
      firstTangent: 0,
      K: M,
      dist: "normal",
      offset,
    });
    for (let k = 0; k < M; k++) {
      tangents.set(t.subarray(k * p.size, (k + 1) * p.size), k * n + offset);
    }
    jvpFeeds[`${p.name}${TANGENT}`] = { dtype: "float32", dims: [M, ...p.dims], data: t };
    offset += p.size;
  }
  const jvp = await Session.create(encodeModel(jvpTransform(f, { wrt, tangents: M })));
  const s = (await jvp.run(jvpFeeds))[`loss${TANGENT}`].data as Float32Array;
  await jvp.release();
  return { n, exact, tangents, scalars: s };
}

/** ‖mean of the first m estimates − ∇f‖ / ‖∇f‖. */
function relativeError(
  m: number,
  n: number,
  exact: Float64Array,
  tangents: Float32Array,
  s: Float32Array,
): number {
  const mean = new Float64Array(n);
  for (let k = 0; k < m; k++) {
    for (let i = 0; i < n; i++) mean[i] += (s[k] * tangents[k * n + i]) / m;
  }
  let err = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    err += (mean[i] - exact[i]) ** 2;
    norm += exact[i] ** 2;
  }
  return Math.sqrt(err / norm);
}

for (const name of ["logreg", "mlp", "cnn"] as const) {
  Deno.test(`${name}: the forward gradient is unbiased, its error shrinking like 1/√M`, async () => {
    const M = 1024;
    const { n, exact, tangents, scalars } = await gradients(name, M);
    // ∇f·v from the JVP graph equals the exact gradient's inner product with v.
    for (let k = 0; k < 4; k++) {
      let dot = 0, mag = 0;
      for (let i = 0; i < n; i++) {
        dot += exact[i] * tangents[k * n + i];
        mag += Math.abs(exact[i] * tangents[k * n + i]);
      }
      assert.ok(Math.abs(dot - scalars[k]) <= 1e-4 * mag, `tangent ${k}: ${scalars[k]} vs ${dot}`);
    }
    // E‖ḡ_M − ∇f‖² = (n + 1)‖∇f‖²/M (REFERENCES.md): check the level and the 1/√M rate.
    for (const m of [64, 256, 1024]) {
      const err = relativeError(m, n, exact, tangents, scalars);
      const theory = Math.sqrt((n + 1) / m);
      assert.ok(
        Math.abs(err / theory - 1) < 0.35,
        `M = ${m}: relative error ${err}, theory ${theory}`,
      );
    }
  });
}

Deno.test("cnn: the cosine of a K-tangent estimate to the gradient matches √(K/(n+K+1))", async () => {
  const K = 16, R = 24;
  const { n, exact, tangents, scalars } = await gradients("cnn", K * R);
  let sum = 0;
  for (let r = 0; r < R; r++) {
    let dot = 0, nn = 0, ne = 0;
    for (let i = 0; i < n; i++) {
      let e = 0;
      for (let k = r * K; k < (r + 1) * K; k++) e += (scalars[k] * tangents[k * n + i]) / K;
      dot += e * exact[i];
      nn += e * e;
      ne += exact[i] * exact[i];
    }
    sum += dot / Math.sqrt(nn * ne);
  }
  const theory = Math.sqrt(K / (n + K + 1));
  assert.ok(Math.abs(sum / R / theory - 1) < 0.2, `mean cosine ${sum / R}, theory ${theory}`);
});
