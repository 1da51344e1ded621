/**
 * Preparing an imported ONNX model for training: one data input, one logits output, constant
 * shape subgraphs folded, float initializers as parameters.
 *
 * @module
 */
import { foldConstants } from "../ad/fold.ts";
import type { Meta } from "../ad/meta.ts";
import { UserError } from "../errors.ts";
import { NameGen } from "../onnx/names.ts";
import { int64Tensor, tensorNumbers } from "../onnx/tensor.ts";
import type { Dim, Graph, Model, Node, ValueInfo } from "../onnx/types.ts";
import { elementCount, isFloat } from "../onnx/types.ts";

/**
 * Turns a model file (as `torch.onnx.export` writes it) into the training form every part of
 * fwdgrad expects: one data input `x` [batch, ...featureShape], one output `logits`
 * [batch, classes], constant shape subgraphs folded, and float initializers as parameters.
 * The file's own graph is never changed: trained values go back into it by name
 * (model_source.ts), so the exported model keeps its input and output names.
 */
export interface UserModelOptions {
  /** The file, for messages. */
  source: string;
  /** Shape of one example as the data gives it; default: the model's declared input shape. */
  featureShape?: number[];
  /** Classes the data has, checked against the logits' width. */
  classes?: number;
  /** The data's name, for messages (e.g. "kmnist"). */
  dataName?: string;
  /** The data input (default: the first float input that is not an initializer). */
  input?: string;
  /** The logits output (default: the only output, or the one named "logits"). */
  output?: string;
}

export interface UserModel {
  /** The training form (a new graph; the file's model is untouched). */
  model: Model;
  /**
   * The file's model to put trained values into: the file itself, except that initializers
   * the exporter had merged (see untieInitializers) are separate tensors again.
   */
  exportBase: Model;
  /** The file's data input and logits output. */
  inputName: string;
  outputName: string;
  featureShape: number[];
  classes: number;
  /** Float initializers the logits depend on, in file order (training-form names). */
  parameters: string[];
  /**
   * Of those, the ones that are state or constants rather than weights: BatchNormalization's
   * running mean and variance (PyTorch buffers), Pow exponents, Clip bounds, Dropout ratios,
   * Pad values. Frozen unless `--train` names them.
   */
  buffers: string[];
  /** Training-form name → file name, for the (rare) parameters that had to be renamed. */
  fileNames: Map<string, string>;
  notes: string[];
}

/** Names the training pipeline uses; a file value of that name is renamed in the copy. */
const RESERVED = ["x", "logits", "labels", "loss"];

/** Inputs that hold state or constants, not weights, by op type (see UserModel.buffers). */
const NON_WEIGHT_INPUTS: Record<string, number[]> = {
  BatchNormalization: [3, 4],
  Pow: [1],
  Clip: [1, 2],
  Dropout: [1],
  Pad: [2],
};

const shapeText = (s: readonly Dim[]) => `[${s.join(",")}]`;

/** Prepares a decoded model file for training; every problem is a UserError naming the file. */
export function prepareUserModel(file: Model, options: UserModelOptions): UserModel {
  try {
    return prepare(file, options);
  } catch (e) {
    if (e instanceof UserError && !e.message.startsWith(`${options.source}:`)) {
      throw new UserError(`${options.source}: ${e.message}`);
    }
    throw e;
  }
}

function prepare(original: Model, options: UserModelOptions): UserModel {
  const notes: string[] = [];
  const { model: file, untied } = untieInitializers(original);
  if (untied.length > 0) {
    notes.push(
      `${untied.length} tensors the exporter had merged with an equal one (Identity of an ` +
        `initializer) are separate again: ${untied.join(", ")}`,
    );
  }
  const g = file.graph;
  const input = dataInput(g, options.input);
  const output = logitsOutput(g, options.output);

  // Shapes: the model's per-example dims against the data's.
  const declared = input.shape;
  if (declared && declared.length < 2) {
    throw new UserError(
      `input "${input.name}" has shape ${
        shapeText(declared)
      }: fwdgrad needs a leading batch dim (export with an example batch, e.g. torch.randn(1, ...))`,
    );
  }
  const fixedBatch = typeof declared?.[0] === "number" ? declared[0] : undefined;
  const batch = typeof declared?.[0] === "string" ? declared[0] : "batch";
  const { featureShape, adapter } = featureShapes(input, options, notes);

  const graph: Graph = {
    name: g.name,
    inputs: [{
      name: input.name,
      dtype: input.dtype,
      shape: [batch, ...(adapter ?? featureShape)],
    }],
    outputs: [{ ...output }],
    initializers: new Map(g.initializers),
    nodes: g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] })),
  };
  const listed = g.inputs.filter((v) => v.name !== input.name).length;
  if (listed > 0) {
    notes.push(`${listed} initializers also listed as graph inputs are read as initializers`);
  }

  // Names: the data input becomes x, the logits output logits; clashing values move aside.
  const floatNames = new Set(
    [...g.initializers].filter(([, t]) => isFloat(t.dtype)).map(([n]) => n),
  );
  const fileNames = new Map<string, string>();
  const names = new NameGen(graph);
  for (const r of RESERVED) {
    const intended = (r === "x" && !adapter && r === input.name) ||
      (r === "logits" && r === output.name);
    if (intended || !uses(graph, r)) continue;
    const to = names.fresh(`${r}_file`);
    renameValue(graph, r, to);
    if (floatNames.has(r)) fileNames.set(to, r);
  }
  const inputName = graph.inputs[0].name;
  const outputName = graph.outputs[0].name;
  if (adapter) {
    // Flattened (or otherwise reshaped) examples: Reshape(x, [0, ...model dims]) → the input.
    const target = names.fresh("x_reshape_target");
    graph.initializers.set(target, int64Tensor([adapter.length + 1], [0, ...adapter]));
    graph.nodes.unshift({
      name: names.fresh("x_reshape"),
      opType: "Reshape",
      domain: "",
      inputs: ["x", target],
      outputs: [inputName],
      attrs: {},
    });
    graph.inputs = [{ name: "x", dtype: input.dtype, shape: [batch, ...featureShape] }];
  } else if (inputName !== "x") {
    renameValue(graph, inputName, "x");
  }
  if (outputName !== "logits") renameValue(graph, outputName, "logits");

  // IR 4 lets initializers be more than graph inputs, as the training form has them.
  let model: Model = {
    ...file,
    irVersion: Math.max(file.irVersion, 4),
    opsets: { ...file.opsets },
    graph,
  };
  let folded = foldConstants(model);
  if (fixedBatch !== undefined) {
    const fixed = freeBatch(folded.model, folded.metas, fixedBatch, names);
    if (fixed > 0) folded = foldConstants(folded.model);
    notes.push(
      `input "${input.name}" was exported with a fixed batch size of ${fixedBatch}; dim 0 is ` +
        `treated as the batch` + (fixed > 0 ? ` (${fixed} Reshape targets adjusted)` : ""),
    );
  }
  model = folded.model;
  if (folded.folded > 0) notes.push(`folded ${folded.folded} constant nodes`);

  const classes = checkLogits(folded.metas.get("logits"), output, options, fixedBatch);
  checkModes(model.graph, folded.metas);
  const last = model.graph.nodes.find((n) => n.outputs.includes("logits"))?.opType;
  if (last === "Softmax" || last === "Sigmoid") {
    notes.push(
      `output "${output.name}" comes from ${last}; fwdgrad applies softmax cross-entropy to it ` +
        `as if it were logits (export the scores before ${last} for the usual loss)`,
    );
  }
  const batchDim = folded.metas.get("logits")!.shape![0];
  model.graph.outputs = [{ name: "logits", dtype: output.dtype, shape: [batchDim, classes] }];

  // Parameters: the file's float initializers that the logits still depend on.
  const fileName = (n: string) => fileNames.get(n) ?? n;
  const parameters = [...model.graph.initializers].filter(([n, t]) =>
    isFloat(t.dtype) && floatNames.has(fileName(n))
  ).map(([n]) => n);
  for (const n of parameters) {
    if (model.graph.initializers.get(n)!.dtype !== "float32") {
      throw new UserError(
        `parameter "${
          fileName(n)
        }" is float64; fwdgrad trains float32 models (export after model.float())`,
      );
    }
  }
  const unused = floatNames.size - parameters.length;
  if (unused > 0) {
    notes.push(`${unused} float initializers do not affect "${output.name}" and are not trained`);
  }
  return {
    model,
    exportBase: file,
    inputName: input.name,
    outputName: output.name,
    featureShape,
    classes,
    parameters,
    buffers: parameters.filter((p) => isBuffer(model.graph, p)),
    fileNames,
    notes,
  };
}

/**
 * PyTorch's exporter merges initializers with equal values: a fresh BatchNorm's running_var
 * (all ones) is written as Identity(bn.weight), its running_mean as Identity(bn.bias). Trained
 * as written, the weight would drag the running statistics along. Each Identity of a float
 * initializer becomes an initializer of its own again, under the name PyTorch gave it.
 */
export function untieInitializers(model: Model): { model: Model; untied: string[] } {
  const g = model.graph;
  const outputs = new Set(g.outputs.map((v) => v.name));
  const untied: string[] = [];
  const initializers = new Map(g.initializers);
  const nodes = g.nodes.filter((n) => {
    const src = n.inputs[0];
    const t = g.initializers.get(src);
    const out = n.outputs[0];
    if (
      n.opType !== "Identity" || n.domain !== "" || !t || !isFloat(t.dtype) || outputs.has(out) ||
      initializers.has(out)
    ) return true;
    initializers.set(out, { dtype: t.dtype, dims: [...t.dims], data: t.data.slice() });
    untied.push(out);
    return false;
  });
  if (untied.length === 0) return { model, untied };
  // Before IR 4 every initializer must also be a graph input.
  const listed = model.irVersion < 4
    ? untied.map((name) => {
      const t = initializers.get(name)!;
      return { name, dtype: t.dtype, shape: [...t.dims] };
    })
    : [];
  const graph = { ...g, inputs: [...g.inputs, ...listed], initializers, nodes };
  return { model: { ...model, graph }, untied };
}

function dataInput(g: Graph, wanted: string | undefined): ValueInfo {
  const candidates = g.inputs.filter((v) => !g.initializers.has(v.name));
  const list = candidates.map((v) => v.name).join(", ") || "none";
  let input: ValueInfo | undefined;
  if (wanted !== undefined) {
    input = candidates.find((v) => v.name === wanted);
    if (!input) {
      throw new UserError(`--input "${wanted}": the model has no such input (inputs: ${list})`);
    }
  } else {
    input = candidates.find((v) => isFloat(v.dtype));
    if (!input) {
      throw new UserError(`the model has no float input to feed the data to (inputs: ${list})`);
    }
  }
  if (!isFloat(input.dtype)) {
    throw new UserError(
      `input "${input.name}" has type ${input.dtype}; the data input must be float`,
    );
  }
  const others = candidates.filter((v) => v !== input);
  if (others.length > 0) {
    throw new UserError(
      `the model has inputs ${list}; fwdgrad feeds one data input ("${input.name}") and cannot ` +
        `supply "${others[0].name}"`,
    );
  }
  return input;
}

function logitsOutput(g: Graph, wanted: string | undefined): ValueInfo {
  const list = g.outputs.map((v) => v.name).join(", ");
  let output: ValueInfo | undefined;
  if (wanted !== undefined) {
    output = g.outputs.find((v) => v.name === wanted);
    if (!output) {
      throw new UserError(`--output "${wanted}": the model has no such output (outputs: ${list})`);
    }
  } else if (g.outputs.length === 1) {
    output = g.outputs[0];
  } else {
    output = g.outputs.find((v) => v.name === "logits");
    if (!output) {
      throw new UserError(`the model has outputs ${list}; choose the logits with --output NAME`);
    }
  }
  if (!isFloat(output.dtype)) {
    throw new UserError(`output "${output.name}" has type ${output.dtype}; logits must be float`);
  }
  return output;
}

/** The training feature shape, and the model's own per-example dims when they differ. */
function featureShapes(
  input: ValueInfo,
  options: UserModelOptions,
  notes: string[],
): { featureShape: number[]; adapter?: number[] } {
  const modelDims = input.shape?.slice(1);
  const data = options.featureShape;
  const dataName = options.dataName ?? "the dataset";
  if (!data) {
    if (!modelDims) {
      throw new UserError(`input "${input.name}" declares no shape; give the example shape`);
    }
    if (!modelDims.every((d) => typeof d === "number")) {
      throw new UserError(
        `input "${input.name}" has symbolic example dims ${
          shapeText(modelDims)
        }; give a concrete shape (check-grads: --input-shape ${input.name}=1x...)`,
      );
    }
    return { featureShape: modelDims as number[] };
  }
  if (!modelDims) {
    notes.push(`input "${input.name}" declares no shape; using the data's ${shapeText(data)}`);
    return { featureShape: data };
  }
  if (
    modelDims.length === data.length &&
    modelDims.every((d, i) => typeof d !== "number" || d === data[i])
  ) {
    return { featureShape: data };
  }
  if (
    modelDims.every((d) => typeof d === "number") &&
    elementCount(modelDims as number[]) === elementCount(data)
  ) {
    notes.push(
      `examples of shape ${shapeText(data)} are reshaped to the model's input ${
        shapeText(modelDims)
      } (same ${elementCount(data)} values, row-major)`,
    );
    return { featureShape: data, adapter: modelDims as number[] };
  }
  throw new UserError(
    `input "${input.name}" expects examples of shape ${shapeText(modelDims)}, but ${dataName} ` +
      `gives ${shapeText(data)}`,
  );
}

/**
 * A model exported with a fixed batch size B may reshape with constant targets [B, ...].
 * Where such a Reshape's data has the batch dim first, B becomes 0 ("copy dim 0").
 */
function freeBatch(model: Model, metas: Map<string, Meta>, B: number, names: NameGen): number {
  let fixed = 0;
  model.graph.nodes = model.graph.nodes.map((n): Node => {
    if (n.opType !== "Reshape" || n.attrs.allowzero?.value === 1) return n;
    const target = metas.get(n.inputs[1])?.value;
    const d0 = metas.get(n.inputs[0])?.shape?.[0];
    if (!target || typeof d0 !== "string") return n;
    const dims = tensorNumbers(target);
    if (dims[0] !== B) return n;
    const name = names.fresh(`${n.inputs[1]}_batch`);
    model.graph.initializers.set(name, int64Tensor([dims.length], [0, ...dims.slice(1)]));
    fixed++;
    return { ...n, inputs: [n.inputs[0], name, ...n.inputs.slice(2)] };
  });
  return fixed;
}

/** The class count; the logits must be [batch, classes] with batch following the input. */
function checkLogits(
  m: Meta | undefined,
  output: ValueInfo,
  options: UserModelOptions,
  fixedBatch: number | undefined,
): number {
  const shape = m?.shape;
  if (!shape) {
    throw new UserError(`the shape of output "${output.name}" could not be inferred`);
  }
  if (shape.length !== 2) {
    throw new UserError(
      `output "${output.name}" has shape ${
        shapeText(shape)
      }; fwdgrad treats it as logits and needs [batch, classes] (add a Flatten before export)`,
    );
  }
  if (typeof shape[0] === "number") {
    const hint = fixedBatch !== undefined
      ? `; it was exported with a fixed batch size: pass dynamic_axes={"${output.name}": {0: "batch"}, ...} to torch.onnx.export`
      : "";
    throw new UserError(
      `output "${output.name}" has shape ${
        shapeText(shape)
      }, which does not follow the batch dim of the input${hint}`,
    );
  }
  const classes = shape[1];
  if (typeof classes !== "number") {
    throw new UserError(`output "${output.name}" has a symbolic class dim ${shapeText(shape)}`);
  }
  if (options.classes !== undefined && classes !== options.classes) {
    throw new UserError(
      `output "${output.name}" has ${classes} classes ${shapeText(shape)}, but ${
        options.dataName ?? "the dataset"
      } has ${options.classes}`,
    );
  }
  return classes;
}

/** Ops that behave differently in training mode must have been exported in eval mode. */
function checkModes(graph: Graph, metas: Map<string, Meta>): void {
  for (const n of graph.nodes) {
    if (n.opType !== "Dropout" || !n.inputs[2]) continue;
    const mode = metas.get(n.inputs[2]);
    const on = mode?.value ? tensorNumbers(mode.value)[0] !== 0 : true;
    if (on) {
      throw new UserError(
        `Dropout node "${n.name}": training_mode is ${
          mode?.value ? "true" : "computed at run time"
        }; fwdgrad needs the inference form (export after model.eval())`,
      );
    }
  }
}

function isBuffer(graph: Graph, name: string): boolean {
  let any = false;
  for (const n of graph.nodes) {
    n.inputs.forEach((x, i) => {
      if (x !== name) return;
      if (!NON_WEIGHT_INPUTS[n.opType]?.includes(i)) any = true;
    });
  }
  return !any;
}

function uses(graph: Graph, name: string): boolean {
  return graph.inputs.some((v) => v.name === name) ||
    graph.outputs.some((v) => v.name === name) || graph.initializers.has(name) ||
    graph.nodes.some((n) => n.inputs.includes(name) || n.outputs.includes(name));
}

/** Renames a value everywhere in `graph` (keeping initializer order). */
export function renameValue(graph: Graph, from: string, to: string): void {
  const swap = (n: string) => (n === from ? to : n);
  graph.inputs = graph.inputs.map((v) => ({ ...v, name: swap(v.name) }));
  graph.outputs = graph.outputs.map((v) => ({ ...v, name: swap(v.name) }));
  if (graph.initializers.has(from)) {
    graph.initializers = new Map([...graph.initializers].map(([n, t]) => [swap(n), t]));
  }
  for (const n of graph.nodes) {
    n.inputs = n.inputs.map(swap);
    n.outputs = n.outputs.map(swap);
  }
}
