/** "A first hour without surprises": what a new user types, through the CLI, as they type it. */
import assert from "node:assert/strict";
import { exists, runCli } from "./reliability_helpers.ts";

const dir = await Deno.makeTempDir({ prefix: "fwdgrad-first-hour-" });
await Deno.writeTextFile(`${dir}/somefile`, "not a directory\n");

/** Asserts one `error:` line, exit 2, no stack trace, matching `pattern`. */
function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `expected one line, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.match(lines[0], pattern);
}

for (
  const [out, pattern] of [
    ["/proc/fwdgrad-x", /--out: cannot create \/proc\/fwdgrad-x/],
    [`${dir}/somefile/run`, /--out: cannot create .*somefile\/run: .*somefile is a file/],
  ] as const
) {
  Deno.test(`train --out ${out.replace(dir, "<tmp>")} is refused in one line before any work starts`, async () => {
    assertOneLineError(await runCli("src/cli/train.ts", ["--out", out, "--steps", "1"]), pattern);
  });
}

Deno.test("train --out onto a plain file does not suggest resuming it", async () => {
  const r = await runCli("src/cli/train.ts", ["--out", `${dir}/somefile`, "--steps", "1"]);
  assertOneLineError(r, /already exists; choose another directory/);
  assert.doesNotMatch(r.stderr, /--resume/);
});

Deno.test("train --batch-size larger than the data is clamped with a notice and recorded", async () => {
  const out = `${dir}/big-batch`;
  const r = await runCli("src/cli/train.ts", [
    ...["--batch-size", "100000", "--steps", "1", "--method", "backprop", "--out", out, "--json"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--batch-size 100000 is more than the 274 training examples; using 274/);
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.config.batchSize, 274);
});

Deno.test("train --workers more than a batch's examples is clamped with a notice", async () => {
  const out = `${dir}/many-workers`;
  const r = await runCli("src/cli/train.ts", [
    ...["--batch-size", "2", "--workers", "4", "--steps", "1", "--method", "forward"],
    ...["--out", out, "--json"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /--workers 4 is more than the 2 examples in a batch; using 2/);
  const summary = JSON.parse(await Deno.readTextFile(`${out}/summary.json`));
  assert.equal(summary.config.workers, 2);
});

Deno.test("train --tangents 1e9 is refused up front, naming the flag and the size", async () => {
  const out = `${dir}/huge-k`;
  const r = await runCli("src/cli/train.ts", ["--tangents", "1e9", "--steps", "1", "--out", out]);
  assertOneLineError(r, /--tangents 1000000000: needs about .* GiB.* more than this machine's/);
  assert.equal(await exists(out), false);
});

Deno.test("paths typed in a subdirectory resolve there under deno task (INIT_CWD)", async () => {
  const sub = `${dir}/where-i-am`;
  await Deno.mkdir(sub);
  await Deno.writeTextFile(`${sub}/mine.csv`, "f,label\n1,a\n2,b\n3,a\n4,b\n5,a\n6,b\n");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "-A", "src/cli/train.ts", "--dataset", "mine.csv", "--label-column", "label"],
      ...["--model", "logreg", "--steps", "1", "--method", "backprop", "--out", "run", "--json"],
    ],
    env: { INIT_CWD: sub },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.ok(await exists(`${sub}/run/summary.json`), "--out resolved in INIT_CWD");
});

Deno.test("train --dataset with a missing file says file not found", async () => {
  const r = await runCli("src/cli/train.ts", ["--dataset", "data/nosuch.csv"]);
  assertOneLineError(r, /^error: file not found: data\/nosuch\.csv$/);
});

Deno.test("train on a CSV without species takes its last non-numeric column and says so", async () => {
  const csv = `${dir}/fruit.csv`;
  const rows = Array.from({ length: 20 }, (_, i) => `${i},${i % 2 ? "apple" : "pear"},${i * 2}`);
  await Deno.writeTextFile(csv, ["size,fruit,weight", ...rows].join("\n") + "\n");
  const r = await runCli("src/cli/train.ts", [
    ...["--dataset", csv, "--model", "logreg", "--steps", "1", "--method", "backprop"],
    ...["--out", `${dir}/fruit-run`],
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /label column "fruit"/);
});

Deno.test("check-grads reports progress on stderr as it goes and names every column", async () => {
  const r = await runCli("src/cli/check_grads.ts", ["logreg"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^\[1\/\d+\] \S+ wrt \S+: JVP vs finite diff\./m);
  const header = r.stdout.split("\n").find((l) => l.includes("JVP vs finite diff."))!;
  assert.match(header, /VJP vs JVP\s+result\s*$/);
});

Deno.test("predict takes a run directory: its models, dataset, split and seed, and writes predictions", async () => {
  const run = `${dir}/predict-run`;
  const trained = await runCli("src/cli/train.ts", [
    ...["--model", "logreg", "--steps", "2", "--seed", "3", "--out", run, "--json"],
  ]);
  assert.equal(trained.code, 0, trained.stderr);
  const summary = JSON.parse(await Deno.readTextFile(`${run}/summary.json`));

  const csv = `${dir}/predictions.csv`;
  const r = await runCli("src/cli/predict.ts", [run, "--predictions", csv]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /differs/);
  const misclassified = [...r.stdout.matchAll(/misclassified (\d+)\/68/g)].map((m) => Number(m[1]));
  assert.deepEqual(
    misclassified,
    summary.runs.map((m: { final: { misclassified: number } }) => m.final.misclassified),
    "the run's own split and seed",
  );
  const lines = (await Deno.readTextFile(csv)).trim().split("\n");
  assert.equal(lines[0], "model,index,label,predicted,p_Adelie,p_Chinstrap,p_Gentoo");
  assert.equal(lines.length, 1 + 2 * 68);
  assert.match(lines[1], /^forward,0,\w+,\w+,[\d.e-]+,[\d.e-]+,[\d.e-]+$/);

  const jsonl = `${dir}/predictions.jsonl`;
  const other = await runCli("src/cli/predict.ts", [
    ...[run, "--method", "backprop", "--seed", "1", "--predictions", jsonl],
  ]);
  assert.equal(other.code, 0, other.stderr);
  assert.match(other.stderr, /--seed 1 differs from the run's \(3\)/);
  const first = JSON.parse((await Deno.readTextFile(jsonl)).split("\n")[0]);
  assert.equal(first.model, "backprop");
  assert.deepEqual(Object.keys(first.probabilities), ["Adelie", "Chinstrap", "Gentoo"]);
});

Deno.test("summary.json and metrics.jsonl show accuracies to 6 significant digits", async () => {
  const run = `${dir}/rounded`;
  const r = await runCli("src/cli/train.ts", [
    ...["--model", "logreg", "--steps", "4", "--eval-every", "1", "--method", "backprop"],
    ...["--out", run, "--json"],
  ]);
  assert.equal(r.code, 0, r.stderr);
  const texts = [
    await Deno.readTextFile(`${run}/summary.json`),
    await Deno.readTextFile(`${run}/metrics.jsonl`),
  ];
  for (const text of texts) {
    const accuracies = [...text.matchAll(/"\w*[aA]ccuracy": ?([-\d.e]+)/g)].map((m) => m[1]);
    assert.ok(accuracies.length > 0, text);
    for (const a of accuracies) {
      assert.ok(a.replace(/^0\.0*|[.-]|e.*$/g, "").length <= 6, `${a} has more than 6 digits`);
    }
  }
});
