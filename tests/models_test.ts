import assert from "node:assert/strict";
import * as ort from "onnxruntime-web";
import { UserError } from "../src/errors.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { defaultBound, mulberry32 } from "../src/onnx/models/init.ts";
import { ACTIVATIONS } from "../src/onnx/models/layers.ts";
import { withLoss } from "../src/onnx/models/loss.ts";
import { parameterCount, trainableParameters } from "../src/onnx/models/parameters.ts";
import {
  createModel,
  MODEL_NAMES,
  type ModelName,
  type ModelOptions,
} from "../src/onnx/models/registry.ts";
import { elementCount, type Model } from "../src/onnx/types.ts";

ort.env.wasm.numThreads = 1;

interface Case {
  label: string;
  name: ModelName;
  options: ModelOptions;
}

const PENGUINS = { inputShape: [4], classes: 3, seed: 7 };
const IMAGES = { inputShape: [1, 28, 28], classes: 10, seed: 7 };
const CASES: Case[] = [
  { label: "logreg on penguin features", name: "logreg", options: PENGUINS },
  { label: "logreg on images", name: "logreg", options: IMAGES },
  { label: "mlp on penguin features", name: "mlp", options: PENGUINS },
  { label: "mlp on images", name: "mlp", options: IMAGES },
  ...ACTIVATIONS.map((activation): Case => ({
    label: `mlp with ${activation}`,
    name: "mlp",
    options: { ...PENGUINS, hidden: [8, 5], activation },
  })),
  { label: "cnn with its defaults", name: "cnn", options: IMAGES },
  {
    label: "cnn with a 5×5 kernel, pooling every 2nd conv and no hidden dense layer",
    name: "cnn",
    options: {
      inputShape: [3, 12, 10],
      classes: 4,
      seed: 3,
      channels: [4, 6, 8],
      kernel: 5,
      poolEvery: 2,
      dense: [],
    },
  },
  { label: "paper-mlp", name: "paper-mlp", options: IMAGES },
  { label: "paper-cnn", name: "paper-cnn", options: IMAGES },
];

/** Seeded inputs in [−1, 1) and one-hot labels, so a failure reproduces. */
function batch(n: number, inputShape: number[], classes: number, seed: number) {
  const next = mulberry32(seed);
  const x = Float32Array.from({ length: n * elementCount(inputShape) }, () => next() / 2 ** 31 - 1);
  const labels = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) labels[i * classes + (next() % classes)] = 1;
  return { x, labels };
}

/** Mean softmax cross-entropy in float64: mean_n(logsumexp(z_n) − Σ_c y_nc z_nc). */
function hostLoss(logits: Float32Array, labels: Float32Array, classes: number): number {
  const n = logits.length / classes;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const z = Array.from(logits.subarray(i * classes, (i + 1) * classes));
    const max = Math.max(...z);
    const lse = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
    z.forEach((v, c) => total += labels[i * classes + c] * (lse - v));
  }
  return total / n;
}

function session(model: Model): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(encodeModel(model));
}

Deno.test("the test cases cover every built-in model", () => {
  assert.deepEqual(new Set(CASES.map((c) => c.name)), new Set(MODEL_NAMES));
});

for (const { label, name, options } of CASES) {
  Deno.test(`${label} runs in onnxruntime-web with finite logits and the host-computed loss`, async () => {
    const model = createModel(name, options);
    const { inputShape, classes } = options;
    const plain = await session(model);
    const lossy = await session(withLoss(model));
    try {
      for (const n of [3, 1]) {
        const { x, labels } = batch(n, inputShape, classes, 100 + n);
        const xt = new ort.Tensor("float32", x, [n, ...inputShape]);
        const lt = new ort.Tensor("float32", labels, [n, classes]);
        const { logits } = await plain.run({ x: xt });
        assert.deepEqual(logits.dims, [n, classes]);
        const z = logits.data as Float32Array;
        assert.ok(z.every(Number.isFinite), "logits are finite");

        const out = await lossy.run({ x: xt, labels: lt });
        assert.deepEqual(out.loss.dims, []);
        assert.deepEqual(out.logits.data, z, "the loss graph computes the same logits");
        const loss = (out.loss.data as Float32Array)[0];
        const expected = hostLoss(z, labels, classes);
        assert.ok(Number.isFinite(loss) && loss > 0, `loss ${loss}`);
        assert.ok(Math.abs(loss - expected) <= 1e-5 * expected, `loss ${loss} vs ${expected}`);
      }
    } finally {
      await plain.release();
      await lossy.release();
    }
  });
}

Deno.test("paper-mlp has 1,863,690 parameters", () => {
  const model = createModel("paper-mlp", IMAGES);
  assert.equal(parameterCount(model), 784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10);
  assert.equal(parameterCount(model), 1_863_690);
  assert.deepEqual(
    trainableParameters(model).map((p) => p.name),
    [
      "dense1.weight",
      "dense1.bias",
      "dense2.weight",
      "dense2.bias",
      "dense3.weight",
      "dense3.bias",
    ],
  );
});

Deno.test("paper-cnn's parameter count follows from its architecture", () => {
  const conv = (cin: number, cout: number) => cout * cin * 3 * 3 + cout;
  const linear = (fin: number, fout: number) => fout * fin + fout;
  const side = 28 / 2 / 2; // two 2×2 pools, convs keep the size
  const expected = conv(1, 64) + 3 * conv(64, 64) + linear(64 * side * side, 1024) +
    linear(1024, 10);
  const model = createModel("paper-cnn", IMAGES);
  assert.equal(parameterCount(model), expected);
  assert.deepEqual(trainableParameters(model).find((p) => p.name === "dense1.weight")?.dims, [
    1024,
    64 * 7 * 7,
  ]);
  assert.deepEqual(trainableParameters(model).find((p) => p.name === "conv4.weight")?.dims, [
    64,
    64,
    3,
    3,
  ]);
});

Deno.test("the loss adds no trainable parameters", () => {
  const model = createModel("cnn", IMAGES);
  assert.deepEqual(trainableParameters(withLoss(model)), trainableParameters(model));
});

Deno.test("withLoss leaves its input model unchanged and orders outputs loss, logits", () => {
  const model = createModel("mlp", PENGUINS);
  const before = encodeModel(model);
  const lossy = withLoss(model);
  assert.deepEqual(encodeModel(model), before);
  assert.deepEqual(lossy.graph.outputs.map((o) => [o.name, o.shape]), [
    ["loss", []],
    ["logits", ["batch", 3]],
  ]);
  assert.deepEqual(lossy.graph.inputs.map((i) => [i.name, i.shape]), [
    ["x", ["batch", 4]],
    ["labels", ["batch", 3]],
  ]);
  assert.throws(() => withLoss(lossy), UserError);
});

Deno.test("initial weights and biases lie within PyTorch's ±1/√fan_in and fill that range", () => {
  for (const { label, name, options } of CASES) {
    const model = createModel(name, options);
    const { initializers } = model.graph;
    for (const p of trainableParameters(model)) {
      const weight = initializers.get(p.name.replace(/\.bias$/, ".weight"))!;
      const bound = defaultBound(elementCount(weight.dims.slice(1)));
      const data = initializers.get(p.name)!.data as Float32Array;
      const max = data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(max <= bound, `${label} ${p.name}: max |w| ${max} > ${bound}`);
      if (data.length >= 1000) assert.ok(max > 0.99 * bound, `${label} ${p.name} spans the range`);
    }
  }
});

Deno.test("the same seed gives identical bytes and a different seed different weights", () => {
  for (const { label, name, options } of CASES) {
    const a = createModel(name, options);
    assert.deepEqual(encodeModel(createModel(name, options)), encodeModel(a), label);
    const b = createModel(name, { ...options, seed: options.seed + 1 });
    for (const [param, t] of a.graph.initializers) {
      assert.notDeepEqual(b.graph.initializers.get(param)!.data, t.data, `${label} ${param}`);
    }
  }
});

Deno.test("adding a layer does not change the initial values of the other layers", () => {
  const one = createModel("cnn", { ...IMAGES, channels: [8], dense: [] });
  const two = createModel("cnn", { ...IMAGES, channels: [8, 16], dense: [32] });
  for (const name of ["conv1.weight", "conv1.bias"]) {
    assert.deepEqual(two.graph.initializers.get(name), one.graph.initializers.get(name), name);
  }
  const shallow = createModel("mlp", { ...PENGUINS, hidden: [16] });
  const deep = createModel("mlp", { ...PENGUINS, hidden: [16, 16] });
  assert.deepEqual(
    deep.graph.initializers.get("dense1.weight"),
    shallow.graph.initializers.get("dense1.weight"),
  );
});

Deno.test("createModel rejects an unknown model, listing the built-in names", () => {
  assert.throws(
    () => createModel("resnet", PENGUINS),
    (e: unknown) => e instanceof UserError && MODEL_NAMES.every((n) => e.message.includes(n)),
  );
});

Deno.test("createModel rejects bad options with a UserError naming the option", () => {
  const bad: [string, ModelOptions, string][] = [
    ["mlp", { ...PENGUINS, hiden: [4] }, "hiden"],
    ["mlp", { ...PENGUINS, activation: "gelu" }, "activation"],
    ["logreg", { ...PENGUINS, classes: 0 }, "classes"],
    ["cnn", { ...PENGUINS }, "inputShape"],
    ["cnn", { ...IMAGES, kernel: 2.5 }, "kernel"],
    ["paper-cnn", { ...IMAGES, inputShape: [28, 28] }, "inputShape"],
  ];
  for (const [name, options, word] of bad) {
    assert.throws(
      () => createModel(name, options),
      (e: unknown) => e instanceof UserError && e.message.includes(word),
      `${name} ${JSON.stringify(options)}`,
    );
  }
});

Deno.test("a cnn whose pooling shrinks the image to nothing is a UserError", () => {
  assert.throws(
    () => createModel("cnn", { inputShape: [1, 4, 4], classes: 2, seed: 0, channels: [2, 2, 2] }),
    UserError,
  );
});
