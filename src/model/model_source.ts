/**
 * Loading a run's model, built-in or from an ONNX file, in training form, with its trainable
 * parameters selected and a way back to an exportable model with trained values.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { decodeModel } from "../onnx/decode.ts";
import { trainableParameters } from "../onnx/models/parameters.ts";
import { createModel, isModelName, MODEL_NAMES } from "../onnx/models/registry.ts";
import type { Model } from "../onnx/types.ts";
import { type ParamLayout, withParams } from "./params.ts";
import { selectParameters } from "./param_select.ts";
import { prepareUserModel } from "./user_model.ts";

/**
 * Where a run's model comes from: a built-in name (`mlp`, `cnn`, ...) or an ONNX file (for
 * example from `torch.onnx.export`). Either way the result is the same training form, so the
 * trainer, check-grads and the benchmarks treat both alike.
 */
export interface ModelSourceOptions {
  /**
   * The data the model will see: one example's shape and the class count (checked against a
   * file's logits). Without it a file's declared input shape is used, and built-in models get
   * penguins' [4] and 3 (logreg, mlp) or 28×28 images and 10 classes.
   */
  data?: { featureShape: number[]; classes?: number; name?: string };
  /** Initial weights of a built-in model (default 0). */
  seed?: number;
  /** Hidden sizes of the built-in mlp. */
  hidden?: number[];
  /** A file's data input (default: its first float input). */
  input?: string;
  /** A file's logits output (default: its only output, or the one named "logits"). */
  output?: string;
  /** Glob patterns of the parameters to train (default: all but buffers). */
  train?: string[];
  /** Glob patterns of parameters to keep at their initial values. */
  freeze?: string[];
}

export interface ModelSource {
  /** What was asked for: a built-in name or a path. */
  spec: string;
  kind: "built-in" | "file";
  /**
   * The training form: input `x` [batch, ...featureShape], output `logits` [batch, classes],
   * constant shape subgraphs folded; the parameters are float initializers.
   */
  model: Model;
  featureShape: number[];
  classes: number;
  /** Parameters to train, in initializer order (the layout order). */
  trainable: string[];
  /** Parameters kept at their initial values (bit-identical in the exported model). */
  frozen: string[];
  /** What was adapted or assumed, in words (for the run's log). */
  notes: string[];
  /**
   * The model to hand back to the user with the trained values of `layout` put in: a built-in
   * model as built, a file's own graph (same input/output names, nodes and opset).
   */
  exportModel(layout: ParamLayout, params: Float32Array): Model;
}

/**
 * Loads a built-in model or an ONNX file and prepares it for training. Bad files, unsupported
 * ops and shape mismatches are UserErrors whose message starts with the file.
 */
export async function loadModelSource(
  spec: string,
  options: ModelSourceOptions = {},
): Promise<ModelSource> {
  if (isModelName(spec)) return modelSourceFrom(spec, options);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(spec);
  } catch (e) {
    const hint = spec.includes("/") || spec.toLowerCase().endsWith(".onnx")
      ? ""
      : ` (built-in models: ${MODEL_NAMES.join(", ")})`;
    throw new UserError(`${spec}: cannot read (${(e as Error).message})${hint}`);
  }
  return modelSourceFrom(decodeModel(bytes, spec), options, spec);
}

/**
 * The same from a built-in name or an already decoded model (`spec` then names it in
 * messages and in `ModelSource.spec`).
 */
export function modelSourceFrom(
  model: string | Model,
  options: ModelSourceOptions = {},
  spec = typeof model === "string" ? model : model.graph.name,
): ModelSource {
  return typeof model === "string" ? builtIn(model, options) : fromFile(model, spec, options);
}

function builtIn(name: string, options: ModelSourceOptions): ModelSource {
  for (const flag of ["input", "output"] as const) {
    if (options[flag] !== undefined) {
      throw new UserError(`--${flag}: applies to a model file, not the built-in model ${name}`);
    }
  }
  const tabular = name === "logreg" || name === "mlp";
  const featureShape = options.data?.featureShape ?? (tabular ? [4] : [1, 28, 28]);
  const classes = options.data?.classes ?? (tabular ? 3 : 10);
  const model = createModel(name, {
    inputShape: featureShape,
    classes,
    seed: options.seed ?? 0,
    ...(options.hidden ? { hidden: options.hidden } : {}),
  });
  const names = trainableParameters(model).map((p) => p.name);
  const { trainable, frozen } = selectParameters(names, {
    train: options.train,
    freeze: options.freeze,
  });
  return {
    spec: name,
    kind: "built-in",
    model,
    featureShape,
    classes,
    trainable,
    frozen,
    notes: frozen.length > 0 ? [`${frozen.length} parameter tensors frozen`] : [],
    exportModel: (layout, params) => withParams(model, layout, params),
  };
}

function fromFile(file: Model, spec: string, options: ModelSourceOptions): ModelSource {
  if (options.hidden) {
    throw new UserError(`--hidden: applies to the built-in mlp, not the model file ${spec}`);
  }
  const prepared = prepareUserModel(file, {
    source: spec,
    featureShape: options.data?.featureShape,
    classes: options.data?.classes,
    dataName: options.data?.name,
    input: options.input,
    output: options.output,
  });
  const fileName = (n: string) => prepared.fileNames.get(n) ?? n;
  const buffers = new Set(prepared.buffers);
  let selection;
  try {
    selection = selectParameters(prepared.parameters, {
      train: options.train,
      freeze: options.freeze,
      frozenByDefault: buffers,
    });
  } catch (e) {
    throw e instanceof UserError ? new UserError(`${spec}: ${e.message}`) : e;
  }
  const notes = [
    `input "${prepared.inputName}" takes the data and output "${prepared.outputName}" is the logits`,
    ...prepared.notes,
  ];
  const defaultFrozen = selection.frozen.filter((n) => buffers.has(n));
  if (defaultFrozen.length > 0 && !options.train?.length) {
    notes.push(
      `${defaultFrozen.length} buffers/constants frozen (BatchNormalization running stats and ` +
        `the like; name them with --train to train them)`,
    );
  }
  const userFrozen = selection.frozen.length - (options.train?.length ? 0 : defaultFrozen.length);
  if (userFrozen > 0) notes.push(`${userFrozen} parameter tensors frozen by --train/--freeze`);
  return {
    spec,
    kind: "file",
    model: prepared.model,
    featureShape: prepared.featureShape,
    classes: prepared.classes,
    trainable: selection.trainable,
    frozen: selection.frozen,
    notes,
    // The file's own graph with the trained values; everything else (names, nodes, frozen
    // tensors, opset, metadata) as it came.
    exportModel: (layout, params) => {
      const base = prepared.exportBase;
      const initializers = new Map(base.graph.initializers);
      layout.names.forEach((n, i) => {
        const name = fileName(n);
        const before = initializers.get(name);
        if (!before) throw new Error(`internal: parameter "${name}" is not in ${spec}`);
        const at = layout.offsets[i];
        initializers.set(name, {
          dtype: "float32",
          dims: [...before.dims],
          data: Float32Array.from(params.subarray(at, at + layout.sizes[i])),
        });
      });
      return { ...base, graph: { ...base.graph, initializers } };
    },
  };
}

/** Whether a --model value names a file rather than a (possibly misspelt) built-in model. */
export function looksLikeModelFile(spec: string): boolean {
  return /\.onnx$/i.test(spec) || spec.includes("/") || spec.includes("\\");
}
