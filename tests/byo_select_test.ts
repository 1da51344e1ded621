import assert from "node:assert/strict";
import { UserError } from "../src/errors.ts";
import { globToRegExp, selectParameters } from "../src/model/param_select.ts";

const NAMES = [
  "conv1.weight",
  "conv1.bias",
  "bn1.weight",
  "bn1.bias",
  "bn1.running_mean",
  "bn1.running_var",
  "layer1.0.conv1.weight",
  "layer1.0.bn1.weight",
  "fc.0.weight",
  "fc.0.bias",
  "fc.2.weight",
  "fc.2.bias",
  "onnx::MatMul_42",
];

const matching = (pattern: string) => NAMES.filter((n) => globToRegExp(pattern).test(n));

Deno.test("globs: * spans dots, ? is one character, [..] a set, and a module name selects its parameters", () => {
  assert.deepEqual(matching("*.bias"), ["conv1.bias", "bn1.bias", "fc.0.bias", "fc.2.bias"]);
  assert.deepEqual(matching("**.bias"), matching("*.bias"));
  assert.deepEqual(matching("fc.?.weight"), ["fc.0.weight", "fc.2.weight"]);
  assert.deepEqual(matching("fc.[!0].*"), ["fc.2.weight", "fc.2.bias"]);
  assert.deepEqual(matching("conv1"), ["conv1.weight", "conv1.bias"]);
  assert.deepEqual(matching("layer1"), ["layer1.0.conv1.weight", "layer1.0.bn1.weight"]);
  assert.deepEqual(matching("layer1.*"), matching("layer1"));
  assert.deepEqual(matching("onnx::MatMul_42"), ["onnx::MatMul_42"]);
  // Whole names only: "conv" is not a module, and "bias" is not a prefix.
  assert.deepEqual(matching("conv"), []);
  assert.deepEqual(matching("bias"), []);
});

Deno.test("--train picks what trains, --freeze takes out; buffers stay frozen unless --train names them", () => {
  const buffers = new Set(["bn1.running_mean", "bn1.running_var"]);
  const all = selectParameters(NAMES, { frozenByDefault: buffers });
  assert.deepEqual(all.frozen, ["bn1.running_mean", "bn1.running_var"]);
  assert.equal(all.trainable.length, NAMES.length - 2);

  const head = selectParameters(NAMES, { train: ["fc"], frozenByDefault: buffers });
  assert.deepEqual(head.trainable, ["fc.0.weight", "fc.0.bias", "fc.2.weight", "fc.2.bias"]);

  const frozen = selectParameters(NAMES, { freeze: ["conv1", "*.bias"], frozenByDefault: buffers });
  assert.ok(!frozen.trainable.some((n) => n.startsWith("conv1.") || n.endsWith(".bias")));
  assert.ok(frozen.trainable.includes("fc.0.weight"));

  const stats = selectParameters(NAMES, { train: ["bn1"], frozenByDefault: buffers });
  assert.deepEqual(stats.trainable, [
    "bn1.weight",
    "bn1.bias",
    "bn1.running_mean",
    "bn1.running_var",
  ]);
});

Deno.test("a pattern that matches nothing, or freezing everything, is a one-line UserError", () => {
  assert.throws(
    () => selectParameters(NAMES, { freeze: ["convv1"] }),
    (e) => e instanceof UserError && /--freeze "convv1": matches no parameter/.test(e.message),
  );
  assert.throws(
    () => selectParameters(NAMES, { train: ["fc"], freeze: ["fc"] }),
    (e) => e instanceof UserError && /no trainable parameter is left/.test(e.message),
  );
});
