/**
 * One activity-perturbation worker's computation (FG-A, and LG-FG-A with local losses): per
 * step, sample K tangents for every example at every site (a pure function of seed, step,
 * stream, k), run the activity graph once on its shard, and read back the estimate of the
 * shard's gradient that the graph formed layer by layer. No n-sized tangent is ever sampled.
 *
 * @module
 */

import { Session } from "../onnx/session.ts";
import type { Tensor } from "../onnx/types.ts";
import { sampleTangents } from "../random/tangents.ts";
import { gatherGradient, shardFeeds } from "./feeds.ts";
import type { ActivityResult, ActivitySetup } from "./messages.ts";

export class ActivityEngine {
  private readonly gradient: Float32Array;
  /** Tangent buffers per site, reallocated only when the shard size changes. */
  private tangents: Record<string, Tensor> = {};
  private count = -1;

  private constructor(private readonly setup: ActivitySetup, private readonly session: Session) {
    this.gradient = new Float32Array(new SharedArrayBuffer(setup.layout.total * 4));
  }

  static async create(setup: ActivitySetup): Promise<ActivityEngine> {
    return new ActivityEngine(setup, await Session.create(setup.graph, "activity graph"));
  }

  /**
   * Fills every site's [K, count, ...dims] tangent for `step`: site j takes the elements
   * [offset_j, offset_j + count·size_j) of each of the K streams, so sites never share noise.
   */
  sample(step: number, count: number): void {
    const { sites, K, seed, stream, dist } = this.setup;
    if (count !== this.count) {
      this.tangents = {};
      for (const s of sites) {
        const size = count * s.dims.reduce((a, b) => a * b, 1);
        this.tangents[s.input] = {
          dtype: "float32",
          dims: [K, count, ...s.dims],
          data: new Float32Array(K * size),
        };
      }
      this.count = count;
    }
    let offset = 0;
    for (const s of sites) {
      const out = this.tangents[s.input].data as Float32Array;
      const size = out.length / K;
      sampleTangents(out, size, { seed, step, worker: stream, firstTangent: 0, K, dist, offset });
      offset += size;
    }
  }

  async step(
    { step, x, labels, count }: {
      step: number;
      x: Float32Array;
      labels: Float32Array;
      count: number;
    },
  ): Promise<ActivityResult> {
    const t0 = performance.now();
    this.sample(step, count);
    const t1 = performance.now();
    const out = await this.session.run({
      ...shardFeeds(this.setup, { x, labels, count }),
      ...this.tangents,
    });
    gatherGradient(out, this.setup.layout, this.gradient);
    return {
      loss: Number(out.loss.data[0]),
      gradient: this.gradient,
      timings: { sample: t1 - t0, run: performance.now() - t1 },
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
