import assert from "node:assert/strict";
import { checkGrads } from "../src/ad/check/check_grads.ts";
import { jvpTransform } from "../src/ad/jvp.ts";
import { RULES } from "../src/ad/table.ts";
import { vjpTransform } from "../src/ad/vjp.ts";
import { UserError } from "../src/errors.ts";
import { emptyGraph, GraphBuilder } from "../src/onnx/builder.ts";
import { floatTensor } from "../src/onnx/tensor.ts";
import type { AttrInput } from "../src/onnx/builder.ts";
import type { Model } from "../src/onnx/types.ts";

function oneOp(op: string, attrs: Record<string, AttrInput> = {}, inputs = ["x", "w"]): Model {
  const g = emptyGraph("t");
  const b = new GraphBuilder(g);
  g.inputs.push({ name: "x", dtype: "float32", shape: [2, 3] });
  g.initializers.set("w", floatTensor([2, 3], [1, 2, 3, 4, 5, 6]));
  b.node(op, inputs, attrs, { outputs: ["y"], name: "my_node" });
  g.outputs.push({ name: "y", dtype: "float32", shape: [2, 3] });
  return { irVersion: 8, opsets: { "": 18 }, producerName: "t", graph: g };
}

function rejects(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${e}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${p}" missing from: ${e.message}`);
    return true;
  });
}

Deno.test("an op without a rule fails at transform time naming the op and the node", () => {
  for (const transform of [jvpTransform, vjpTransform]) {
    rejects(() => transform(oneOp("LSTM"), { wrt: ["w"] }), "LSTM", "my_node", "not supported");
  }
});

Deno.test("an attribute a rule does not handle fails naming the op, node and attribute", () => {
  rejects(
    () => jvpTransform(oneOp("Add", { fancy: 1 }), { wrt: ["w"] }),
    "Add",
    "my_node",
    "fancy",
  );
  rejects(
    () =>
      vjpTransform(oneOp("BatchNormalization", { training_mode: 1 }, ["x", "w", "w", "w", "w"]), {
        wrt: ["w"],
      }),
    "BatchNormalization",
    "my_node",
    "training_mode",
  );
  rejects(
    () => jvpTransform(oneOp("Gelu", { approximate: "quadratic" }, ["x"]), { wrt: ["x"] }),
    "Gelu",
    "my_node",
    "approximate",
  );
});

Deno.test("wrt names that are missing or not float are errors naming them", () => {
  rejects(() => jvpTransform(oneOp("Add"), { wrt: ["nope"] }), "nope");
  rejects(() => jvpTransform(oneOp("Add"), { wrt: [] }), "wrt");
});

Deno.test("outputs that depend on no wrt tensor get zero tangents and gradients", async () => {
  for (const opset of [7, 18]) {
    const model = { ...oneOp("Mul", {}, ["x", "x"]), opsets: { "": opset } };
    const report = await checkGrads(model, { wrt: ["w"], inputShapes: { x: [2, 3] } });
    assert.ok(report.ok, `opset ${opset}`);
    assert.equal(report.rows.length, 1);
  }
});

Deno.test("the gradient checker catches a wrong rule", async () => {
  // Give Tanh the sigmoid derivative y(1 − y): close in shape, wrong in value.
  const tanh = RULES.Tanh;
  RULES.Tanh = { ...tanh, jvp: RULES.Sigmoid.jvp, vjp: RULES.Sigmoid.vjp };
  try {
    const report = await checkGrads(oneOp("Tanh", {}, ["w"]), { wrt: ["w"] });
    assert.equal(report.ok, false);
  } finally {
    RULES.Tanh = tanh;
  }
  assert.ok((await checkGrads(oneOp("Tanh", {}, ["w"]), { wrt: ["w"] })).ok);
});
