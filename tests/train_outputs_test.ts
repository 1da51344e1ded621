import assert from "node:assert/strict";
import { loadDataset } from "../src/data/load.ts";
import { decodeModel } from "../src/onnx/decode.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { withLoss } from "../src/onnx/models/loss.ts";
import { Evaluator } from "../src/engine/evaluator.ts";
import { train } from "../src/train/run.ts";
import { tempOut, testConfig } from "./train_helpers.ts";

const config = {
  model: "mlp" as const,
  method: "both" as const,
  steps: 30,
  tangents: 2,
  workers: 2,
};

Deno.test("two runs with the same seed, configuration and workers give identical parameters", async () => {
  const a = await train(testConfig({ ...config, out: await tempOut() }));
  const b = await train(testConfig({ ...config, out: await tempOut() }));
  for (const method of ["forward", "backprop"]) {
    const pa = await Deno.readFile(`${a.outDir}/model-${method}.onnx`);
    const pb = await Deno.readFile(`${b.outDir}/model-${method}.onnx`);
    assert.deepEqual(pa, pb, `${method} parameters differ`);
  }
  // A different seed changes the forward run.
  const c = await train(testConfig({ ...config, seed: 1, out: await tempOut() }));
  assert.notDeepEqual(
    await Deno.readFile(`${c.outDir}/model-forward.onnx`),
    await Deno.readFile(`${a.outDir}/model-forward.onnx`),
  );
});

Deno.test("a run writes its summary, metrics, plots and models, and the models reproduce the reported accuracy", async () => {
  const { summary, outDir } = await train(testConfig({ ...config, out: await tempOut() }));
  const files = [...Deno.readDirSync(outDir)].map((e) => e.name).sort();
  for (
    const f of [
      "summary.json",
      "metrics.jsonl",
      "model-forward.onnx",
      "model-backprop.onnx",
      "loss-vs-step.svg",
      "accuracy-vs-time.svg",
      "misclassified-vs-step.svg",
    ]
  ) {
    assert.ok(files.includes(f), `missing ${f} in ${files}`);
  }
  const written = JSON.parse(await Deno.readTextFile(`${outDir}/summary.json`));
  assert.deepEqual(written.runs.map((r: { method: string }) => r.method), ["forward", "backprop"]);
  assert.equal(written.config.steps, 30);
  assert.ok(written.dataset.split.includes("stratified"));
  const metrics = (await Deno.readTextFile(`${outDir}/metrics.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  assert.ok(
    metrics.every((m) =>
      [
        "method",
        "step",
        "epoch",
        "wallSeconds",
        "trainLoss",
        "testLoss",
        "testAccuracy",
        "misclassified",
      ].every((k) => k in m)
    ),
  );

  const data = await loadDataset("penguins", { seed: 0 });
  for (const run of summary.runs) {
    const model = decodeModel(await Deno.readFile(`${outDir}/model-${run.method}.onnx`));
    assert.deepEqual(model.graph.outputs.map((o) => o.name), ["logits"]);
    const ev = await Evaluator.create(encodeModel(withLoss(model)), data.featureShape, 3);
    const r = await ev.evaluate({}, data.test);
    await ev.release();
    assert.equal(r.misclassified, run.final.misclassified);
    assert.equal(r.accuracy, run.final.testAccuracy);
  }
});

Deno.test("an existing --out directory is refused and left untouched", async () => {
  const out = await tempOut();
  await Deno.mkdir(out);
  await Deno.writeTextFile(`${out}/keep.txt`, "mine");
  await assert.rejects(() => train(testConfig({ ...config, out })), /already exists/);
  assert.equal(await Deno.readTextFile(`${out}/keep.txt`), "mine");
});
