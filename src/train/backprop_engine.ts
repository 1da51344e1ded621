import { Session } from "../onnx/session.ts";
import type { ParamLayout } from "./params.ts";
import { paramViews } from "./params.ts";

export interface BackpropSetup {
  vjp: Uint8Array;
  layout: ParamLayout;
  params: Float32Array;
  featureShape: number[];
  classes: number;
}

/** The reverse-mode baseline: the exact gradient of the batch loss from the VJP graph. */
export class BackpropEngine {
  /** The gradient, in shared memory allocated once (see ForwardEngine's estimate). */
  private readonly gradient: Float32Array;

  private constructor(private readonly setup: BackpropSetup, private readonly session: Session) {
    this.gradient = new Float32Array(new SharedArrayBuffer(setup.layout.total * 4));
  }

  static async create(setup: BackpropSetup): Promise<BackpropEngine> {
    return new BackpropEngine(setup, await Session.create(setup.vjp, "VJP graph"));
  }

  async step(
    x: Float32Array,
    labels: Float32Array,
    count: number,
  ): Promise<{ loss: number; gradient: Float32Array; ms: number }> {
    const { layout, featureShape, classes } = this.setup;
    const t0 = performance.now();
    const out = await this.session.run({
      ...paramViews(this.setup.params, layout),
      x: { dtype: "float32", dims: [count, ...featureShape], data: x },
      labels: { dtype: "float32", dims: [count, classes], data: labels },
      loss__cotangent: { dtype: "float32", dims: [], data: Float32Array.of(1) },
    });
    // Reused every step: read it before the engine's next step.
    const gradient = this.gradient;
    layout.names.forEach((name, i) =>
      gradient.set(out[`${name}__grad`].data as Float32Array, layout.offsets[i])
    );
    return { loss: Number(out.loss.data[0]), gradient, ms: performance.now() - t0 };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
