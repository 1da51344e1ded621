import assert from "node:assert/strict";
import { UserError } from "../src/errors.ts";
import { readCheckpoint } from "../src/train/checkpoint.ts";
import type { TrainConfig } from "../src/train/config.ts";
import { resumeTrain, train } from "../src/train/run.ts";
import { WorkerFailureError } from "../src/train/supervised_pool.ts";
import {
  assertSameModels,
  evaluations,
  exists,
  type Fault,
  faultySpawn,
  readLog,
} from "./reliability_helpers.ts";
import { tempOut, testConfig } from "./train_helpers.ts";

// Small and fast: 12 steps, 2 forward workers, a short timeout so hangs are caught quickly.
// stepTimeout changes how failures are caught, never the result, so the clean runs share it.
const base: Partial<TrainConfig> = {
  model: "mlp",
  steps: 12,
  workers: 2,
  tangents: 2,
  evalEvery: 4,
  optimizer: "momentum",
  stepTimeout: 3,
};
const forwardConfig = (out: string) => testConfig({ ...base, method: "forward", out });
const backpropConfig = (out: string) => testConfig({ ...base, method: "backprop", out });

const clean = {
  forward: (await train(forwardConfig(await tempOut()))).outDir,
  backprop: (await train(backpropConfig(await tempOut()))).outDir,
};

const FORWARD_FAULTS: [string, Fault, string][] = [
  ["throws", { kind: "forward_worker", fault: "throw", at: 5, spawns: [1] }, "error"],
  [
    "crashes (error event)",
    { kind: "forward_worker", fault: "crash", at: 5, spawns: [1] },
    "crash",
  ],
  ["closes itself", { kind: "forward_worker", fault: "exit", at: 7, spawns: [1] }, "timeout"],
  ["hangs", { kind: "forward_worker", fault: "hang", at: 2, spawns: [0] }, "timeout"],
  ["answers garbage", { kind: "forward_worker", fault: "garbage", at: 9, spawns: [0] }, "error"],
  ["fails to start", { kind: "forward_worker", fault: "init-throw", spawns: [1] }, "error"],
  [
    "crashes while evaluating",
    { kind: "forward_worker", fault: "eval-crash", at: 1, spawns: [0] },
    "crash",
  ],
];

for (const [what, fault, kind] of FORWARD_FAULTS) {
  Deno.test(`a forward worker that ${what} is replaced and the run ends bit-identical to the clean run`, async () => {
    const spawn = faultySpawn(fault);
    const { outDir, summary, status } = await train(forwardConfig(await tempOut()), { spawn });
    assert.equal(status, "complete");
    await assertSameModels(clean.forward, outDir, ["forward"]);
    assert.deepEqual(await evaluations(outDir), await evaluations(clean.forward));
    // One failure, logged in metrics.jsonl and summarised in summary.json.
    const events = (await readLog(outDir)).filter((r) => r.event === "worker-failure");
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].kind, kind);
    assert.equal(events[0].action, "restarted");
    assert.equal(events[0].worker, fault.spawns === "all" ? 0 : fault.spawns[0]);
    const run = summary.runs[0];
    assert.equal(run.workerFailures.count, 1);
    assert.equal(run.workerFailures.byKind[kind as "error"], 1);
    assert.equal(spawn.count.forward_worker, 3, "two workers and one replacement");
    if (fault.fault !== "init-throw" && fault.fault !== "eval-crash") {
      assert.deepEqual(run.workerFailures.steps, [fault.at]);
    }
  });
}

Deno.test("a backprop worker that throws, then one that hangs, is replaced and the run ends bit-identical", async () => {
  const spawn = faultySpawn(
    { kind: "backprop_worker", fault: "throw", at: 4, spawns: [0] },
    { kind: "backprop_worker", fault: "hang", at: 6, spawns: [1] },
  );
  const { outDir, summary } = await train(backpropConfig(await tempOut()), { spawn });
  await assertSameModels(clean.backprop, outDir, ["backprop"]);
  assert.deepEqual(summary.runs[0].workerFailures, {
    count: 2,
    byKind: { error: 1, crash: 0, timeout: 1 },
    steps: [4, 6],
  });
});

Deno.test("a step that keeps failing stops the run with one clear error and a checkpoint; resuming finishes it bit-identically", async () => {
  const out = await tempOut();
  const failing = faultySpawn({ kind: "forward_worker", fault: "throw", at: 6, spawns: "all" });
  const error = await train(testConfig({ ...base, method: "forward", out, maxRetries: 2 }), {
    spawn: failing,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof WorkerFailureError, String(error));
  assert.doesNotMatch(error.message, /\n/);
  assert.match(
    error.message,
    /^step 6 failed \d times \(last: forward worker \d threw: injected fault\)/,
  );
  assert.match(error.message, /--max-retries/);
  assert.ok(error.message.includes(`--resume ${out}`), error.message);

  const checkpoint = await readCheckpoint(out);
  assert.equal(checkpoint.status, "failed");
  assert.equal(checkpoint.methods[0].step, 6);
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.status, "failed");
  const failures = summary.runs[0].workerFailures.count;
  assert.ok(failures >= 3, `${failures} failures`);
  assert.ok(await exists(`${out}/INCOMPLETE`));
  const events = (await readLog(out)).filter((r) => r.event);
  assert.equal(events.length, failures);
  assert.ok(events.every((e) => e.step === 6 && e.during === "step"));
  assert.deepEqual(events.slice(0, 2).map((e) => e.action), ["restarted", "restarted"]);
  assert.equal(events.at(-1)!.action, "stopped");

  // The trouble was transient: healthy workers finish the run as if nothing happened.
  const resumed = await resumeTrain(out);
  assert.equal(resumed.status, "complete");
  await assertSameModels(clean.forward, out, ["forward"]);
  assert.deepEqual(await evaluations(out), [
    ...(await evaluations(clean.forward)),
  ]);
  assert.equal(
    resumed.summary.runs[0].workerFailures.count,
    failures,
    "earlier failures stay logged",
  );
  assert.ok(!(await exists(`${out}/INCOMPLETE`)));
});

Deno.test("workers that cannot start leave no output directory behind", async () => {
  const out = await tempOut();
  const spawn = faultySpawn({ kind: "forward_worker", fault: "init-throw", spawns: "all" });
  await assert.rejects(
    () => train(testConfig({ ...base, method: "forward", out, maxRetries: 1 }), { spawn }),
    WorkerFailureError,
  );
  assert.ok(!(await exists(out)));
});

Deno.test("a worker's UserError (bad input) is reported at once, not retried", async () => {
  const out = await tempOut();
  const spawn = faultySpawn({ kind: "forward_worker", fault: "init-user-error", spawns: "all" });
  await assert.rejects(
    () => train(testConfig({ ...base, method: "forward", out }), { spawn }),
    (e) => e instanceof UserError && /injected bad input/.test(e.message),
  );
  assert.ok(spawn.count.forward_worker <= 2, "no replacement was spawned");
  assert.ok(!(await exists(out)));
});
