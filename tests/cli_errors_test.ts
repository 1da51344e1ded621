import assert from "node:assert/strict";
import { runCli } from "./reliability_helpers.ts";

const dir = await Deno.makeTempDir({ prefix: "fwdgrad-cli-" });
await Deno.writeTextFile(`${dir}/nolabel.csv`, "a,b\n1,2\n3,4\n");
await Deno.writeTextFile(`${dir}/notonnx.onnx`, "this is not a model");

const CASES: [string, string, string[], RegExp][] = [
  ["train", "src/cli/train.ts", ["--bogus"], /unknown flag --bogus/],
  ["train", "src/cli/train.ts", ["--lr", "abc"], /--lr: expected a number/],
  ["train", "src/cli/train.ts", ["--method", "sideways"], /--method: expected one of/],
  ["train", "src/cli/train.ts", ["--model", "resnet"], /--model/],
  ["train", "src/cli/train.ts", ["--workers", "0"], /--workers/],
  ["train", "src/cli/train.ts", ["--dataset", "nosuchdata"], /nosuchdata/],
  ["train", "src/cli/train.ts", ["--dataset", `${dir}/nolabel.csv`], /nolabel\.csv.*label|species/],
  [
    "check-grads",
    "src/cli/check_grads.ts",
    [`${dir}/notonnx.onnx`],
    /notonnx\.onnx: not a valid ONNX ModelProto/,
  ],
  ["check-grads", "src/cli/check_grads.ts", [`${dir}/missing.onnx`], /missing\.onnx: cannot read/],
  ["predict", "src/cli/predict.ts", [`${dir}/notonnx.onnx`], /notonnx\.onnx/],
];

for (const [tool, script, args, pattern] of CASES) {
  Deno.test(`${tool} ${args.join(" ")} fails with one clear line and exit code 2`, async () => {
    const { code, stderr } = await runCli(script, args);
    assert.equal(code, 2, stderr);
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
    assert.match(lines[0], /^error: /);
    assert.match(lines[0], pattern);
    assert.doesNotMatch(stderr, /\n\s+at /, "no stack trace");
  });
}

Deno.test("train --help prints the flags and exits 0", async () => {
  const { code, stdout } = await runCli("src/cli/train.ts", ["--help"]);
  assert.equal(code, 0);
  for (const flag of ["--model", "--tangents", "--tangent-mode", "--target-loss", "--out"]) {
    assert.ok(stdout.includes(flag), flag);
  }
});
