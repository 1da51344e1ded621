import * as ort from "onnxruntime-web";
import { UserError } from "../errors.ts";
import { decodeModel } from "./decode.ts";
import { encodeModel } from "./encode.ts";
import type { DType, Tensor, TensorData } from "./types.ts";

/** Parallelism comes from workers; each runtime uses one WASM thread. */
ort.env.wasm.numThreads = 1;
// Overridable initializers (our `wrt` inputs) are intended; keep the runtime quiet about them.
ort.env.logLevel = "error";

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: "float32",
  float64: "float64",
  int64: "int64",
  int32: "int32",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
};

/**
 * An onnxruntime-web session that takes and returns IR tensors.
 *
 * ONNX lets an input share its name with an initializer (the initializer is the default
 * value), but onnxruntime-web rejects feeds for such inputs. The session therefore turns
 * those initializers into plain inputs and supplies the default when a feed omits it.
 */
export class Session {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly source: string,
    private readonly defaults: Map<string, Tensor>,
  ) {}

  static async create(bytes: Uint8Array, source = "model"): Promise<Session> {
    const model = decodeModel(bytes, source);
    const defaults = new Map<string, Tensor>();
    for (const input of model.graph.inputs) {
      const init = model.graph.initializers.get(input.name);
      if (!init) continue;
      defaults.set(input.name, init);
      model.graph.initializers.delete(input.name);
    }
    if (defaults.size > 0) bytes = encodeModel(model);
    try {
      const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
      return new Session(session, source, defaults);
    } catch (e) {
      throw new UserError(
        `${source}: onnxruntime-web cannot load it (${
          String((e as Error).message ?? e).split("\n")[0]
        })`,
      );
    }
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  async run(feeds: Record<string, Tensor>, fetches?: string[]): Promise<Record<string, Tensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, t] of this.defaults) {
      if (!(name in feeds)) {
        ortFeeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], t.data as ort.Tensor.DataType, t.dims);
      }
    }
    for (const [name, t] of Object.entries(feeds)) {
      ortFeeds[name] = new ort.Tensor(ORT_TYPE[t.dtype], t.data as ort.Tensor.DataType, t.dims);
    }
    const result = fetches
      ? await this.session.run(ortFeeds, fetches)
      : await this.session.run(ortFeeds);
    const out: Record<string, Tensor> = {};
    for (const [name, t] of Object.entries(result)) {
      out[name] = { dtype: t.type as DType, dims: [...t.dims], data: t.data as TensorData };
    }
    return out;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
