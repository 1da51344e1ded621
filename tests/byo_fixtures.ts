/**
 * ONNX models built with the IR the way `torch.onnx.export` writes them: PyTorch parameter
 * names (`conv1.weight`, `fc.0.weight`), inputs `input` / `input.1`, node and value names like
 * `/fc/fc.0/Gemm_output_0`, Constant nodes for literals, the dynamic-batch flatten
 * `Shape → Gather → Unsqueeze → Concat → Reshape`, Gemm with transB=1, and the opset 11 and
 * opset 13+ forms of Squeeze/Unsqueeze.
 */
import { float } from "../src/onnx/builder.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { layerInit, uniformTensor } from "../src/onnx/models/init.ts";
import { int64Tensor } from "../src/onnx/tensor.ts";
import type { Attr, Dim, Graph, Model, Node, Tensor } from "../src/onnx/types.ts";

/** A graph under construction with torch-like naming. */
class TorchGraph {
  readonly graph: Graph;
  private count = new Map<string, number>();

  constructor(readonly opset: number, name = "main_graph") {
    this.graph = { name, inputs: [], outputs: [], initializers: new Map(), nodes: [] };
  }

  input(name: string, shape: Dim[]): string {
    this.graph.inputs.push({ name, dtype: "float32", shape });
    return name;
  }

  output(name: string, shape: Dim[]): void {
    this.graph.outputs.push({ name, dtype: "float32", shape });
  }

  param(name: string, t: Tensor): string {
    this.graph.initializers.set(name, t);
    return name;
  }

  /** A node named like `/scope/Op` (numbered when repeated) with outputs `/scope/Op_output_i`. */
  node(
    scope: string,
    op: string,
    inputs: string[],
    attrs: Record<string, Attr> = {},
    options: { outputs?: number; out?: string } = {},
  ): string[] {
    const base = `${scope}/${op}`;
    const k = this.count.get(base) ?? 0;
    this.count.set(base, k + 1);
    const name = k === 0 ? base : `${base}_${k}`;
    const outputs = options.out !== undefined
      ? [options.out]
      : Array.from({ length: options.outputs ?? 1 }, (_, i) => `${name}_output_${i}`);
    const node: Node = { name, opType: op, domain: "", inputs, outputs, attrs };
    this.graph.nodes.push(node);
    return outputs;
  }

  op(scope: string, op: string, inputs: string[], attrs: Record<string, Attr> = {}, out?: string) {
    return this.node(scope, op, inputs, attrs, { out })[0];
  }

  constant(scope: string, t: Tensor): string {
    return this.op(scope, "Constant", [], { value: { type: "tensor", value: t } });
  }

  model(): Model {
    return {
      irVersion: this.opset >= 15 ? 8 : 6,
      opsets: { "": this.opset },
      producerName: "pytorch",
      graph: this.graph,
    };
  }

  // Layers as torch exports them.

  linear(
    scope: string,
    prefix: string,
    x: string,
    inF: number,
    outF: number,
    seed: number,
    out?: string,
  ) {
    const { weight, bias } = layerInit(prefix, [outF, inF], inF, seed);
    const w = this.param(`${prefix}.weight`, weight);
    const b = this.param(`${prefix}.bias`, bias);
    const attrs = { alpha: f(1), beta: f(1), transB: i(1) };
    return this.op(`${scope}/${prefix}`, "Gemm", [x, w, b], attrs, out);
  }

  conv(scope: string, prefix: string, x: string, inC: number, outC: number, seed: number) {
    const { weight, bias } = layerInit(prefix, [outC, inC, 3, 3], inC * 9, seed);
    const w = this.param(`${prefix}.weight`, weight);
    const b = this.param(`${prefix}.bias`, bias);
    return this.op(`${scope}/${prefix}`, "Conv", [x, w, b], {
      dilations: ints([1, 1]),
      group: i(1),
      kernel_shape: ints([3, 3]),
      pads: ints([1, 1, 1, 1]),
      strides: ints([1, 1]),
    });
  }

  /**
   * BatchNorm in eval mode. `merged`: as for a fresh nn.BatchNorm (weight = running_var = 1,
   * bias = running_mean = 0) the exporter writes the equal statistics as Identity nodes.
   */
  batchNorm(scope: string, prefix: string, x: string, C: number, seed: number, merged = false) {
    const s = this.param(
      `${prefix}.weight`,
      shifted(uniformTensor([C], 0.2, seed, `${prefix}.w`), 1),
    );
    const b = this.param(`${prefix}.bias`, uniformTensor([C], 0.1, seed, `${prefix}.b`));
    let m: string, v: string;
    if (merged) {
      v = this.node("", "Identity", [s], {}, { out: `${prefix}.running_var` })[0];
      m = this.node("", "Identity", [b], {}, { out: `${prefix}.running_mean` })[0];
      this.graph.nodes.unshift(...this.graph.nodes.splice(-2));
    } else {
      m = this.param(`${prefix}.running_mean`, uniformTensor([C], 0.1, seed, `${prefix}.m`));
      v = this.param(
        `${prefix}.running_var`,
        shifted(uniformTensor([C], 0.2, seed, `${prefix}.v`), 1),
      );
    }
    const attrs: Record<string, Attr> = { epsilon: f(1e-5), momentum: f(0.9) };
    if (this.opset >= 15) attrs.training_mode = i(0);
    return this.op(`${scope}/${prefix}`, "BatchNormalization", [x, s, b, m, v], attrs);
  }

  unsqueeze(scope: string, x: string, axes: number[]) {
    if (this.opset >= 13) {
      return this.op(scope, "Unsqueeze", [
        x,
        this.constant(scope, int64Tensor([axes.length], axes)),
      ]);
    }
    return this.op(scope, "Unsqueeze", [x], { axes: ints(axes) });
  }

  squeeze(scope: string, x: string, axes: number[]) {
    if (this.opset >= 13) {
      return this.op(scope, "Squeeze", [x, this.constant(scope, int64Tensor([axes.length], axes))]);
    }
    return this.op(scope, "Squeeze", [x], { axes: ints(axes) });
  }

  /** `x.view(x.size(0), -1)`: Shape → Gather(0) → Unsqueeze → Concat([·, -1]) → Reshape. */
  flattenView(scope: string, x: string) {
    const shape = this.op(scope, "Shape", [x]);
    const zero = this.constant(scope, int64Tensor([], [0]));
    const n = this.op(scope, "Gather", [shape, zero], { axis: i(0) });
    const n1 = this.unsqueeze(scope, n, [0]);
    const minusOne = this.unsqueeze(scope, this.constant(scope, int64Tensor([], [-1])), [0]);
    const target = this.op(scope, "Concat", [n1, minusOne], { axis: i(0) });
    return this.op(scope, "Reshape", [x, target]);
  }

  /** nn.GELU() below opset 20: x · ½ · (1 + erf(x / √2)) with Constant literals. */
  geluErf(scope: string, x: string) {
    const sqrt2 = this.constant(scope, scalar(Math.SQRT2));
    const e = this.op(scope, "Erf", [this.op(scope, "Div", [x, sqrt2])]);
    const one = this.constant(scope, scalar(1));
    const half = this.constant(scope, scalar(0.5));
    return this.op(scope, "Mul", [
      this.op(scope, "Mul", [x, this.op(scope, "Add", [e, one])]),
      half,
    ]);
  }

  /** nn.Dropout in an export that kept it: the opset 11 attribute form, or ratio/mode inputs. */
  dropout(scope: string, x: string) {
    if (this.opset < 12) {
      return this.node(scope, "Dropout", [x], { ratio: f(0.1) }, { outputs: 2 })[0];
    }
    const ratio = this.constant(scope, scalar(0.1));
    const mode = this.constant(scope, { dtype: "bool", dims: [], data: Uint8Array.of(0) });
    return this.op(scope, "Dropout", [x, ratio, mode]);
  }
}

const f = (v: number): Attr => float(v);
const i = (v: number): Attr => ({ type: "int", value: v });
const ints = (v: number[]): Attr => ({ type: "ints", value: v });
const scalar = (v: number): Tensor => ({ dtype: "float32", dims: [], data: Float32Array.of(v) });
function shifted(t: Tensor, by: number): Tensor {
  return { ...t, data: (t.data as Float32Array).map((v) => v + by) };
}

export interface TabularOptions {
  opset: number;
  activation?: "relu" | "gelu";
  /** Input and output names (torch: the `input_names` / `output_names` given). */
  input?: string;
  output?: string;
  batch?: Dim;
  features?: number;
  classes?: number;
  seed?: number;
  /** BatchNorm statistics merged into its weight and bias by the exporter (Identity nodes). */
  merged?: boolean;
}

/**
 * `nn.Sequential(Linear(4, 16), BatchNorm1d(16), ReLU/GELU, Dropout, Linear(16, 3))` as
 * `fc`, exported with input "input", output "logits" and a dynamic batch axis.
 */
export function torchMlp(o: TabularOptions): Model {
  const t = new TorchGraph(o.opset);
  const F = o.features ?? 4;
  const C = o.classes ?? 3;
  const seed = o.seed ?? 1;
  const batch = o.batch ?? "batch";
  const x = t.input(o.input ?? "input", [batch, F]);
  let h = t.linear("/fc", "fc.0", x, F, 16, seed);
  h = t.batchNorm("/fc", "fc.1", h, 16, seed, o.merged);
  h = o.activation === "gelu" ? t.geluErf("/fc/fc.2", h) : t.op("/fc/fc.2", "Relu", [h]);
  h = t.dropout("/fc/fc.3", h);
  const out = o.output ?? "logits";
  t.linear("/fc", "fc.4", h, 16, C, seed, out);
  t.output(out, [batch, C]);
  return t.model();
}

export interface CnnOptions {
  opset: number;
  input?: string;
  output?: string;
  batch?: Dim;
  /**
   * Flatten with the dynamic `x.view(x.size(0), -1)` subgraph (default), the Flatten op, or
   * (as an export without dynamic_axes folds it) a constant target [batch, -1].
   */
  flatten?: "view" | "op" | "static";
  seed?: number;
}

/**
 * conv1 (1→4) → bn1 → ReLU → MaxPool 2 → conv2 (4→8) → ReLU → MaxPool 2 → view(N, -1) →
 * fc.0 (392→32) → ReLU → fc.2 (32→10), input "input.1" [batch_size, 1, 28, 28], output
 * "output", as a plain `torch.onnx.export(model, x, path, dynamic_axes=...)` names them.
 */
export function torchCnn(o: CnnOptions): Model {
  const t = new TorchGraph(o.opset);
  const seed = o.seed ?? 2;
  const batch = o.batch ?? "batch_size";
  const x = t.input(o.input ?? "input.1", [batch, 1, 28, 28]);
  let h = t.conv("", "conv1", x, 1, 4, seed);
  h = t.batchNorm("", "bn1", h, 4, seed);
  h = t.op("/relu", "Relu", [h]);
  const pool = {
    ceil_mode: i(0),
    kernel_shape: ints([2, 2]),
    pads: ints([0, 0, 0, 0]),
    strides: ints([2, 2]),
  };
  h = t.op("/pool", "MaxPool", [h], pool);
  h = t.conv("", "conv2", h, 4, 8, seed);
  h = t.op("/relu_1", "Relu", [h]);
  h = t.op("/pool_1", "MaxPool", [h], pool);
  if (o.flatten === "op") h = t.op("/Flatten", "Flatten", [h], { axis: i(1) });
  else if (o.flatten === "static") {
    const target = t.constant("", int64Tensor([2], [typeof batch === "number" ? batch : 1, -1]));
    h = t.op("", "Reshape", [h, target]);
  } else h = t.flattenView("", h);
  h = t.linear("/fc", "fc.0", h, 8 * 7 * 7, 32, seed);
  h = t.op("/fc/fc.1", "Relu", [h]);
  const out = o.output ?? "output";
  t.linear("/fc", "fc.2", h, 32, 10, seed, out);
  t.output(out, [batch, 10]);
  return t.model();
}

/**
 * A model touching the rest of the op list, for gradient checks: Conv → Sigmoid/Gelu → ReLU6
 * (Clip) → AveragePool, then two branches — GlobalAveragePool → Squeeze → Unsqueeze → Transpose →
 * Squeeze, and Flatten → MatMul + Add → Tanh — joined by Concat → Identity → Gemm → Softmax.
 * Opset 20 uses the Gelu op; earlier opsets the Erf form and Sigmoid.
 */
export function torchZoo(opset: number): Model {
  const t = new TorchGraph(opset);
  const x = t.input("input", ["N", 3, 6, 6]);
  let h = t.conv("", "conv", x, 3, 4, 5);
  h = opset >= 20 ? t.op("/act", "Gelu", [h]) : t.op("/act", "Sigmoid", [t.geluErf("/gelu", h)]);
  // nn.ReLU6 at opset ≥ 11: Clip with Constant bounds.
  const lo = t.constant("/relu6", scalar(0));
  h = t.op("/relu6", "Clip", [h, lo, t.constant("/relu6", scalar(6))]);
  h = t.op("/pool", "AveragePool", [h], { kernel_shape: ints([2, 2]), strides: ints([2, 2]) });
  // Branch A: [N,4,3,3] → [N,4,1,1] → [N,4] → [N,1,4] → [N,4,1] → [N,4].
  let a = t.op("/gap", "GlobalAveragePool", [h]);
  a = t.squeeze("/a", a, [2, 3]);
  a = t.unsqueeze("/a", a, [1]);
  a = t.op("/a", "Transpose", [a], { perm: ints([0, 2, 1]) });
  a = t.squeeze("/a", a, [2]);
  // Branch B: [N,36] · [36,6] + [6].
  let b = t.op("/b", "Flatten", [h], { axis: i(1) });
  const w = t.param("onnx::MatMul_42", uniformTensor([36, 6], 0.3, 5, "mm"));
  const bias = t.param("proj.bias", uniformTensor([6], 0.3, 5, "mmb"));
  b = t.op("/b", "Add", [t.op("/b", "MatMul", [b, w]), bias]);
  b = t.op("/b", "Tanh", [b]);
  let y = t.op("", "Concat", [a, b], { axis: i(1) });
  y = t.op("", "Identity", [y]);
  y = t.linear("", "head", y, 10, 5, 5);
  t.op("", "Softmax", [y], { axis: i(opset >= 13 ? -1 : 1) }, "probs");
  t.output("probs", ["N", 5]);
  return t.model();
}

/** Writes a model to a fresh temporary .onnx file and returns its path. */
export async function writeTemp(model: Model, name = "model.onnx"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "fwdgrad-byo-" });
  const path = `${dir}/${name}`;
  await Deno.writeFile(path, encodeModel(model));
  return path;
}
