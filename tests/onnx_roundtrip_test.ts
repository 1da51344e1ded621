import assert from "node:assert/strict";
import { UserError } from "../src/errors.ts";
import { decodeModel } from "../src/onnx/decode.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { mulberry32 } from "../src/onnx/models/init.ts";
import { withLoss } from "../src/onnx/models/loss.ts";
import { createModel, MODEL_NAMES, type ModelOptions } from "../src/onnx/models/registry.ts";
import { onnx } from "../src/onnx/proto.ts";
import type { Model } from "../src/onnx/types.ts";

const IMAGES: ModelOptions = { inputShape: [1, 28, 28], classes: 10, seed: 5 };

function models(): [string, Model][] {
  const out: [string, Model][] = [];
  for (const name of MODEL_NAMES) {
    const model = createModel(name, IMAGES);
    out.push([name, model], [`${name} with its loss`, withLoss(model)]);
  }
  const leaky = createModel("mlp", { ...IMAGES, activation: "leaky_relu" });
  out.push(["mlp with leaky_relu (a float attribute)", leaky]);
  out.push(["mlp with elu", createModel("mlp", { ...IMAGES, activation: "elu" })]);
  return out;
}

Deno.test("decoding an encoded built-in model gives the same IR and the same bytes", () => {
  for (const [label, model] of models()) {
    const bytes = encodeModel(model);
    const decoded = decodeModel(bytes, `${label}.onnx`);
    assert.deepStrictEqual(decoded, model, label);
    assert.deepStrictEqual(encodeModel(decoded), bytes, label);
  }
});

/** Asserts decodeModel throws a UserError whose message names the source. */
function assertRejected(bytes: Uint8Array, source: string, label: string): void {
  assert.throws(
    () => decodeModel(bytes, source),
    (e: unknown) => e instanceof UserError && e.message.includes(source),
    label,
  );
}

Deno.test("decodeModel rejects an empty file with a UserError naming it", () => {
  assertRejected(new Uint8Array(), "empty.onnx", "empty");
});

Deno.test("decodeModel rejects random bytes with a UserError naming the source", () => {
  const next = mulberry32(42);
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from({ length: 1 + (next() % 400) }, () => next() & 255);
    assertRejected(bytes, "noise.onnx", `random bytes #${i}`);
  }
});

/** Byte offset where the graph field ends: opset_import (field 8) is written after it. */
function graphEnd(bytes: Uint8Array): number {
  const proto = onnx.ModelProto.decode(bytes);
  proto.opsetImport = [];
  return onnx.ModelProto.encode(proto).finish().length;
}

Deno.test("decodeModel rejects a model truncated anywhere before its graph ends", () => {
  const bytes = encodeModel(createModel("mlp", { inputShape: [4], classes: 3, seed: 1 }));
  for (let cut = 0; cut < graphEnd(bytes); cut++) {
    assertRejected(bytes.subarray(0, cut), "cut.onnx", `truncated to ${cut} bytes`);
  }
});

Deno.test({
  name: "decodeModel rejects a model truncated just before its opset_import",
  fn() {
    const bytes = encodeModel(createModel("mlp", { inputShape: [4], classes: 3, seed: 1 }));
    assertRejected(bytes.subarray(0, graphEnd(bytes)), "cut.onnx", "no opset_import");
  },
});

Deno.test({
  name: "decodeModel rejects raw tensor data whose length is not a whole number of elements",
  fn() {
    const proto = onnx.ModelProto.decode(encodeModel(createModel("logreg", IMAGES)));
    const t = proto.graph!.initializer![0];
    t.dims = [1];
    t.rawData = new Uint8Array(5);
    assertRejected(onnx.ModelProto.encode(proto).finish(), "odd.onnx", "5 raw bytes of float32");
  },
});
