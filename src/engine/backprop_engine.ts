/**
 * The reverse-mode engine a backprop worker runs: the exact gradient of the batch loss from
 * the VJP graph, the baseline forward gradients are compared with.
 *
 * @module
 */
import { COTANGENT } from "../ad/vjp.ts";
import { gatherGradient, shardFeeds } from "./feeds.ts";
import { Session } from "../onnx/session.ts";
import type { BackpropResult, BackpropSetup } from "./messages.ts";

export type { BackpropResult, BackpropSetup } from "./messages.ts";

/** One step's batch, as BackpropEngine.step takes it. */
export interface BackpropStepInput {
  x: Float32Array;
  labels: Float32Array;
  /** Examples in the batch. */
  count: number;
}

/** The exact gradient of the batch loss (see the module comment). */
export class BackpropEngine {
  /** The gradient, in shared memory allocated once (see ForwardEngine's estimate). */
  private readonly gradient: Float32Array;

  private constructor(private readonly setup: BackpropSetup, private readonly session: Session) {
    this.gradient = new Float32Array(new SharedArrayBuffer(setup.layout.total * 4));
  }

  static async create(setup: BackpropSetup): Promise<BackpropEngine> {
    return new BackpropEngine(setup, await Session.create(setup.vjp, "VJP graph"));
  }

  async step({ x, labels, count }: BackpropStepInput): Promise<BackpropResult> {
    const t0 = performance.now();
    const out = await this.session.run({
      ...shardFeeds(this.setup, { x, labels, count }),
      [`loss${COTANGENT}`]: { dtype: "float32", dims: [], data: Float32Array.of(1) },
    });
    // Reused every step: read it before the engine's next step.
    const gradient = gatherGradient(out, this.setup.layout, this.gradient);
    return { loss: Number(out.loss.data[0]), gradient, ms: performance.now() - t0 };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
