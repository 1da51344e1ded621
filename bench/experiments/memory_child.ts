/**
 * Child of the memory experiment, one per point, so each peak is its own process's:
 *   deno run -A bench/experiments/memory_child.ts <depth> <width> <batch> <kind>
 * kind: forward | forward-gradient | forward-gradient-interleaved | backprop
 * Builds an MLP (`depth` hidden layers of `width`, ReLU, input `width`, 10 classes), creates
 * only the session its kind needs, takes a few steps on synthetic data, and prints one JSON
 * line: RSS after setup, peak RSS during the steps (VmHWM after resetting it), and
 * Deno.memoryUsage(). The parent also reads the whole process's peak from /usr/bin/time -v.
 */
import { jvpTransform } from "../../src/ad/jvp.ts";
import { vjpTransform } from "../../src/ad/vjp.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import { trainableParameters } from "../../src/onnx/models/parameters.ts";
import { createModel } from "../../src/onnx/models/registry.ts";
import { Session } from "../../src/onnx/session.ts";
import { BackpropEngine } from "../../src/engine/backprop_engine.ts";
import { ForwardEngine } from "../../src/engine/forward_engine.ts";
import { lossOnly, parametersAsInputs } from "../../src/model/graphs.ts";
import { paramLayout, paramViews, sharedParams } from "../../src/model/params.ts";
import { interleaveTangentNodes } from "../lib/reorder.ts";

const [depth, width, batch] = Deno.args.slice(0, 3).map(Number);
const kind = Deno.args[3];
const STEPS = 3;

function status(field: string): number {
  const m = Deno.readTextFileSync("/proc/self/status").match(
    new RegExp(`^${field}:\\s*(\\d+) kB`, "m"),
  );
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0); false where the kernel refuses. */
function resetPeak(): boolean {
  try {
    Deno.writeTextFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

const model = createModel("mlp", {
  inputShape: [width],
  classes: 10,
  seed: 0,
  hidden: Array(depth).fill(width),
});
const wrt = trainableParameters(model).map((p) => p.name);
const layout = paramLayout(model, wrt);
const params = sharedParams(model, layout);
const x = new Float32Array(batch * width);
for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
const labels = new Float32Array(batch * 10);
for (let i = 0; i < batch; i++) labels[i * 10 + (i % 10)] = 1;
const common = { layout, params, featureShape: [width], classes: 10 };

let step: (i: number) => Promise<unknown>;
let release: () => Promise<void>;
const f = lossOnly(model);
if (kind === "forward") {
  const s = await Session.create(encodeModel(parametersAsInputs(f, wrt)));
  step = () =>
    s.run({
      ...paramViews(params, layout),
      x: { dtype: "float32", dims: [batch, width], data: x },
      labels: { dtype: "float32", dims: [batch, 10], data: labels },
    });
  release = () => s.release();
} else if (kind === "forward-gradient" || kind === "forward-gradient-interleaved") {
  const jvp = jvpTransform(f, { wrt, tangents: 1 });
  const e = await ForwardEngine.create({
    ...common,
    jvp: encodeModel(
      kind === "forward-gradient" ? jvp : interleaveTangentNodes(jvp, f.graph.nodes.length),
    ),
    K: 1,
    seed: 1,
    stream: 0,
    dist: "normal",
  });
  step = (i) => e.step({ step: i, x, labels, count: batch, wantEstimate: true });
  release = () => e.release();
} else if (kind === "backprop") {
  const e = await BackpropEngine.create({ ...common, vjp: encodeModel(vjpTransform(f, { wrt })) });
  step = () => e.step({ x, labels, count: batch });
  release = () => e.release();
} else {
  throw new Error(`unknown kind ${kind}`);
}

const afterSetup = status("VmRSS");
const reset = resetPeak();
const t0 = performance.now();
for (let i = 0; i < STEPS; i++) await step(i);
const stepMs = (performance.now() - t0) / STEPS;
const peakDuringSteps = reset ? status("VmHWM") : NaN;
const usage = Deno.memoryUsage();
await release();
console.log(JSON.stringify({
  depth,
  width,
  batch,
  kind,
  parameters: layout.total,
  rssAfterSetup: afterSetup,
  peakDuringSteps,
  peakReset: reset,
  vmHWM: status("VmHWM"),
  heapUsed: usage.heapUsed,
  external: usage.external,
  stepMs,
}));
