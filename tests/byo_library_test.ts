import assert from "node:assert/strict";
import * as ort from "onnxruntime-web";
import { seededNormals } from "../src/random/seeded.ts";
import { jvpModel, TANGENT } from "../src/ad/jvp.ts";
import { COTANGENT, GRAD, vjpModel } from "../src/ad/vjp.ts";
import { evaluate } from "../src/ad/host/evaluate.ts";
import { floats } from "../src/ad/host/ndarray.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import type { Tensor } from "../src/onnx/types.ts";
import { torchCnn } from "./byo_fixtures.ts";

ort.env.wasm.numThreads = 1;

const f32 = (dims: number[], data: Float32Array) => new ort.Tensor("float32", data, dims);

Deno.test("jvpModel and vjpModel of a torch-exported model run in plain onnxruntime-web, fed the wrt tensors", async () => {
  const model = torchCnn({ opset: 11 });
  assert.equal(model.irVersion, 6);
  const bytes = encodeModel(model);
  const wrt = ["conv1.weight", "fc.2.bias"];
  const shape = [2, 1, 28, 28];
  const inputShapes = { "input.1": shape };
  const x = seededNormals(2 * 28 * 28, 7);
  const params: Record<string, Tensor> = {};
  for (const w of wrt) {
    const t = model.graph.initializers.get(w)!;
    params[w] = { dtype: "float32", dims: t.dims, data: Float32Array.from(floats(t)) };
  }
  const v = Object.fromEntries(
    wrt.map((w, i) => [w, seededNormals(params[w].data.length, 11, i)]),
  );
  const feeds = () => ({
    "input.1": f32(shape, x),
    ...Object.fromEntries(
      wrt.map((w) => [w, f32(params[w].dims, params[w].data as Float32Array)]),
    ),
  });

  const jvp = await ort.InferenceSession.create(
    jvpModel(bytes, { wrt, tangents: 1, inputShapes }),
  );
  const vjp = await ort.InferenceSession.create(vjpModel(bytes, { wrt, inputShapes }));
  try {
    for (const w of wrt) {
      assert.ok(jvp.inputNames.includes(w), `JVP graph inputs lack ${w}`);
      assert.ok(vjp.inputNames.includes(w), `VJP graph inputs lack ${w}`);
    }
    const tangentFeeds = Object.fromEntries(
      wrt.map((w) => [`${w}${TANGENT}`, f32([1, ...params[w].dims], v[w])]),
    );
    const jv = (await jvp.run({ ...feeds(), ...tangentFeeds }))[`output${TANGENT}`]
      .data as Float32Array;

    // Float64 central differences on the host along the same tangents.
    const h = 1e-6;
    const at = (s: number) => {
      const moved = Object.fromEntries(wrt.map((w) => [w, {
        dtype: "float64" as const,
        dims: params[w].dims,
        data: floats(params[w]).map((p, i) => p + s * h * v[w][i]),
      }]));
      return floats(
        evaluate(model, { "input.1": { dtype: "float32", dims: shape, data: x }, ...moved }).output,
      );
    };
    const plus = at(1);
    const minus = at(-1);
    const fd = plus.map((p, i) => (p - minus[i]) / (2 * h));
    const scale = Math.max(...fd.map(Math.abs));
    const err = Math.max(...fd.map((d, i) => Math.abs(d - jv[i])));
    assert.ok(err <= 2e-3 * scale, `JVP vs finite differences: ${err / scale}`);

    // ⟨u, J v⟩ = ⟨Jᵀ u, v⟩ with the VJP graph's gradients.
    const u = seededNormals(fd.length, 13);
    const grads = await vjp.run({ ...feeds(), [`output${COTANGENT}`]: f32([2, 10], u) });
    const inner = u.reduce((s, ui, i) => s + ui * jv[i], 0);
    let dual = 0;
    for (const w of wrt) {
      const g = grads[`${w}${GRAD}`].data as Float32Array;
      dual += g.reduce((s, gi, i) => s + gi * v[w][i], 0);
    }
    assert.ok(
      Math.abs(inner - dual) <= 2e-3 * Math.max(Math.abs(inner), 1e-6),
      `VJP vs JVP: ${inner} against ${dual}`,
    );
  } finally {
    await jvp.release();
    await vjp.release();
  }
});
