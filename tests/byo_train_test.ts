import assert from "node:assert/strict";
import { loadDataset } from "../src/data/load.ts";
import { decodeModel } from "../src/onnx/decode.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { withLoss } from "../src/onnx/models/loss.ts";
import { Session } from "../src/onnx/session.ts";
import type { Model } from "../src/onnx/types.ts";
import type { Dataset, Split } from "../src/data/dataset.ts";
import { Evaluator } from "../src/engine/evaluator.ts";
import { loadModelSource } from "../src/model/model_source.ts";
import { train } from "../src/train/run.ts";
import { torchCnn, torchMlp, writeTemp } from "./byo_fixtures.ts";
import { tempOut, testConfig } from "./train_helpers.ts";

/** Mean loss of a model file's initial weights on the training split, as train() measures it. */
async function initialLoss(path: string, data: Dataset): Promise<number> {
  const source = await loadModelSource(path, {
    data: { featureShape: data.featureShape, classes: data.classes.length },
  });
  const ev = await Evaluator.create(
    encodeModel(withLoss(source.model)),
    data.featureShape,
    data.classes.length,
  );
  try {
    return (await ev.evaluate({}, data.train)).loss;
  } finally {
    await ev.release();
  }
}

/** Accuracy of a model run as the user would: its own input name, onnxruntime-web, argmax. */
async function accuracyInOrt(model: Model, split: Split, featureShape: number[]): Promise<number> {
  const s = await Session.create(encodeModel(model), "exported model");
  try {
    const input = model.graph.inputs[0].name;
    const out = await s.run({
      [input]: { dtype: "float32", dims: [split.count, ...featureShape], data: split.x },
    });
    const logits = out[model.graph.outputs[0].name].data as Float32Array;
    const C = logits.length / split.count;
    let wrong = 0;
    for (let i = 0; i < split.count; i++) {
      const row = logits.subarray(i * C, (i + 1) * C);
      if (row.indexOf(Math.max(...row)) !== split.y[i]) wrong++;
    }
    return 1 - wrong / split.count; // as Evaluator reports it
  } finally {
    await s.release();
  }
}

Deno.test("a PyTorch-style MLP file (opset 11) trains on penguins; the export keeps its names and accuracy", async () => {
  const file = torchMlp({ opset: 11 });
  const path = await writeTemp(file, "mlp.onnx");
  const data = await loadDataset("penguins", { seed: 0 });
  const before = await initialLoss(path, data);
  const { summary, outDir } = await train(testConfig({
    model: path,
    dataset: "penguins",
    method: "forward",
    steps: 60,
    tangents: 4,
    lrForward: 0.05,
    freeze: ["fc.0"],
    out: await tempOut(),
  }));
  const run = summary.runs[0];
  assert.ok(run.final.trainLoss < before - 0.2, `loss ${before} → ${run.final.trainLoss}`);
  assert.deepEqual(summary.model.frozen, [
    "fc.0.weight",
    "fc.0.bias",
    "fc.1.running_mean",
    "fc.1.running_var",
  ]);

  const exported = decodeModel(await Deno.readFile(`${outDir}/model-forward.onnx`));
  assert.deepEqual(exported.graph.inputs.map((v) => v.name), ["input"]);
  assert.deepEqual(exported.graph.outputs.map((v) => v.name), ["logits"]);
  assert.deepEqual(exported.opsets, { "": 11 });
  assert.deepEqual(
    exported.graph.nodes.map((n) => n.opType),
    file.graph.nodes.map((n) => n.opType),
  );
  // Frozen parameters and buffers are bit-identical; trained ones moved.
  for (const name of summary.model.frozen!) {
    assert.deepEqual(
      exported.graph.initializers.get(name)!.data,
      file.graph.initializers.get(name)!.data,
      name,
    );
  }
  assert.notDeepEqual(
    exported.graph.initializers.get("fc.4.weight")!.data,
    file.graph.initializers.get("fc.4.weight")!.data,
  );
  // The user's pipeline (input "input", output "logits") reproduces the reported accuracy.
  assert.equal(await accuracyInOrt(exported, data.test, data.featureShape), run.final.testAccuracy);
});

Deno.test("a PyTorch-style CNN file (opset 17, dynamic-batch reshape) trains on KMNIST both ways", async () => {
  const file = torchCnn({ opset: 17 });
  const path = await writeTemp(file, "cnn.onnx");
  const counts = { trainCount: 500, testCount: 200 };
  const data = await loadDataset("kmnist", { seed: 0, ...counts });
  const before = await initialLoss(path, data);
  const { summary, outDir } = await train(testConfig({
    model: path,
    dataset: "kmnist",
    ...counts,
    method: "both",
    steps: 60,
    tangents: 8,
    lrForward: 0.05,
    lrBackprop: 0.2,
    freeze: ["conv1"],
    out: await tempOut(),
  }));
  const [forward, backprop] = summary.runs;
  assert.ok(
    forward.final.trainLoss < before - 0.03,
    `forward: loss ${before} → ${forward.final.trainLoss}`,
  );
  assert.ok(
    backprop.final.trainLoss < before - 0.2,
    `backprop: loss ${before} → ${backprop.final.trainLoss}`,
  );
  for (const run of summary.runs) {
    const exported = decodeModel(await Deno.readFile(`${outDir}/model-${run.method}.onnx`));
    assert.deepEqual(exported.graph.inputs.map((v) => [v.name, v.shape]), [["input.1", [
      "batch_size",
      1,
      28,
      28,
    ]]]);
    assert.deepEqual(exported.graph.outputs.map((v) => v.name), ["output"]);
    for (const name of ["conv1.weight", "conv1.bias", "bn1.running_mean", "bn1.running_var"]) {
      assert.deepEqual(
        exported.graph.initializers.get(name)!.data,
        file.graph.initializers.get(name)!.data,
        name,
      );
    }
    assert.equal(
      await accuracyInOrt(exported, data.test, data.featureShape),
      run.final.testAccuracy,
    );
  }
});

Deno.test("deno task train --model file.onnx runs both methods from the command line", async () => {
  const path = await writeTemp(torchMlp({ opset: 17, activation: "gelu" }), "gelu_mlp.onnx");
  const out = await tempOut();
  const cmd = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "src/cli/train.ts",
      "--model",
      path,
      "--dataset",
      "penguins",
      "--steps",
      "5",
      "--workers",
      "1",
      "--json",
      "--out",
      out,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(cmd.code, 0, new TextDecoder().decode(cmd.stderr));
  const summary = JSON.parse(new TextDecoder().decode(cmd.stdout));
  assert.deepEqual(summary.runs.map((r: { method: string }) => r.method), ["forward", "backprop"]);
  assert.equal(summary.config.model, path);
  const exported = decodeModel(await Deno.readFile(`${out}/model-backprop.onnx`));
  assert.deepEqual(exported.graph.inputs.map((v) => v.name), ["input"]);
});
