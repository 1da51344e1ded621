import assert from "node:assert/strict";
import { checkGrads } from "../src/ad/check/check_grads.ts";
import { withLoss } from "../src/onnx/models/loss.ts";
import type { Model } from "../src/onnx/types.ts";
import { modelSourceFrom } from "../src/model/model_source.ts";
import { torchCnn, torchMlp, torchZoo, writeTemp } from "./byo_fixtures.ts";

// check-grads on PyTorch-style files, prepared as training prepares them (folded, x → logits,
// loss appended): JVP against float64 finite differences, VJP against JVP, every parameter.
const CASES: [string, () => Model, number[]][] = [
  ["MLP (Gemm transB=1, BatchNorm1d, ReLU, Dropout), opset 11", () => torchMlp({ opset: 11 }), [4]],
  [
    "MLP with GELU as Erf and Constant nodes, opset 17",
    () => torchMlp({ opset: 17, activation: "gelu" }),
    [4],
  ],
  [
    "MLP whose BatchNorm statistics the exporter merged (Identity)",
    () => torchMlp({ opset: 13, merged: true }),
    [4],
  ],
  ["CNN (Conv, BatchNorm, MaxPool, dynamic view(N, -1)), opset 11", () => torchCnn({ opset: 11 }), [
    1,
    28,
    28,
  ]],
  ["CNN, opset 17", () => torchCnn({ opset: 17 }), [1, 28, 28]],
  ["CNN with Flatten, opset 13", () => torchCnn({ opset: 13, flatten: "op" }), [1, 28, 28]],
  ["op zoo (Squeeze/Unsqueeze attributes, Softmax axis 1), opset 11", () => torchZoo(11), [
    3,
    6,
    6,
  ]],
  ["op zoo (Squeeze/Unsqueeze inputs), opset 17", () => torchZoo(17), [3, 6, 6]],
  ["op zoo with the Gelu op, opset 20", () => torchZoo(20), [3, 6, 6]],
];

for (const [label, build, featureShape] of CASES) {
  Deno.test(`check-grads passes on a PyTorch-style ${label}`, async () => {
    const source = modelSourceFrom(build(), { data: { featureShape } }, label);
    const report = await checkGrads(withLoss(source.model), {
      wrt: source.trainable,
      tangents: 2,
      inputShapes: { x: [3, ...featureShape], labels: [3, source.classes] },
      keepSymbolic: true,
    });
    assert.equal(report.rows.length, 2 * source.trainable.length);
    for (const r of report.rows) {
      assert.ok(
        r.jvpVsFd <= report.tol && r.vjpVsJvp <= report.tol,
        `${r.output} wrt ${r.wrt}: ${r.jvpVsFd}, ${r.vjpVsJvp}`,
      );
    }
  });
}

Deno.test("deno task check-grads takes a model file and exits 0 when every derivative passes", async () => {
  const path = await writeTemp(torchCnn({ opset: 17 }), "cnn.onnx");
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "src/cli/check_grads.ts",
      path,
      "--freeze",
      "conv*",
      "--input-shape",
      "input.1=2x1x28x28",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr) + stdout);
  assert.match(stdout, /inputs x=\[2,1,28,28\]/);
  assert.match(stdout, /input "input\.1" takes the data and output "output" is the logits/);
  assert.match(stdout, /fc\.2\.weight/);
  assert.doesNotMatch(stdout, /conv1\.weight/);
});
