/**
 * Bad input of every kind a user hands to `deno task train` (flags, CSV, IDX, ONNX, checkpoint
 * directories): one line on stderr naming what and where, exit code 2, no stack trace, and no
 * output directory left behind (or, for --resume, the run directory left as it was).
 */
import assert from "node:assert/strict";
import { encodeModel } from "../src/onnx/encode.ts";
import { createModel } from "../src/onnx/models/registry.ts";
import { CHECKPOINT_FILE } from "../src/train/checkpoint.ts";
import { train } from "../src/train/run.ts";
import { exists, runCli } from "./reliability_helpers.ts";
import { idxImages } from "./data_fixtures.ts";
import { testConfig } from "./train_helpers.ts";

const dir = await Deno.makeTempDir({ prefix: "fwdgrad-bad-input-" });
const text = (name: string, content: string) => Deno.writeTextFile(`${dir}/${name}`, content);
const bytes = (name: string, content: Uint8Array) => Deno.writeFile(`${dir}/${name}`, content);

// CSV files.
await text("empty.csv", "");
await text("nolabel.csv", "a,b\n1,2\n3,4\n");
await text("unclosed.csv", 'a,b,species\n1,2,x\n3,"4,y\n');
await text("twice.csv", "a,a,species\n1,2,x\n3,4,y\n");
await text("words.csv", "name,species\nfoo,x\nbar,y\n");
await text("good.csv", "a,b,species\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n9,1,x\n2,3,y\n");

// IDX directories (only the t10k pair is needed).
const labels = (n: number) => Uint8Array.from([0, 0, 8, 1, 0, 0, 0, n, ...Array(n).fill(0)]);
for (const name of ["empty-idx", "bad-magic", "truncated", "bad-gzip"]) {
  await Deno.mkdir(`${dir}/${name}`);
}
await bytes("bad-magic/t10k-images-idx3-ubyte", idxImages(4, 28, 28, 1234));
await bytes("bad-magic/t10k-labels-idx1-ubyte", labels(4));
await bytes("truncated/t10k-images-idx3-ubyte", idxImages(4).subarray(0, 500));
await bytes("truncated/t10k-labels-idx1-ubyte", labels(4));
await bytes(
  "bad-gzip/t10k-images-idx3-ubyte.gz",
  Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5]),
);
await bytes("bad-gzip/t10k-labels-idx1-ubyte", labels(4));

// ONNX files.
await text("notonnx.onnx", "this is not a model");
const mlp = (classes: number) =>
  encodeModel(createModel("mlp", { inputShape: [4], classes, seed: 0 }));
const whole = mlp(3);
await bytes("half.onnx", whole.subarray(0, whole.length >> 1));
await bytes("five_classes.onnx", mlp(5));

// Checkpoint directories: a resumable run, a diverged one, and damaged copies.
const small = { model: "logreg" as const, method: "forward" as const, workers: 1, steps: 6 };
const interrupted = `${dir}/interrupted`;
const controller = new AbortController();
await train(testConfig({ ...small, out: interrupted }), {
  signal: controller.signal,
  onProgress: (_m, p) => p.step === 2 && controller.abort(),
});
const diverged = await train(
  testConfig({ ...small, model: "mlp", lrForward: 1e10, steps: 20, out: `${dir}/diverged` }),
).then(() => null, (e) => e);
assert.match(String(diverged), /diverged at step/);
const checkpoint = await Deno.readFile(`${interrupted}/${CHECKPOINT_FILE}`);
for (
  const [name, content] of [
    ["garbage", new TextEncoder().encode("not a checkpoint, just some text that is long enough")],
    ["truncated-ckpt", checkpoint.subarray(0, checkpoint.length - 77)],
  ] as const
) {
  await Deno.mkdir(`${dir}/${name}`);
  await bytes(`${name}/${CHECKPOINT_FILE}`, content);
}
await Deno.mkdir(`${dir}/no-checkpoint`);

const d = (p: string) => `${dir}/${p}`;
const CASES: [string, string[], RegExp][] = [
  // Flags.
  ["an unknown flag", ["--bogus"], /unknown flag --bogus/],
  ["a learning rate that is not a number", ["--lr", "abc"], /--lr: expected a number/],
  ["a negative --checkpoint-every", ["--checkpoint-every", "-3"], /--checkpoint-every/],
  ["a fractional --max-retries", ["--max-retries", "1.5"], /--max-retries/],
  ["a zero --step-timeout", ["--step-timeout", "0"], /--step-timeout/],
  ["--resume without a directory", ["--resume"], /--resume/],
  ["a zero batch size", ["--batch-size", "0"], /--batch-size/],
  // CSV.
  ["a CSV file that does not exist", ["--dataset", d("missing.csv")], /missing\.csv/],
  ["an empty CSV file", ["--dataset", d("empty.csv")], /empty\.csv: file is empty/],
  ["a CSV file without a label column", ["--dataset", d("nolabel.csv")], /nolabel\.csv: .*species/],
  [
    "a CSV file with an unclosed quote",
    ["--dataset", d("unclosed.csv")],
    /unclosed\.csv: line \d+: quoted field is never closed/,
  ],
  ["a CSV header naming a column twice", ["--dataset", d("twice.csv")], /twice\.csv: .*twice/],
  [
    "a CSV file without numeric features",
    ["--dataset", d("words.csv")],
    /words\.csv: no numeric feature/,
  ],
  [
    "a --label-column the CSV lacks",
    ["--dataset", d("good.csv"), "--label-column", "kind"],
    /good\.csv: no label column "kind"/,
  ],
  // IDX.
  [
    "an IDX directory without IDX files",
    ["--model", "cnn", "--dataset", d("empty-idx")],
    /empty-idx: expected IDX files/,
  ],
  [
    "an IDX file with the wrong magic number",
    ["--model", "cnn", "--dataset", d("bad-magic")],
    /t10k-images-idx3-ubyte: wrong IDX magic/,
  ],
  [
    "a truncated IDX file",
    ["--model", "cnn", "--dataset", d("truncated")],
    /t10k-images-idx3-ubyte: truncated IDX data/,
  ],
  [
    "a corrupt gzipped IDX file",
    ["--model", "cnn", "--dataset", d("bad-gzip")],
    /\.gz: not valid gzip/,
  ],
  // ONNX.
  [
    "a model file that is not ONNX",
    ["--model", d("notonnx.onnx"), "--dataset", "penguins"],
    /notonnx\.onnx: not a valid ONNX/,
  ],
  [
    "a model file that does not exist",
    ["--model", d("missing.onnx"), "--dataset", "penguins"],
    /missing\.onnx: cannot read/,
  ],
  ["a truncated ONNX file", ["--model", d("half.onnx"), "--dataset", "penguins"], /half\.onnx/],
  ["an ONNX model whose logits do not fit the classes", [
    "--model",
    d("five_classes.onnx"),
    "--dataset",
    "penguins",
  ], /five_classes\.onnx/],
  // Checkpoint directories.
  [
    "--resume of a directory that does not exist",
    ["--resume", d("nowhere")],
    /--resume: .*nowhere: no such directory/,
  ],
  [
    "--resume of a directory without a checkpoint",
    ["--resume", d("no-checkpoint")],
    /--resume: .*no-checkpoint has no checkpoint\.bin/,
  ],
  ["--resume of a file", ["--resume", d("good.csv")], /--resume: .*good\.csv is a file/],
  [
    "--resume of a foreign checkpoint file",
    ["--resume", d("garbage")],
    /--resume: .*checkpoint\.bin: not a fwdgrad checkpoint/,
  ],
  [
    "--resume of a truncated checkpoint",
    ["--resume", d("truncated-ckpt")],
    /--resume: .*checkpoint\.bin: checkpoint is damaged/,
  ],
  [
    "--resume with a different learning rate",
    ["--resume", interrupted, "--lr", "0.5"],
    /--resume: --lr.* 0\.5 differs from the run/,
  ],
  [
    "--resume with a different step count",
    ["--resume", interrupted, "--steps", "99"],
    /--resume: --steps 99 differs/,
  ],
  [
    "--resume into another --out",
    ["--resume", interrupted, "--out", d("elsewhere")],
    /--out: a resumed run continues in its own directory/,
  ],
  [
    "--resume of a diverged run",
    ["--resume", d("diverged")],
    /--resume: .*diverged .*smaller learning rate/,
  ],
];

const before = await Deno.readFile(`${interrupted}/${CHECKPOINT_FILE}`);

for (const [i, [what, args, pattern]] of CASES.entries()) {
  Deno.test(`train with ${what} fails with one clear line, exit code 2 and no output directory`, async () => {
    const resuming = args.includes("--resume");
    const out = d(`out-${i}`);
    const r = await runCli("src/cli/train.ts", resuming ? args : [...args, "--out", out]);
    assert.equal(r.code, 2, `exit ${r.code}:\n${r.stderr}`);
    const lines = r.stderr.trim().split("\n");
    assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
    assert.ok(!(await exists(out)), "no output directory");
    const strays = [...Deno.readDirSync(dir)].filter((e) => e.name.includes(".partial-"));
    assert.deepEqual(strays, [], "no half-built directory");
    if (resuming) {
      assert.deepEqual(await Deno.readFile(`${interrupted}/${CHECKPOINT_FILE}`), before);
    }
  });
}

Deno.test("the bad-input table covers at least 20 distinct cases across flags, CSV, IDX, ONNX and checkpoints", () => {
  assert.ok(CASES.length >= 20);
  for (const kind of [/--(lr|bogus)/, /\.csv/, /IDX|idx/, /\.onnx/, /--resume/]) {
    assert.ok(CASES.some(([what, args]) => kind.test(what + args.join(" "))), String(kind));
  }
});
