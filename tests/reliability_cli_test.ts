/**
 * The reliability promises as a user meets them: a real `deno run -A src/cli/train.ts`
 * subprocess, stopped by Ctrl-C (SIGINT), SIGTERM or SIGKILL, then continued with --resume.
 */
import assert from "node:assert/strict";
import { resolveConfig } from "../src/cli/train.ts";
import { readCheckpoint } from "../src/train/checkpoint.ts";
import { train } from "../src/train/run.ts";
import { assertSameModels, exists, runCli } from "./reliability_helpers.ts";
import { tempOut } from "./train_helpers.ts";

const FLAGS = [
  "--model",
  "mlp",
  "--method",
  "both",
  "--steps",
  "300",
  "--workers",
  "2",
  "--tangents",
  "2",
  "--optimizer",
  "adam",
  "--checkpoint-every",
  "20",
  "--eval-every",
  "25",
];

const referenceConfig = resolveConfig([...FLAGS, "--out", await tempOut()]);
assert.ok(!("help" in referenceConfig));
const reference = (await train(referenceConfig)).outDir;

/** Starts the CLI; `until` is polled and the signals sent once it holds. */
async function runAndSignal(
  args: string[],
  until: () => Promise<boolean>,
  signals: Deno.Signal[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/cli/train.ts", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const deadline = Date.now() + 120_000;
  while (!(await until())) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      await output;
      throw new Error("the run never reached the point to signal it");
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const [i, s] of signals.entries()) {
    if (i > 0) await new Promise((r) => setTimeout(r, 30));
    child.kill(s);
  }
  const out = await output;
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("Ctrl-C stops a real run with exit 130, a loadable checkpoint and a valid summary; --resume finishes it bit-identically", async () => {
  const out = await tempOut();
  const r = await runAndSignal([...FLAGS, "--out", out], () => exists(out), ["SIGINT"]);
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /interrupted: .*--resume/);
  const checkpoint = await readCheckpoint(out);
  assert.equal(checkpoint.status, "interrupted");
  assert.ok(checkpoint.methods[0].step < 300);
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.status, "interrupted");
  assert.equal(summary.runs[0].method, "forward");
  assert.equal(summary.runs[0].steps, checkpoint.methods[0].step);
  assert.ok(await exists(`${out}/INCOMPLETE`));
  assert.ok(await exists(`${out}/loss-vs-step.svg`));

  const resumed = await runCli("src/cli/train.ts", ["--resume", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming .*forward from step \d+, then backprop/);
  await assertSameModels(reference, out, ["forward", "backprop"]);
  assert.ok(!(await exists(`${out}/INCOMPLETE`)));
});

Deno.test("SIGTERM stops a real run with exit 143 and a loadable checkpoint", async () => {
  const out = await tempOut();
  const r = await runAndSignal([...FLAGS, "--out", out], () => exists(out), ["SIGTERM"]);
  assert.equal(r.code, 143, r.stderr);
  assert.equal((await readCheckpoint(out)).status, "interrupted");
  assert.equal(JSON.parse(await Deno.readTextFile(`${out}/summary.json`)).status, "interrupted");
});

Deno.test("a second Ctrl-C quits at once, leaving the last good checkpoint loadable", async () => {
  const out = await tempOut();
  const r = await runAndSignal([...FLAGS, "--out", out], () => exists(out), ["SIGINT", "SIGINT"]);
  assert.equal(r.code, 130, r.stderr);
  const checkpoint = await readCheckpoint(out);
  assert.ok(["running", "interrupted"].includes(checkpoint.status));
});

Deno.test("a run killed without warning (SIGKILL) resumes from its last periodic checkpoint and ends bit-identical", async () => {
  const out = await tempOut();
  // metrics.jsonl is first written with the first periodic checkpoint (step 20).
  const r = await runAndSignal(
    [...FLAGS, "--out", out],
    () => exists(`${out}/metrics.jsonl`),
    ["SIGKILL"],
  );
  assert.notEqual(r.code, 0);
  const checkpoint = await readCheckpoint(out);
  assert.equal(checkpoint.status, "running");
  assert.ok(checkpoint.methods.at(-1)!.step >= 20);
  assert.ok(await exists(`${out}/INCOMPLETE`));
  // The same command line with --resume added continues it.
  const resumed = await runCli("src/cli/train.ts", [...FLAGS, "--out", out, "--resume", out]);
  assert.equal(resumed.code, 0, resumed.stderr);
  await assertSameModels(reference, out, ["forward", "backprop"]);
});

Deno.test("a diverging run exits 2 with one line naming the step, and keeps its outputs", async () => {
  const out = await tempOut();
  const r = await runCli("src/cli/train.ts", [
    "--method",
    "forward",
    "--steps",
    "20",
    "--workers",
    "2",
    "--lr",
    "1e10",
    "--out",
    out,
  ]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: forward training diverged at step \d+ .*smaller learning rate/);
  assert.equal(JSON.parse(await Deno.readTextFile(`${out}/summary.json`)).status, "diverged");
  assert.equal((await readCheckpoint(out)).status, "diverged");
});
