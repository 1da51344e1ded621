import assert from "node:assert/strict";
import { decodeModel } from "../src/onnx/decode.ts";
import { Session } from "../src/onnx/session.ts";
import type { TrainConfig } from "../src/train/config.ts";
import { resumeTrain, train } from "../src/train/run.ts";
import { assertSameModels, evaluations, runCli, stopAt } from "./reliability_helpers.ts";
import { tempOut, testConfig } from "./train_helpers.ts";

const TRAIN = new URL("../src/cli/train.ts", import.meta.url).pathname;

/** Every estimator combination this issue adds, on penguins (chance 44 %, the largest class). */
const COMBINATIONS: [string, Partial<TrainConfig>][] = [
  ["activity perturbation (FG-A)", { perturb: "activations", lrForward: 0.05 }],
  ["FG-A with local losses", { perturb: "activations", localLosses: true, lrForward: 0.05 }],
  ["weight perturbation with local losses", { localLosses: true }],
  ["projection of 4 tangents, independent", { combine: "projection", tangents: 4 }],
  [
    "projection of 4 shared tangents",
    { combine: "projection", tangents: 4, tangentMode: "shared" },
  ],
  ["rank-1 weight tangents, independent", { tangentRank: 1, tangents: 2 }],
  ["rank-2 shared weight tangents", { tangentRank: 2, tangents: 2, tangentMode: "shared" }],
  ["gradient-norm clipping", { clipGradNorm: 3, tangents: 2, lrForward: 0.1 }],
];

for (const [name, over] of COMBINATIONS) {
  Deno.test(`penguins MLP learns with ${name}, and backprop alongside it`, async () => {
    const { summary } = await train(
      testConfig({ epochs: 30, batchSize: 16, ...over, out: await tempOut() }),
    );
    for (const r of summary.runs) {
      assert.equal(r.status, "complete");
      assert.ok(r.final.testAccuracy >= 0.9, `${r.method}: ${r.final.testAccuracy}`);
    }
  });
}

for (
  const [name, over] of [
    ["LG-FG-A", { perturb: "activations", localLosses: true, optimizer: "adam" }],
    ["projection (shared tangents)", { combine: "projection", tangents: 3, tangentMode: "shared" }],
    ["rank-1 shared tangents", { tangentRank: 1, tangents: 2, tangentMode: "shared" }],
  ] as [string, Partial<TrainConfig>][]
) {
  Deno.test(`an interrupted ${name} run resumes bit-identical to the uninterrupted one`, async () => {
    const config = { ...over, method: "forward" as const, steps: 30, checkpointEvery: 4 };
    const reference = await train(testConfig({ ...config, out: await tempOut() }));
    const out = await tempOut();
    const first = await train(testConfig({ ...config, out }), stopAt("forward", 13));
    assert.equal(first.status, "interrupted");
    const second = await resumeTrain(out);
    assert.equal(second.status, "complete");
    await assertSameModels(reference.outDir, out, ["forward"]);
    assert.deepEqual(await evaluations(out), await evaluations(reference.outDir));
  });
}

Deno.test("models trained with local losses are exported without their heads", async () => {
  const { outDir } = await train(
    testConfig({ localLosses: true, perturb: "activations", steps: 10, out: await tempOut() }),
  );
  for (const method of ["forward", "backprop"]) {
    const bytes = await Deno.readFile(`${outDir}/model-${method}.onnx`);
    const model = decodeModel(bytes);
    const names = [...model.graph.initializers.keys(), ...model.graph.nodes.map((n) => n.name)];
    assert.ok(!names.some((n) => n.includes("local_head")), names.join(", "));
    assert.ok(!model.graph.nodes.some((n) => n.opType === "GlobalAveragePool"));
    const session = await Session.create(bytes);
    const out = await session.run({
      x: { dtype: "float32", dims: [1, 4], data: new Float32Array(4) },
    });
    assert.deepEqual(out.logits.dims, [1, 3]);
    await session.release();
  }
});

Deno.test("a forward run that diverges does not stop backprop: the summary marks it", async () => {
  const out = await tempOut();
  const r = await runCli(TRAIN, [
    "--steps",
    "100",
    "--workers",
    "2",
    "--lr-forward",
    "1e10",
    "--out",
    out,
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trim(), /^error: forward training diverged at step \d+ .*--tangents/);
  assert.match(r.stdout, /status +diverged +complete/);
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.status, "diverged");
  assert.deepEqual(summary.runs.map((m: { status: string }) => m.status), [
    "diverged",
    "complete",
  ]);
  assert.ok(summary.runs[1].final.testAccuracy > 0.9);
});

const REFUSED: [string, string[], RegExp][] = [
  [
    "activity perturbation with shared tangents",
    ["--perturb", "activations", "--tangent-mode", "shared"],
    /^error: --perturb activations: needs --tangent-mode independent/,
  ],
  [
    "projection with activity perturbation",
    ["--perturb", "activations", "--combine", "projection"],
    /^error: --combine projection: applies to weight tangents/,
  ],
  [
    "low-rank tangents with activity perturbation",
    ["--perturb", "activations", "--tangent-structure", "rank1"],
    /^error: --tangent-structure: applies to weight tangents/,
  ],
  ["--blocks without --local-losses", ["--blocks", "x"], /^error: --blocks: only applies/],
  [
    "--blocks naming a tensor that does not exist",
    ["--local-losses", "--blocks", "nope"],
    /^error: .*--blocks: the model has no tensor named "nope"/,
  ],
  [
    "--local-losses on a one-layer model",
    ["--model", "logreg", "--local-losses"],
    /^error: --local-losses: logreg has a single layer/,
  ],
  ["an unknown estimator", ["--perturb", "biases"], /^error: --perturb/],
];

for (const [what, args, message] of REFUSED) {
  Deno.test(`train refuses ${what} with one line and exit 2`, async () => {
    const r = await runCli(TRAIN, [...args, "--steps", "2", "--out", await tempOut()]);
    assert.equal(r.code, 2, r.stderr);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], message);
  });
}

Deno.test("FG-A trains the whole CNN on a small KMNIST split, well past a run with frozen convolutions", async () => {
  const base: Partial<TrainConfig> = {
    model: "cnn",
    dataset: "kmnist",
    trainCount: 2000,
    testCount: 500,
    method: "forward",
    perturb: "activations",
    optimizer: "adam",
    lrForward: 0.001,
    batchSize: 64,
    steps: 600,
  };
  const full = await train(testConfig({ ...base, out: await tempOut() }));
  // The ablation: only the dense head learns (the convolutions keep their initial weights).
  const head = await train(testConfig({ ...base, freeze: ["conv*"], out: await tempOut() }));
  const [a, b] = [full.summary.runs[0].final.testAccuracy, head.summary.runs[0].final.testAccuracy];
  // Measured 0.71 vs 0.66 (runs are seeded and deterministic); the layers that feed the loss
  // are exact in FG-A, so the ablation is strong: the margin is the convolutions' own learning.
  assert.ok(a >= 0.6, `FG-A test accuracy ${a} (chance 0.1)`);
  assert.ok(a >= b + 0.02, `FG-A ${a} vs the frozen-convolution ablation ${b}`);
});

Deno.test("the README's activity-perturbation command runs as written and trains both methods", async () => {
  const out = await tempOut();
  const args = "--model cnn --perturb activations --local-losses --optimizer adam --epochs 5";
  const r = await runCli(TRAIN, [...args.split(" "), "--out", out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /status +complete +complete/);
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.config.perturb, "activations");
  assert.equal(summary.config.localLosses, true);
  for (const run of summary.runs) assert.ok(run.final.testAccuracy > 0.2, JSON.stringify(run));
});
