import assert from "node:assert/strict";
import { resolveConfig } from "../src/cli/train.ts";
import { planResume } from "../src/cli/train_resume.ts";
import { UserError } from "../src/errors.ts";
import { readCheckpoint } from "../src/train/checkpoint.ts";
import type { TrainConfig } from "../src/train/config.ts";
import { DivergenceError } from "../src/train/stopping.ts";
import { resumeTrain, type RunSummary, train } from "../src/train/run.ts";
import { assertSameModels, evaluations, exists, stopAt } from "./reliability_helpers.ts";
import { tempOut, testConfig } from "./train_helpers.ts";

/** The summary fields that must not depend on interruptions. */
function outcome(summary: RunSummary) {
  return summary.runs.map(({ wallSeconds: _w, stepsPerSecond: _s, secondsToTarget: _t, ...r }) =>
    r
  );
}

// Adam (buffers and a step counter), a target loss that backprop reaches mid-run (the running
// window decides when), periodic checkpoints and evaluations.
const adamTarget: Partial<TrainConfig> = {
  model: "mlp",
  method: "both",
  steps: 40,
  workers: 2,
  tangents: 2,
  optimizer: "adam",
  lrForward: 0.002,
  lrBackprop: 0.02,
  targetLoss: 0.5,
  checkpointEvery: 7,
  evalEvery: 5,
};

Deno.test("a run interrupted during forward, then during backprop, and resumed ends bit-identical to the uninterrupted run", async () => {
  const reference = await train(testConfig({ ...adamTarget, out: await tempOut() }));
  assert.equal(reference.status, "complete");
  assert.ok(reference.summary.runs[1].reachedTarget, "backprop reaches the target mid-run");

  const out = await tempOut();
  const first = await train(testConfig({ ...adamTarget, out }), stopAt("forward", 11));
  assert.equal(first.status, "interrupted");
  let checkpoint = await readCheckpoint(out);
  assert.equal(checkpoint.status, "interrupted");
  assert.deepEqual(checkpoint.methods.map((m) => [m.method, m.status, m.step]), [[
    "forward",
    "interrupted",
    11,
  ]]);
  assert.equal(checkpoint.methods[0].epoch, 1);
  assert.equal(checkpoint.methods[0].batch, 2);
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.status, "interrupted");
  assert.equal(summary.runs[0].steps, 11);
  assert.ok(await exists(`${out}/INCOMPLETE`));
  assert.ok(await exists(`${out}/loss-vs-step.svg`));

  const second = await resumeTrain(out, stopAt("backprop", 3));
  assert.equal(second.status, "interrupted");
  checkpoint = await readCheckpoint(out);
  assert.deepEqual(
    checkpoint.methods.map((m) => [m.method, m.status, m.step]),
    [["forward", "complete", 40], ["backprop", "interrupted", 3]],
  );
  assert.equal(checkpoint.resumes, 1);

  const third = await resumeTrain(out);
  assert.equal(third.status, "complete");
  assert.equal(third.summary.checkpoint.resumes, 2);
  await assertSameModels(reference.outDir, out, ["forward", "backprop"]);
  assert.deepEqual(await evaluations(out), await evaluations(reference.outDir));
  assert.deepEqual(outcome(third.summary), outcome(reference.summary));
  assert.ok(!(await exists(`${out}/INCOMPLETE`)));
  // The final checkpoint holds the same parameters as the models, bit for bit.
  const final = await readCheckpoint(out);
  const ref = await readCheckpoint(reference.outDir);
  assert.equal(final.status, "complete");
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(final.methods[i].params, ref.methods[i].params);
    assert.deepEqual(final.methods[i].optimizer, ref.methods[i].optimizer);
  }
});

Deno.test("shared tangents, momentum and a cosine schedule resume bit-identically from a checkpoint boundary", async () => {
  const config: Partial<TrainConfig> = {
    model: "mlp",
    method: "forward",
    steps: 24,
    workers: 3,
    tangents: 3,
    tangentMode: "shared",
    tangentDist: "rademacher",
    optimizer: "momentum",
    lrSchedule: "cosine",
    checkpointEvery: 6,
  };
  const reference = await train(testConfig({ ...config, out: await tempOut() }));
  const out = await tempOut();
  assert.equal(
    (await train(testConfig({ ...config, out }), stopAt("forward", 12))).status,
    "interrupted",
  );
  assert.equal((await resumeTrain(out)).status, "complete");
  await assertSameModels(reference.outDir, out, ["forward"]);
  assert.deepEqual(await evaluations(out), await evaluations(reference.outDir));
});

Deno.test("a run interrupted as forward finishes resumes with backprop, forward untouched", async () => {
  const config: Partial<TrainConfig> = { model: "logreg", method: "both", steps: 10, workers: 2 };
  const reference = await train(testConfig({ ...config, out: await tempOut() }));
  const out = await tempOut();
  const stopped = await train(testConfig({ ...config, out }), stopAt("forward", 10));
  assert.equal(stopped.status, "interrupted");
  assert.deepEqual(stopped.summary.runs.map((r) => [r.method, r.status]), [[
    "forward",
    "complete",
  ]]);
  assert.match(await Deno.readTextFile(`${out}/INCOMPLETE`), /backprop not started/);
  const resumed = await resumeTrain(out);
  assert.equal(resumed.status, "complete");
  await assertSameModels(reference.outDir, out, ["forward", "backprop"]);
});

Deno.test("resuming a complete run rewrites its outputs from the checkpoint and trains nothing", async () => {
  const out = await tempOut();
  const done = await train(
    testConfig({ model: "logreg", method: "both", steps: 6, workers: 1, out }),
  );
  const model = await Deno.readFile(`${out}/model-forward.onnx`);
  await Deno.remove(`${out}/summary.json`);
  await Deno.remove(`${out}/model-forward.onnx`);
  let progressed = false;
  const again = await resumeTrain(out, { onProgress: () => (progressed = true) });
  assert.equal(again.status, "complete");
  assert.ok(!progressed, "no step was trained");
  assert.deepEqual(await Deno.readFile(`${out}/model-forward.onnx`), model);
  assert.deepEqual(outcome(again.summary), outcome(done.summary));
});

Deno.test("a diverging method stops naming the step and a smaller learning rate, the other still runs, and the outputs and checkpoint are valid", async () => {
  const out = await tempOut();
  const config = testConfig({
    model: "mlp",
    method: "both",
    steps: 20,
    workers: 2,
    lrForward: 1e10,
    out,
  });
  const error = await train(config).then(() => null, (e) => e);
  assert.ok(error instanceof DivergenceError, String(error));
  const step = Number(/diverged at step (\d+)/.exec(error.message)?.[1]);
  assert.ok(step > 0, error.message);
  assert.match(error.message, /smaller learning rate/);
  assert.doesNotMatch(error.message, /\n/);

  const checkpoint = await readCheckpoint(out);
  assert.equal(checkpoint.status, "diverged");
  assert.equal(checkpoint.methods[0].step, step, "the last good step");
  assert.ok(
    checkpoint.methods[0].params.every(Number.isFinite),
    "no non-finite value reached the parameters",
  );
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.status, "diverged");
  assert.match(summary.error, /diverged at step/);
  assert.deepEqual(
    summary.runs.map((r: { status: string }) => r.status),
    ["diverged", "complete"],
    "the forward divergence does not stop backprop",
  );
  assert.ok(await exists(`${out}/model-forward.onnx`));
  assert.ok(!(await exists(`${out}/INCOMPLETE`)), "a diverged run is finished");
  for (const line of (await Deno.readTextFile(`${out}/metrics.jsonl`)).trim().split("\n")) {
    JSON.parse(line);
  }

  await assert.rejects(
    () => resumeTrain(out),
    (e) => e instanceof UserError && /diverged/.test(e.message),
  );
});

Deno.test("--resume accepts the run's own flags and operational ones, and refuses a changed setting", async () => {
  const argv = ["--model", "logreg", "--steps", "8", "--workers", "1", "--method", "forward"];
  const out = await tempOut();
  const config = resolveConfig([...argv, "--out", out]);
  assert.ok(!("help" in config));
  await train(config, { ...stopAt("forward", 4), argv: [...argv, "--out", out] });

  const same = await planResume(out, [...argv, "--resume", out], resolveConfig);
  assert.equal(same.config.steps, 8);
  const ops = await planResume(out, [
    "--resume",
    out,
    "--max-retries",
    "5",
    "--step-timeout",
    "9",
    "--checkpoint-every",
    "2",
  ], resolveConfig);
  assert.deepEqual([ops.config.maxRetries, ops.config.stepTimeout, ops.config.checkpointEvery], [
    5,
    9,
    2,
  ]);
  await assert.rejects(
    () => planResume(out, ["--resume", out, "--steps", "9"], resolveConfig),
    /--steps 9 differs from the run/,
  );
  await assert.rejects(
    () => planResume(out, [...argv, "--seed", "3", "--resume", out], resolveConfig),
    /--seed 3 differs/,
  );
  await assert.rejects(
    () => planResume(out, ["--resume", out, "--out", `${out}-elsewhere`], resolveConfig),
    /--out: a resumed run continues in its own directory/,
  );
  // Operational overrides change nothing in the result.
  const resumed = await resumeTrain(out, { checkpoint: ops.checkpoint, overrides: ops.overrides });
  assert.equal(resumed.status, "complete");
  assert.equal(resumed.summary.config.maxRetries, 5);
});

Deno.test("--resume notices a dataset that changed since the run started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fwdgrad-resume-" });
  const csv = `${dir}/data.csv`;
  const rows = ["a,b,species"];
  for (let i = 0; i < 40; i++) rows.push(`${i % 7},${(i * 3) % 5},${["x", "y"][i % 2]}`);
  await Deno.writeTextFile(csv, rows.join("\n") + "\n");
  const out = `${dir}/run`;
  const config = testConfig({
    model: "logreg",
    method: "forward",
    dataset: csv,
    steps: 6,
    workers: 1,
    out,
  });
  await train(config, stopAt("forward", 2));
  await Deno.writeTextFile(csv, rows.join("\n").replace("0,0,x", "1,0,x") + "\n");
  await assert.rejects(() => resumeTrain(out), /--resume: .*dataset .* has changed/);
  await Deno.writeTextFile(csv, [...rows, "1,1,x", "2,2,y"].join("\n") + "\n");
  await assert.rejects(() => resumeTrain(out), /--resume: .*now has \d+ train/);
});
