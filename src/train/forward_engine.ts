import { accumulateEstimate } from "../random/estimate.ts";
import { sampleTangents, type TangentDist } from "../random/tangents.ts";
import { Session } from "../onnx/session.ts";
import type { Tensor } from "../onnx/types.ts";
import type { ParamLayout } from "./params.ts";
import { paramViews } from "./params.ts";

export interface ForwardSetup {
  jvp: Uint8Array;
  layout: ParamLayout;
  /** The coordinator's shared parameter vector. */
  params: Float32Array;
  K: number;
  seed: number;
  /** Worker index in the tangent stream key (0 for every worker in shared-tangent mode). */
  stream: number;
  /** Shared-tangent mode: where `rebuild` writes (the coordinator's gradient vector). */
  rebuildInto?: Float32Array;
  dist: TangentDist;
  featureShape: number[];
  classes: number;
}

export interface ForwardResult {
  loss: number;
  /** ∇f·v_k for k < K. */
  scalars: Float32Array;
  /**
   * (1/K) Σ_k (∇f·v_k) v_k over the flat parameter vector (independent mode). It is the
   * engine's own buffer, shared memory reused every step (a message shares it, no copy): read
   * it before the engine's next step.
   */
  estimate?: Float32Array;
  /** Milliseconds spent sampling tangents, in the JVP run, forming the estimate. */
  timings: { sample: number; jvp: number; estimate: number };
}

/**
 * One forward-gradient worker's computation: sample its K tangents (a pure function of seed,
 * step, stream, k), run the JVP graph once for all K on its shard, and form the estimate.
 */
export class ForwardEngine {
  private readonly tangents: Record<string, Tensor> = {};
  /** Allocated once: a fresh 7 MB vector per step costs more than filling it (page faults). */
  private readonly estimate: Float32Array;

  private constructor(private readonly setup: ForwardSetup, private readonly session: Session) {
    const { layout, K } = setup;
    this.estimate = new Float32Array(new SharedArrayBuffer(layout.total * 4));
    layout.names.forEach((name, i) => {
      this.tangents[`${name}__tangent`] = {
        dtype: "float32",
        dims: [K, ...layout.dims[i]],
        data: new Float32Array(K * layout.sizes[i]),
      };
    });
  }

  static async create(setup: ForwardSetup): Promise<ForwardEngine> {
    return new ForwardEngine(setup, await Session.create(setup.jvp, "JVP graph"));
  }

  /** Fills the tangent buffers for `step`; tensor i takes elements [offset_i, offset_i + size_i) of each stream. */
  sample(step: number): void {
    const { layout, K, seed, stream, dist } = this.setup;
    layout.names.forEach((name, i) => {
      const out = this.tangents[`${name}__tangent`].data as Float32Array;
      sampleTangents(out, layout.sizes[i], {
        seed,
        step,
        worker: stream,
        firstTangent: 0,
        K,
        dist,
        offset: layout.offsets[i],
      });
    });
  }

  async step(
    step: number,
    x: Float32Array,
    labels: Float32Array,
    count: number,
    wantEstimate: boolean,
  ): Promise<ForwardResult> {
    const { layout, K, featureShape, classes } = this.setup;
    const t0 = performance.now();
    this.sample(step);
    const t1 = performance.now();
    const out = await this.session.run({
      ...paramViews(this.setup.params, layout),
      ...this.tangents,
      x: { dtype: "float32", dims: [count, ...featureShape], data: x },
      labels: { dtype: "float32", dims: [count, classes], data: labels },
    });
    const t2 = performance.now();
    const scalars = Float32Array.from(out["loss__tangent"].data as Float32Array);
    let estimate: Float32Array | undefined;
    if (wantEstimate) {
      estimate = this.estimate;
      layout.names.forEach((name, i) => {
        const v = this.tangents[`${name}__tangent`].data as Float32Array;
        const size = layout.sizes[i];
        const dst = estimate!.subarray(layout.offsets[i], layout.offsets[i] + size);
        for (let k = 0; k < K; k++) {
          const s = scalars[k] / K;
          const vk = v.subarray(k * size, (k + 1) * size);
          if (k === 0) { for (let j = 0; j < size; j++) dst[j] = s * vk[j]; }
          else for (let j = 0; j < size; j++) dst[j] += s * vk[j];
        }
      });
    }
    const t3 = performance.now();
    return {
      loss: Number(out.loss.data[0]),
      scalars,
      estimate,
      timings: { sample: t1 - t0, jvp: t2 - t1, estimate: t3 - t2 },
    };
  }

  /**
   * Shared-tangent mode: elements [start, end) of (1/K) Σ_k s_k v_k, where s_k are the batch's
   * directional derivatives, regenerated from the seed into the coordinator's vector. Workers
   * rebuild disjoint slices in parallel; zeroing first makes a retried rebuild idempotent.
   */
  rebuild(step: number, sums: Float32Array, start: number, end: number): void {
    const { seed, stream, dist, rebuildInto } = this.setup;
    if (!rebuildInto) throw new Error("rebuild: this worker was set up without rebuildInto");
    const slice = rebuildInto.subarray(start, end);
    slice.fill(0);
    accumulateEstimate(slice, end - start, sums, {
      seed,
      step,
      worker: stream,
      firstTangent: 0,
      dist,
      offset: start,
    });
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
