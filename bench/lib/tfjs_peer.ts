/**
 * The JavaScript peer: the same models in TensorFlow.js with its WASM backend (one thread,
 * like each fwdgrad worker), loaded with fwdgrad's initial weights so both compute the same
 * function. A step is what a TF.js user writes for backprop: tf.variableGrads of the loss,
 * with every gradient read back into JavaScript (dataSync), as fwdgrad's step returns its
 * gradient as a Float32Array.
 */
import * as tf from "@tensorflow/tfjs";
import { setThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { Model } from "../../src/onnx/types.ts";
import type { Fixture } from "./fixtures.ts";

let ready: Promise<void> | undefined;

/** Selects the WASM backend with one thread (SIMD when the CPU has it). */
export function initTfjs(): Promise<void> {
  ready ??= (async () => {
    setWasmPaths(new URL("./", import.meta.resolve("@tensorflow/tfjs-backend-wasm")).pathname);
    setThreadsCount(1);
    if (!(await tf.setBackend("wasm"))) {
      throw new Error("TensorFlow.js: the wasm backend did not start");
    }
    await tf.ready();
  })();
  return ready;
}

export function tfjsVersion(): string {
  return tf.version.tfjs;
}

function param(model: Model, name: string) {
  const t = model.graph.initializers.get(name);
  if (!t) throw new Error(`no parameter ${name}`);
  return { dims: t.dims, data: t.data as Float32Array };
}

/** Ours: W [out, in]; TF.js dense: kernel [in, out]. `rowOf` remaps input features. */
function denseKernel(model: Model, layer: string, rowOf?: (i: number) => number): tf.Variable {
  const { dims: [out, inp], data } = param(model, `${layer}.weight`);
  const k = new Float32Array(inp * out);
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < inp; i++) k[(rowOf ? rowOf(i) : i) * out + o] = data[o * inp + i];
  }
  return tf.variable(tf.tensor2d(k, [inp, out]), true, `${layer}.weight`);
}

function bias(model: Model, layer: string): tf.Variable {
  const { data } = param(model, `${layer}.bias`);
  return tf.variable(tf.tensor1d(Float32Array.from(data)), true, `${layer}.bias`);
}

/** Ours: [out, in, kh, kw]; TF.js conv2d filter: [kh, kw, in, out]. */
function convFilter(model: Model, layer: string): tf.Variable {
  const { dims: [o, c, kh, kw], data } = param(model, `${layer}.weight`);
  const k = new Float32Array(o * c * kh * kw);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < c; b++) {
      for (let y = 0; y < kh; y++) {
        for (let x = 0; x < kw; x++) {
          k[((y * kw + x) * c + b) * o + a] = data[((a * c + b) * kh + y) * kw + x];
        }
      }
    }
  }
  return tf.variable(tf.tensor4d(k, [kh, kw, c, o]), true, `${layer}.weight`);
}

export interface TfjsModel {
  /** Loss of the fixture's batch. */
  loss(): number;
  /** One backprop step: loss and every gradient read back; returns the gradients by our names. */
  step(): { loss: number; grads: Record<string, Float32Array> };
  /** Gradients laid out the same in both (biases) or converted here: the agreement check. */
  comparable: string[];
  /** A TF.js gradient of a `comparable` parameter in fwdgrad's layout. */
  toOurs(name: string, g: Float32Array): Float32Array;
  dispose(): void;
}

function denseLayers(model: Model): string[] {
  const out: string[] = [];
  for (let i = 1; model.graph.initializers.has(`dense${i}.weight`); i++) out.push(`dense${i}`);
  return out;
}

function convLayers(model: Model): string[] {
  const out: string[] = [];
  for (let i = 1; model.graph.initializers.has(`conv${i}.weight`); i++) out.push(`conv${i}`);
  return out;
}

/**
 * paper-mlp (dense stack with ReLU) or paper-cnn (conv 3×3 "same" + ReLU, 2×2 max-pool after
 * every `poolEvery`-th conv, flatten, dense stack) from fwdgrad's initial weights.
 */
export function tfjsModel(f: Fixture, poolEvery = 2): TfjsModel {
  const convs = convLayers(f.model);
  const denses = denseLayers(f.model);
  const [C, H, W] = f.featureShape.length === 3 ? f.featureShape : [1, 1, f.featureShape[0]];
  // Flatten order: ours is [c, h, w] (NCHW), TF.js's is [h, w, c] (NHWC).
  let [c, h, w] = [C, H, W];
  convs.forEach((_, i) => {
    c = f.model.graph.initializers.get(`${convs[i]}.weight`)!.dims[0];
    if ((i + 1) % poolEvery === 0) [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
  });
  const remap = convs.length > 0
    ? (i: number) => {
      const ch = Math.floor(i / (h * w));
      const rest = i % (h * w);
      return rest * c + ch;
    }
    : undefined;
  const vars: Record<string, tf.Variable> = {};
  for (const l of convs) {
    vars[`${l}.weight`] = convFilter(f.model, l);
    vars[`${l}.bias`] = bias(f.model, l);
  }
  denses.forEach((l, i) => {
    vars[`${l}.weight`] = denseKernel(f.model, l, i === 0 ? remap : undefined);
    vars[`${l}.bias`] = bias(f.model, l);
  });
  const B = f.batch.count;
  const x = convs.length > 0
    ? tf.tensor4d(f.batch.x, [B, C, H, W]).transpose([0, 2, 3, 1]) // NCHW → NHWC
    : tf.tensor2d(f.batch.x, [B, C * H * W]);
  const labels = tf.tensor2d(f.batch.labels, [B, f.classes]);
  const lossFn = (): tf.Scalar => {
    let y: tf.Tensor = x;
    convs.forEach((l, i) => {
      y = tf.relu(
        tf.add(
          tf.conv2d(y as tf.Tensor4D, vars[`${l}.weight`] as tf.Tensor4D, 1, "same"),
          vars[`${l}.bias`],
        ),
      );
      if ((i + 1) % poolEvery === 0) y = tf.maxPool(y as tf.Tensor4D, 2, 2, "valid");
    });
    if (convs.length > 0) y = tf.reshape(y, [B, -1]);
    denses.forEach((l, i) => {
      y = tf.add(
        tf.matMul(y as tf.Tensor2D, vars[`${l}.weight`] as tf.Tensor2D),
        vars[`${l}.bias`],
      );
      if (i < denses.length - 1) y = tf.relu(y);
    });
    return tf.losses.softmaxCrossEntropy(labels, y as tf.Tensor2D) as tf.Scalar;
  };
  const varList = Object.values(vars);
  return {
    loss: () => {
      const l = tf.tidy(lossFn);
      const v = l.dataSync()[0];
      l.dispose();
      return v;
    },
    step: () => {
      const { value, grads } = tf.variableGrads(lossFn, varList);
      const out: Record<string, Float32Array> = {};
      for (const [name, g] of Object.entries(grads)) out[name] = g.dataSync() as Float32Array;
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return { loss, grads: out };
    },
    comparable: [...convs, ...denses].map((l) => `${l}.bias`).concat(
      `${denses[denses.length - 1]}.weight`,
    ),
    toOurs: (name, g) => {
      const t = f.model.graph.initializers.get(name)!;
      if (t.dims.length !== 2) return g;
      const [out, inp] = t.dims; // dense kernel: TF.js [in, out] → ours [out, in]
      const r = new Float32Array(g.length);
      for (let o = 0; o < out; o++) for (let i = 0; i < inp; i++) r[o * inp + i] = g[i * out + o];
      return r;
    },
    dispose: () => tf.dispose([...varList, x, labels]),
  };
}
