import assert from "node:assert/strict";
import { createProgress, formatDuration } from "../src/report/progress.ts";

function collector() {
  const chunks: string[] = [];
  const decoder = new TextDecoder();
  const stream = {
    writeSync(bytes: Uint8Array) {
      chunks.push(decoder.decode(bytes));
      return bytes.length;
    },
  };
  return { stream, text: () => chunks.join("") };
}

Deno.test("off a terminal, progress writes plain throttled lines and the final state", () => {
  const out = collector();
  let t = 0;
  const p = createProgress({
    methods: ["forward", "backprop"],
    totalSteps: 100,
    stream: out.stream,
    isTerminal: false,
    logIntervalSeconds: 10,
    now: () => t,
  });
  p.update("forward", { step: 1, epoch: 0, loss: 2.3, stepsPerSecond: 50 });
  t = 1;
  p.update("forward", { step: 2, epoch: 0, loss: 2.2, stepsPerSecond: 50 }); // throttled
  t = 2;
  p.update("forward", { step: 3, epoch: 0, loss: 2.1, stepsPerSecond: 50, testAccuracy: 0.5 });
  p.update("backprop", { step: 1, epoch: 0, loss: 2.3, stepsPerSecond: 20 });
  p.log("checkpoint saved");
  t = 3;
  p.update("backprop", { step: 9, epoch: 1, loss: 1.5, stepsPerSecond: 20 }); // throttled
  p.done();
  const lines = out.text().trimEnd().split("\n");
  assert.ok(!out.text().includes("\x1b"), "no escape codes off a terminal");
  assert.deepStrictEqual(lines.length, 5, out.text());
  assert.match(lines[0], /^\[0s\] forward {3}step 1\/100 \(1%\) {2}epoch 0 {2}loss 2\.3000/);
  assert.match(lines[1], /forward .*step 3\/100.*acc 50\.00%.*50\.0 steps\/s {2}ETA 2s$/);
  assert.match(lines[2], /^\[2s\] backprop {2}step 1\/100/);
  assert.deepStrictEqual(lines[3], "checkpoint saved");
  assert.match(lines[4], /^\[3s\] backprop {2}step 9\/100 \(9%\) {2}epoch 1/);
});

Deno.test("on a terminal, progress redraws one line per method in place", () => {
  const out = collector();
  let t = 0;
  const p = createProgress({
    methods: ["forward", "backprop"],
    stream: out.stream,
    isTerminal: true,
    columns: 200,
    now: () => t,
  });
  p.update("forward", { step: 1, epoch: 0, loss: 1, stepsPerSecond: 5, etaSeconds: 125 });
  t = 1;
  p.update("backprop", { step: 1, epoch: 0, loss: 1, stepsPerSecond: 5 });
  p.done();
  const text = out.text();
  assert.ok(text.includes("\x1b[2A"), "moves the cursor up over both status lines");
  assert.ok(text.includes("ETA 2m05s"));
  assert.ok(text.includes("backprop  waiting…"));
});

Deno.test("durations are compact", () => {
  assert.deepStrictEqual(formatDuration(7.4), "7s");
  assert.deepStrictEqual(formatDuration(185), "3m05s");
  assert.deepStrictEqual(formatDuration(3720), "1h02m");
});
