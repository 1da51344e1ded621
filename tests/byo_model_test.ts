import assert from "node:assert/strict";
import { normals } from "../src/ad/check/check_grads.ts";
import { UserError } from "../src/errors.ts";
import { decodeModel } from "../src/onnx/decode.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { Session } from "../src/onnx/session.ts";
import type { Model, Tensor } from "../src/onnx/types.ts";
import { loadModelSource, modelSourceFrom } from "../src/model/model_source.ts";
import { paramLayout, sharedParams } from "../src/model/params.ts";
import { torchCnn, torchMlp, torchZoo, writeTemp } from "./byo_fixtures.ts";

const KMNIST = { featureShape: [1, 28, 28], classes: 10, name: "kmnist" };
const PENGUINS = { featureShape: [4], classes: 3, name: "penguins" };

function images(n: number, shape = [1, 28, 28]): Tensor {
  const dims = [n, ...shape];
  return { dtype: "float32", dims, data: normals(dims.reduce((a, b) => a * b, 1), 3) };
}

async function run(model: Model, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await Session.create(encodeModel(model));
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/** Asserts a UserError of one line matching `pattern`. */
async function rejectsWith(f: () => unknown, pattern: RegExp) {
  await assert.rejects(async () => await f(), (e: unknown) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e}`);
    assert.ok(!e.message.includes("\n"), `more than one line: ${e.message}`);
    assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("a torch-style file becomes the training form (x → logits) and the file's model is untouched", async () => {
  const file = torchCnn({ opset: 17 });
  const before = encodeModel(file);
  const source = modelSourceFrom(file, { data: KMNIST }, "cnn.onnx");
  const g = source.model.graph;
  assert.deepEqual(g.inputs.map((v) => [v.name, v.shape]), [["x", ["batch_size", 1, 28, 28]]]);
  assert.deepEqual(g.outputs.map((v) => [v.name, v.shape]), [["logits", ["batch_size", 10]]]);
  assert.deepEqual(source.frozen, ["bn1.running_mean", "bn1.running_var"]);
  assert.ok(source.trainable.includes("conv1.weight") && source.trainable.includes("fc.2.bias"));
  assert.deepEqual(encodeModel(file), before);
  // The training form computes what the file computes, at any batch size.
  const x = images(3);
  const a = await run(source.model, { x });
  const b = await run(file, { "input.1": x });
  assert.deepEqual(a.logits.dims, [3, 10]);
  assert.deepEqual(a.logits.data, b.output.data);
});

Deno.test("the exported model is the file's graph with the trained values, loadable in onnxruntime-web", async () => {
  const file = torchCnn({ opset: 11 });
  const source = modelSourceFrom(file, { data: KMNIST, freeze: ["conv1"] }, "cnn.onnx");
  const layout = paramLayout(source.model, source.trainable);
  const params = sharedParams(source.model, layout).map((v) => v * 0.5);
  const exported = decodeModel(encodeModel(source.exportModel(layout, params)));
  assert.deepEqual(exported.graph.inputs.map((v) => v.name), ["input.1"]);
  assert.deepEqual(exported.graph.outputs.map((v) => v.name), ["output"]);
  assert.deepEqual(exported.graph.nodes.map((n) => n.name), file.graph.nodes.map((n) => n.name));
  assert.deepEqual(exported.opsets, file.opsets);
  for (const [name, t] of file.graph.initializers) {
    const got = exported.graph.initializers.get(name)!;
    const trained = source.trainable.includes(name);
    assert.equal(got.data.length, t.data.length);
    if (trained) assert.deepEqual(got.data, (t.data as Float32Array).map((v) => v * 0.5), name);
    else assert.deepEqual(got.data, t.data, `${name} (frozen or constant) changed`);
  }
  const out = await run(exported, { "input.1": images(2) });
  assert.deepEqual(out.output.dims, [2, 10]);
});

Deno.test("an output computed by Softmax is trained as logits, with a note saying so", () => {
  const source = modelSourceFrom(torchZoo(17), { data: { featureShape: [3, 6, 6] } }, "zoo.onnx");
  assert.ok(
    source.notes.some((n) => /output "probs" comes from Softmax/.test(n)),
    source.notes.join("; "),
  );
  assert.deepEqual(source.model.graph.outputs.map((o) => [o.name, o.shape]), [["logits", [
    "N",
    5,
  ]]]);
});

Deno.test("statistics the exporter merged into a BatchNorm's weight and bias are separate buffers again", () => {
  const file = torchMlp({ opset: 13, merged: true });
  assert.deepEqual(file.graph.nodes.slice(0, 2).map((n) => n.opType), ["Identity", "Identity"]);
  const source = modelSourceFrom(file, { data: PENGUINS }, "merged.onnx");
  assert.deepEqual(source.frozen, ["fc.1.running_var", "fc.1.running_mean"]);
  assert.ok(source.trainable.includes("fc.1.weight"));
  const layout = paramLayout(source.model, source.trainable);
  const params = sharedParams(source.model, layout).map((v) => v + 1);
  const exported = source.exportModel(layout, params);
  assert.ok(!exported.graph.nodes.some((n) => n.opType === "Identity"));
  assert.deepEqual(
    exported.graph.initializers.get("fc.1.running_var")!.data,
    file.graph.initializers.get("fc.1.weight")!.data,
  );
  assert.notDeepEqual(
    exported.graph.initializers.get("fc.1.weight")!.data,
    file.graph.initializers.get("fc.1.weight")!.data,
  );
});

Deno.test("examples are reshaped to the model's input when only the element count matches", async () => {
  const file = torchMlp({ opset: 17, features: 784, classes: 10 });
  const source = modelSourceFrom(file, { data: KMNIST }, "mlp784.onnx");
  assert.ok(
    source.notes.some((n) => /\[1,28,28\] are reshaped to the model's input \[784\]/.test(n)),
    source.notes.join("; "),
  );
  const x = images(2);
  const a = await run(source.model, { x });
  const b = await run(file, { input: { ...x, dims: [2, 784] } });
  assert.deepEqual(a.logits.data, b.logits.data);
});

Deno.test("a model exported with a fixed batch size (constant Reshape target) trains at any batch size", async () => {
  const file = torchCnn({ opset: 13, batch: 1, flatten: "static" });
  const source = modelSourceFrom(file, { data: KMNIST }, "fixed.onnx");
  assert.ok(
    source.notes.some((n) => /fixed batch size of 1.*1 Reshape targets adjusted/.test(n)),
    source.notes.join("; "),
  );
  const out = await run(source.model, { x: images(4) });
  assert.deepEqual(out.logits.dims, [4, 10]);
  const one = await run(file, {
    "input.1": { ...images(4), dims: [1, 1, 28, 28], data: images(4).data.subarray(0, 784) },
  });
  assert.deepEqual(out.logits.data.subarray(0, 10), one.output.data);
});

Deno.test("--input and --output choose among several; initializers listed as inputs are parameters", () => {
  const file = torchMlp({ opset: 11, output: "scores" });
  const g = file.graph;
  // keep_initializers_as_inputs=True lists every parameter as a graph input too.
  for (const [name, t] of g.initializers) g.inputs.push({ name, dtype: t.dtype, shape: t.dims });
  g.outputs.push({ name: g.nodes[0].outputs[0], dtype: "float32", shape: ["batch", 16] });
  assert.throws(
    () => modelSourceFrom(file, { data: PENGUINS }, "two.onnx"),
    /choose the logits with --output/,
  );
  const source = modelSourceFrom(
    file,
    { data: PENGUINS, output: "scores", input: "input" },
    "two.onnx",
  );
  assert.deepEqual(source.model.graph.inputs.map((v) => v.name), ["x"]);
  assert.ok(source.trainable.includes("fc.0.weight"));
  assert.throws(
    () => modelSourceFrom(file, { data: PENGUINS, output: "nope" }, "two.onnx"),
    /two\.onnx: --output "nope": the model has no such output \(outputs: scores, /,
  );
});

Deno.test("a file using fwdgrad's own names (x, labels, loss) keeps them in the export", async () => {
  const file = torchMlp({ opset: 17, input: "x", output: "loss" });
  file.graph.nodes[1].outputs[0] = "labels";
  file.graph.nodes[2].inputs[0] = "labels";
  const source = modelSourceFrom(file, { data: PENGUINS }, "names.onnx");
  assert.deepEqual(source.model.graph.outputs.map((v) => v.name), ["logits"]);
  const layout = paramLayout(source.model, source.trainable);
  const exported = source.exportModel(layout, sharedParams(source.model, layout));
  assert.deepEqual(encodeModel(exported), encodeModel(file));
  const x: Tensor = { dtype: "float32", dims: [2, 4], data: normals(8, 1) };
  assert.deepEqual(
    (await run(source.model, { x })).logits.data,
    (await run(file, { x })).loss.data,
  );
});

Deno.test("bad files fail with one line naming the file and the problem", async () => {
  const dir = await Deno.makeTempDir({ prefix: "fwdgrad-byo-" });
  await Deno.writeTextFile(`${dir}/notes.onnx`, "not a model at all");
  await rejectsWith(
    () => loadModelSource(`${dir}/notes.onnx`, { data: KMNIST }),
    /notes\.onnx: not a valid ONNX ModelProto/,
  );
  await rejectsWith(() => loadModelSource(`${dir}/missing.onnx`), /missing\.onnx: cannot read/);

  const lstm = torchMlp({ opset: 17 });
  lstm.graph.nodes.splice(1, 0, {
    name: "/lstm/LSTM",
    opType: "LSTM",
    domain: "",
    inputs: [lstm.graph.nodes[0].outputs[0]],
    outputs: ["/lstm/LSTM_output_0"],
    attrs: { hidden_size: { type: "int", value: 16 } },
  });
  lstm.graph.nodes[2].inputs[0] = "/lstm/LSTM_output_0";
  const lstmPath = await writeTemp(lstm, "lstm.onnx");
  await rejectsWith(
    () => loadModelSource(lstmPath, { data: PENGUINS }),
    /lstm\.onnx: LSTM node "\/lstm\/LSTM": op LSTM is not supported/,
  );

  const cnnPath = await writeTemp(torchCnn({ opset: 17 }), "cnn.onnx");
  await rejectsWith(
    () => loadModelSource(cnnPath, { data: PENGUINS }),
    /cnn\.onnx: input "input\.1" expects examples of shape \[1,28,28\], but penguins gives \[4\]/,
  );
  const tenClasses = await writeTemp(torchMlp({ opset: 17, classes: 10 }), "ten.onnx");
  await rejectsWith(
    () => loadModelSource(tenClasses, { data: PENGUINS }),
    /ten\.onnx: output "logits" has 10 classes \[batch,10\], but penguins has 3/,
  );

  // Logits must be [batch, classes]: here the Flatten before the head is missing.
  const noFlatten = torchCnn({ opset: 17, flatten: "op" });
  noFlatten.graph.outputs[0] = { name: "/pool_1/MaxPool_output_0", dtype: "float32" };
  await rejectsWith(
    () => modelSourceFrom(noFlatten, { data: KMNIST }, "conv.onnx"),
    /conv\.onnx: output "\/pool_1\/MaxPool_output_0" has shape \[batch_size,8,7,7\]; .*\[batch, classes\]/,
  );
  // Dropout exported in training mode would drop at random inside the derivative graphs.
  const training = torchMlp({ opset: 17 });
  const mode = training.graph.nodes.find((n) => n.opType === "Dropout")!.inputs[2];
  const modeNode = training.graph.nodes.find((n) => n.outputs.includes(mode))!;
  modeNode.attrs.value = {
    type: "tensor",
    value: { dtype: "bool", dims: [], data: Uint8Array.of(1) },
  };
  await rejectsWith(
    () => modelSourceFrom(training, { data: PENGUINS }, "train_mode.onnx"),
    /train_mode\.onnx: Dropout node "\/fc\/fc\.3\/Dropout": training_mode is true; .*model\.eval\(\)/,
  );
  await rejectsWith(
    () => loadModelSource(cnnPath, { data: KMNIST, input: "image" }),
    /cnn\.onnx: --input "image": the model has no such input \(inputs: input\.1\)/,
  );
});
