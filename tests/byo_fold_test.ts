import assert from "node:assert/strict";
import { normals } from "../src/ad/check/check_grads.ts";
import { evaluate } from "../src/ad/host/evaluate.ts";
import { numbers } from "../src/ad/host/ndarray.ts";
import { foldConstants } from "../src/ad/fold.ts";
import { ruleFor } from "../src/ad/table.ts";
import { emptyGraph, GraphBuilder } from "../src/onnx/builder.ts";
import { int64Tensor } from "../src/onnx/tensor.ts";
import type { Model, Tensor } from "../src/onnx/types.ts";
import { torchCnn, torchMlp, torchZoo } from "./byo_fixtures.ts";

const ops = (m: Model) => m.graph.nodes.map((n) => n.opType);

function feed(dims: number[], seed = 7): Tensor {
  return { dtype: "float32", dims, data: normals(dims.reduce((a, b) => a * b, 1), seed) };
}

function assertSameOutputs(a: Model, b: Model, feeds: Record<string, Tensor>) {
  const [ya, yb] = [evaluate(a, feeds), evaluate(b, feeds)];
  for (const o of a.graph.outputs) {
    assert.deepEqual(ya[o.name].dims, yb[o.name].dims, o.name);
    const [p, q] = [numbers(ya[o.name]), numbers(yb[o.name])];
    p.forEach((v, i) =>
      assert.ok(Math.abs(v - q[i]) <= 1e-6 * (1 + Math.abs(v)), `${o.name}[${i}]`)
    );
  }
}

for (const opset of [11, 17]) {
  Deno.test(`opset ${opset}: folding a dynamic-batch view(N, -1) keeps only the batch entry at run time`, () => {
    const model = torchCnn({ opset });
    const { model: folded, folded: count } = foldConstants(model);
    // Constant nodes become initializers; Shape → Gather(0) → Unsqueeze → Concat stay, as
    // the batch size is only known at run time.
    assert.ok(!ops(folded).includes("Constant"));
    assert.ok(count >= 3, `folded ${count}`);
    for (const op of ["Shape", "Gather", "Unsqueeze", "Concat", "Reshape"]) {
      assert.ok(ops(folded).includes(op), `${op} in ${ops(folded)}`);
    }
    assertSameOutputs(model, folded, { "input.1": feed([3, 1, 28, 28]) });
  });

  Deno.test(`opset ${opset}: with a static input shape the whole shape subgraph folds into a constant`, () => {
    const model = torchCnn({ opset });
    const { model: folded } = foldConstants(model, { inputShapes: { "input.1": [2, 1, 28, 28] } });
    for (const op of ["Constant", "Shape", "Gather", "Unsqueeze", "Concat"]) {
      assert.ok(!ops(folded).includes(op), `${op} left in ${ops(folded)}`);
    }
    const reshape = folded.graph.nodes.find((n) => n.opType === "Reshape")!;
    assert.deepEqual(numbers(folded.graph.initializers.get(reshape.inputs[1])!), [2, -1]);
    assertSameOutputs(model, folded, { "input.1": feed([2, 1, 28, 28]) });
  });
}

Deno.test("folding never touches float initializers (the parameters) and keeps their order", () => {
  const model = torchMlp({ opset: 17, activation: "gelu" });
  const { model: folded } = foldConstants(model);
  const before = [...model.graph.initializers.keys()];
  const after = [...folded.graph.initializers.keys()].filter((n) => before.includes(n));
  assert.deepEqual(after, before);
  for (const n of before) {
    assert.equal(folded.graph.initializers.get(n), model.graph.initializers.get(n));
  }
  // The GELU's literals were Constant nodes; now they are initializers read by Div/Add/Mul.
  assert.ok(!ops(folded).includes("Constant"));
  assertSameOutputs(model, folded, { input: feed([5, 4]) });
});

Deno.test("Cast of shapes and int64 arithmetic fold: x.view(N, H*W) with a symbolic N", () => {
  // x [N, 2, 3, 4] → reshape to [N, 24], the product computed from Shape with Casts.
  const g = emptyGraph("view");
  const b = new GraphBuilder(g);
  g.inputs.push({ name: "x", dtype: "float32", shape: ["N", 2, 3, 4] });
  const shape = b.op("Shape", ["x"]);
  const dim = (i: number) => b.op("Gather", [shape, b.constant(int64Tensor([], [i]))], { axis: 0 });
  const asInt = (v: string) => b.op("Cast", [v], { to: 7 });
  const hw = b.op("Mul", [b.op("Mul", [asInt(dim(1)), asInt(dim(2))]), asInt(dim(3))]);
  const n = b.op("Unsqueeze", [dim(0), b.ints([0])]);
  const target = b.op("Concat", [n, b.op("Unsqueeze", [hw, b.ints([0])])], { axis: 0 });
  b.node("Reshape", ["x", target], {}, { outputs: ["y"] });
  g.outputs.push({ name: "y", dtype: "float32" });
  const model: Model = { irVersion: 8, opsets: { "": 17 }, producerName: "test", graph: g };

  const { model: folded, metas } = foldConstants(model);
  assert.deepEqual(metas.get(target)!.dims, ["N", 24]);
  assert.deepEqual(metas.get("y")!.shape, ["N", 24]);
  // Only the batch entry is computed at run time.
  assert.deepEqual(ops(folded).filter((o) => o === "Mul" || o === "Cast"), []);
  assertSameOutputs(model, folded, { x: feed([3, 2, 3, 4]) });
});

Deno.test("Cast and integer Add/Sub/Mul/Div carry known values and symbolic dims in infer", () => {
  const node = (op: string, attrs = {}) => ({
    name: op,
    opType: op,
    domain: "",
    inputs: ["a", "c"],
    outputs: ["y"],
    attrs: Object.fromEntries(
      Object.entries(attrs).map(([k, v]) => [k, { type: "int" as const, value: v as number }]),
    ),
  });
  const sym = { dtype: "int64" as const, shape: [2], dims: ["N", 6] };
  const two = { dtype: "int64" as const, shape: [], value: int64Tensor([], [2]) };
  const infer = (op: string, a: unknown, c: unknown) =>
    ruleFor(op)!.infer(node(op), 17, [a, c] as never)[0];
  assert.deepEqual(infer("Mul", sym, two).dims, ["(N*2)", 12]);
  assert.deepEqual(infer("Div", sym, two).dims, ["(N/2)", 3]);
  assert.deepEqual(infer("Add", sym, { ...two, value: int64Tensor([], [0]) }).dims, ["N", 6]);
  const seven = { dtype: "int64" as const, shape: [1], value: int64Tensor([1], [7]) };
  assert.deepEqual(numbers(infer("Div", seven, two).value!), [3]); // integer division
  assert.deepEqual(numbers(infer("Sub", seven, two).value!), [5]);
  const cast = ruleFor("Cast")!.infer(node("Cast", { to: 7 }), 17, [sym]);
  assert.deepEqual(cast[0].dims, ["N", 6]);
  const castValue = ruleFor("Cast")!.infer(node("Cast", { to: 1 }), 17, [seven]);
  assert.equal(castValue[0].value!.dtype, "float32");
  assert.deepEqual(numbers(castValue[0].value!), [7]);
});

Deno.test("folding drops branches no output reads and keeps a node that is a graph output", () => {
  const model = torchZoo(17);
  const { model: folded } = foldConstants(model);
  assert.deepEqual(folded.graph.outputs.map((o) => o.name), ["probs"]);
  assert.ok(folded.graph.nodes.some((n) => n.outputs.includes("probs")));
  assertSameOutputs(model, folded, { input: feed([2, 3, 6, 6]) });
});
