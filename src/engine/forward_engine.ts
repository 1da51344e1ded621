/**
 * The forward-gradient engine a worker runs: sample K tangents (a pure function of seed, step,
 * stream, k), run the JVP graph once for all K on the worker's shard, and form the estimate;
 * in shared-tangent mode, rebuild slices of the batch estimate from the seed.
 *
 * @module
 */
import { TANGENT } from "../ad/jvp.ts";
import { shardFeeds } from "./feeds.ts";
import { Session } from "../onnx/session.ts";
import type { Tensor } from "../onnx/types.ts";
import { accumulateEstimate } from "../random/estimate.ts";
import { addGram, projectionCoefficients } from "../random/projection.ts";
import { accumulateFactored, sampleFactors } from "../random/low_rank.ts";
import { FACTOR_A, FACTOR_B } from "../ad/low_rank.ts";
import { lowRankShape } from "../ad/jvp.ts";
import { sampleTangents, type TangentDist } from "../random/tangents.ts";
import type { ForwardResult, ForwardSetup } from "./messages.ts";

export type { ForwardResult, ForwardSetup } from "./messages.ts";

/** One step's shard, as ForwardEngine.step takes it. */
export interface ForwardStepInput {
  step: number;
  x: Float32Array;
  labels: Float32Array;
  /** Examples in the shard. */
  count: number;
  /** Form (1/K) Σ_k s_k v_k (independent mode); shared mode sends only the scalars. */
  wantEstimate: boolean;
}

/** Which tangents an estimate is rebuilt from: the run's seed, the step, the stream. */
export interface TangentKey {
  seed: number;
  step: number;
  /** The tangent stream (the worker index; 0 in shared-tangent mode). */
  stream: number;
  dist: TangentDist;
}

/**
 * Elements [start, end) of (1/K) Σ_k s_k v_k, regenerated from the tangents' key into
 * `into.subarray(start, end)`: the one rebuild of a shared-tangent estimate, whether workers
 * rebuild disjoint slices in parallel or one caller the whole vector. Zeroing first makes a
 * retried rebuild idempotent.
 */
export function rebuildEstimate(
  into: Float32Array,
  sums: Float32Array,
  range: { start: number; end: number },
  key: TangentKey,
  scale = 1 / sums.length,
  structure?: TangentStructure,
): void {
  const { start, end } = range;
  const slice = into.subarray(start, end);
  slice.fill(0);
  const dense = (from: number, to: number) =>
    accumulateEstimate(into.subarray(from, to), to - from, sums, {
      seed: key.seed,
      step: key.step,
      worker: key.stream,
      firstTangent: 0,
      dist: key.dist,
      offset: from,
    }, scale);
  if (!structure) return dense(start, end);
  // Low-rank weights: their factors are regenerated and the slice's entries formed from them.
  const { layout, R } = structure;
  const K = sums.length;
  const c = Array.from(sums, (s) => s * scale);
  layout.names.forEach((_, i) => {
    const at = layout.offsets[i];
    const from = Math.max(start, at);
    const to = Math.min(end, at + layout.sizes[i]);
    if (from >= to) return;
    const f = lowRankShape(layout.dims[i], R);
    if (!f) return dense(from, to);
    const [d0, d1] = f;
    const shape = { K, R, d0, d1 };
    const a = new Float32Array(K * R * d0);
    const b = new Float32Array(K * R * d1);
    const stream = { seed: key.seed, step: key.step, worker: key.stream, dist: key.dist };
    sampleFactors(a, b, shape, { ...stream, offset: at });
    accumulateFactored(into.subarray(from, to), c, a, b, shape, { from: from - at, to: to - at });
  });
}

/** How the tangents of a layout are structured: rank-R factors for the weights that take them. */
export interface TangentStructure {
  layout: ForwardSetup["layout"];
  R: number;
}

/** One forward-gradient worker's computation (see the module comment). */
export class ForwardEngine {
  private readonly tangents: Record<string, Tensor> = {};
  /** Allocated once: a fresh 7 MB vector per step costs more than filling it (page faults). */
  private readonly estimate: Float32Array;

  /** Per parameter: its factor shape when its tangent is low-rank (setup.lowRank), else null. */
  private readonly factors: ({ d0: number; d1: number } | null)[];

  private constructor(private readonly setup: ForwardSetup, private readonly session: Session) {
    const { layout, K, lowRank: R } = setup;
    this.estimate = new Float32Array(new SharedArrayBuffer(layout.total * 4));
    const tensor = (dims: number[]): Tensor => ({
      dtype: "float32",
      dims,
      data: new Float32Array(dims.reduce((a, b) => a * b, 1)),
    });
    this.factors = layout.names.map((name, i) => {
      const f = R === undefined ? null : lowRankShape(layout.dims[i], R);
      if (!f || R === undefined) {
        this.tangents[`${name}${TANGENT}`] = tensor([K, ...layout.dims[i]]);
        return null;
      }
      const [d0, d1] = f;
      this.tangents[`${name}${FACTOR_A}`] = tensor([K, R, d0]);
      this.tangents[`${name}${FACTOR_B}`] = tensor([K, R, d1]);
      return { d0, d1 };
    });
  }

  static async create(setup: ForwardSetup): Promise<ForwardEngine> {
    return new ForwardEngine(setup, await Session.create(setup.jvp, "JVP graph"));
  }

  /** Fills the tangent buffers for `step`; tensor i takes elements [offset_i, offset_i + size_i) of each stream. */
  sample(step: number): void {
    const { layout, K, seed, stream, dist } = this.setup;
    layout.names.forEach((name, i) => {
      const f = this.factors[i];
      if (f) {
        const a = this.tangents[`${name}${FACTOR_A}`].data as Float32Array;
        const b = this.tangents[`${name}${FACTOR_B}`].data as Float32Array;
        const shape = { K, R: this.setup.lowRank!, ...f };
        sampleFactors(a, b, shape, { seed, step, worker: stream, dist, offset: layout.offsets[i] });
        return;
      }
      const out = this.tangents[`${name}${TANGENT}`].data as Float32Array;
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

  async step({ step, x, labels, count, wantEstimate }: ForwardStepInput): Promise<ForwardResult> {
    const { layout, K } = this.setup;
    const t0 = performance.now();
    this.sample(step);
    const t1 = performance.now();
    const out = await this.session.run({
      ...shardFeeds(this.setup, { x, labels, count }),
      ...this.tangents,
    });
    const t2 = performance.now();
    const scalars = Float32Array.from(out[`loss${TANGENT}`].data as Float32Array);
    const gram = this.setup.combine === "projection" ? this.gram() : undefined;
    let estimate: Float32Array | undefined;
    if (wantEstimate) {
      estimate = this.estimate;
      // The mean's coefficients s_k/K, or the projection's (n/K)(VᵀV)⁻¹s.
      const c = gram ? projectionCoefficients(gram, scalars, layout.total) : undefined;
      layout.names.forEach((name, i) => {
        const size = layout.sizes[i];
        const dst = estimate!.subarray(layout.offsets[i], layout.offsets[i] + size);
        const f = this.factors[i];
        if (f) {
          // The estimate straight from the factors: Σ_k c_k V_k, V never materialised.
          dst.fill(0);
          const a = this.tangents[`${name}${FACTOR_A}`].data as Float32Array;
          const b = this.tangents[`${name}${FACTOR_B}`].data as Float32Array;
          const coef = c ?? Array.from(scalars, (s) => s / K);
          const shape = { K, R: this.setup.lowRank!, ...f };
          accumulateFactored(dst, coef, a, b, shape, { from: 0, to: size });
          return;
        }
        const v = this.tangents[`${name}${TANGENT}`].data as Float32Array;
        for (let k = 0; k < K; k++) {
          const s = c ? c[k] : scalars[k] / K;
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
      ...(gram ? { gram } : {}),
      timings: { sample: t1 - t0, jvp: t2 - t1, estimate: t3 - t2 },
    };
  }

  /**
   * Shared-tangent mode: elements [start, end) of (1/K) Σ_k s_k v_k, where s_k are the batch's
   * directional derivatives, regenerated from the seed into the coordinator's vector.
   */
  rebuild(
    step: number,
    sums: Float32Array,
    range: { start: number; end: number },
    scale?: number,
  ): void {
    const { seed, stream, dist, rebuildInto } = this.setup;
    if (!rebuildInto) throw new Error("rebuild: this worker was set up without rebuildInto");
    const { layout, lowRank } = this.setup;
    const structure = lowRank === undefined ? undefined : { layout, R: lowRank };
    rebuildEstimate(rebuildInto, sums, range, { seed, step, stream, dist }, scale, structure);
  }

  /** VᵀV of this step's K tangents over all parameters (projection). */
  private gram(): Float64Array {
    const { layout, K } = this.setup;
    const gram = new Float64Array(K * K);
    layout.names.forEach((name, i) => {
      addGram(gram, this.tangents[`${name}${TANGENT}`].data as Float32Array, K, layout.sizes[i]);
    });
    return gram;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
