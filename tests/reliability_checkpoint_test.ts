import assert from "node:assert/strict";
import { UserError } from "../src/errors.ts";
import { writeFileAtomic } from "../src/fs/atomic.ts";
import {
  CHECKPOINT_FILE,
  decodeCheckpoint,
  encodeCheckpoint,
  readCheckpoint,
  removeStrayTemps,
  writeCheckpoint,
} from "../src/train/checkpoint.ts";
import { encodeCheckpointFile } from "../src/train/checkpoint_format.ts";
import { RunningLoss } from "../src/train/metrics.ts";
import { createOptimizer, type OptimizerName } from "../src/train/optimizers.ts";
import { sampleCheckpoint } from "./fixtures/sample_checkpoint.ts";

const tempDir = () => Deno.makeTempDir({ prefix: "fwdgrad-ckpt-" });

Deno.test("a checkpoint round-trips bit for bit: parameters, optimizer buffers, window, metrics and events", async () => {
  const c = sampleCheckpoint(17);
  const back = await decodeCheckpoint(await encodeCheckpoint(c), "test");
  const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
  assert.deepEqual(bits(back.methods[0].params), bits(c.methods[0].params));
  assert.ok(Object.is(back.methods[0].params[0], -0));
  assert.deepEqual(back.methods[0].optimizer, c.methods[0].optimizer);
  assert.deepEqual(back.methods[0].running, c.methods[0].running);
  assert.deepEqual(back.methods[0].log, c.methods[0].log, "NaN test loss comes back as NaN");
  assert.deepEqual(back.config, c.config);
  assert.deepEqual(back.argv, c.argv);
  assert.equal(back.methods[0].step, 17);
});

for (const name of ["sgd", "momentum", "adam"] as OptimizerName[]) {
  Deno.test(`${name}: an optimizer restored from its state continues exactly like the original`, () => {
    const n = 33;
    const grad = (t: number) => Float32Array.from({ length: n }, (_, i) => Math.cos(i * 0.7 + t));
    const a = createOptimizer(name, n);
    const pa = Float32Array.from({ length: n }, (_, i) => i / n);
    for (let t = 0; t < 5; t++) a.step(pa, grad(t), 0.01);
    const saved = structuredClone(a.state());
    const b = createOptimizer(name, n);
    b.load(saved);
    const pb = Float32Array.from(pa);
    for (let t = 5; t < 10; t++) {
      a.step(pa, grad(t), 0.01);
      b.step(pb, grad(t), 0.01);
    }
    assert.deepEqual(pb, pa);
    assert.throws(() => b.load({ nonsense: 1 }), RangeError);
  });
}

Deno.test("the running-loss window survives a snapshot and restore", () => {
  const a = new RunningLoss(4);
  for (const v of [5, 4, 3, 2, 1]) a.push(v);
  const b = new RunningLoss(4);
  b.restore(a.snapshot());
  assert.equal(b.mean, a.mean);
  assert.equal(b.full, true);
  a.push(0.5);
  b.push(0.5);
  assert.equal(b.mean, a.mean);
});

Deno.test("a checkpoint write killed midway leaves the previous checkpoint loadable", async () => {
  const dir = await tempDir();
  await writeCheckpoint(dir, sampleCheckpoint(10));
  const next = await encodeCheckpoint(sampleCheckpoint(11));
  // A crash while writing the temp file: half of it is on disk, never renamed.
  await Deno.writeFile(
    `${dir}/.${CHECKPOINT_FILE}.0badf00d.tmp`,
    next.subarray(0, next.length >> 1),
  );
  // A crash between the write and the rename: the whole new file, under its temp name.
  await Deno.writeFile(`${dir}/.${CHECKPOINT_FILE}.deadbeef.tmp`, next);
  assert.equal((await readCheckpoint(dir)).methods[0].step, 10);
  await removeStrayTemps(dir);
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [CHECKPOINT_FILE]);
});

Deno.test("a process killed (SIGKILL) while writing checkpoints leaves a loadable one", async () => {
  for (let attempt = 0; attempt < 3; attempt++) {
    const dir = await tempDir();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tests/fixtures/checkpoint_writer.ts", dir],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("wrote 2")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    // Somewhere inside the next write (each takes a few hundred milliseconds).
    await new Promise((r) => setTimeout(r, [10, 80, 170][attempt]));
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel().catch(() => {});
    const written = Number(text.match(/wrote (\d+)/g)!.at(-1)!.split(" ")[1]);
    const checkpoint = await readCheckpoint(dir);
    assert.ok(checkpoint.methods[0].step >= written, `${checkpoint.methods[0].step} < ${written}`);
    assert.equal(checkpoint.methods[0].params.length, 1 << 22);
  }
});

Deno.test("damaged or foreign checkpoints are one clear UserError each", async () => {
  const good = await encodeCheckpoint(sampleCheckpoint(3));
  const flipped = Uint8Array.from(good);
  flipped[flipped.length >> 1] ^= 1;
  const version = Uint8Array.from(good);
  version[8] = 9;
  const header = await encodeCheckpointFile(
    { format: "fwdgrad-checkpoint", status: "running" },
    {},
  );
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(), /not a fwdgrad checkpoint/],
    ["truncated", good.subarray(0, good.length - 100), /damaged \(checksum mismatch/],
    ["bit flip", flipped, /damaged \(checksum mismatch/],
    ["other file", new TextEncoder().encode("x".repeat(100)), /wrong magic/],
    ["newer format", version, /format version 9/],
    ["incomplete header", header, /not a usable checkpoint/],
  ];
  for (const [what, bytes, pattern] of cases) {
    await assert.rejects(
      () => decodeCheckpoint(bytes, "run/checkpoint.bin"),
      (e) => e instanceof UserError && pattern.test(e.message) && !e.message.includes("\n"),
      what,
    );
  }
  const dir = await tempDir();
  await writeFileAtomic(`${dir}/${CHECKPOINT_FILE}`, good.subarray(0, 40));
  await assert.rejects(() => readCheckpoint(dir, "--resume"), /^UserError: --resume: .*damaged/);
});
