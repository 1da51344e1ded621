/**
 * Tangent samplers: tangent k of step t drawn by worker w is a pure function of
 * (seed, t, w, k), element by element, so a caller may sample one parameter tensor at a time
 * (passing its offset in the flat parameter vector) or the whole vector, and get the same
 * numbers; a coordinator holding the seed can rebuild any worker's tangent.
 *
 * @module
 */

import { type StreamKey, streamKey } from "./counter_hash.ts";
import { fillNormal } from "./fill_normal.ts";
import { fillRademacher } from "./fill_rademacher.ts";

/**
 * The tangent distribution: both have mean 0 and covariance I. The two read the same hash
 * words (normal element e uses word e, Rademacher element e bit e mod 32 of word ⌊e/32⌋), so
 * a normal and a Rademacher tangent with the same indices are not independent of each other;
 * a run uses one distribution.
 */
export type TangentDist = "normal" | "rademacher";

/** Which tangent stream, and where in it. */
export interface TangentStream {
  /** The run seed: a non-negative safe integer. */
  seed: number;
  /** Optimizer step, worker index and tangent index: uint32 values. */
  step: number;
  worker: number;
  tangent: number;
  dist: TangentDist;
  /** Element index of out[0] within the tangent (default 0). */
  offset?: number;
}

/** K consecutive tangents of one (seed, step, worker), starting at `firstTangent`. */
export interface TangentBatch {
  seed: number;
  step: number;
  worker: number;
  firstTangent: number;
  K: number;
  dist: TangentDist;
  /** Element index of each tangent's first sampled element (default 0). */
  offset?: number;
}

/** The fill kernel of a distribution: out[i] = element offset + i of stream `key`. */
export function fillTangent(
  dist: TangentDist,
  key: StreamKey,
  offset: number,
  out: Float32Array,
): void {
  switch (dist) {
    case "normal":
      return fillNormal(key, offset, out);
    case "rademacher":
      return fillRademacher(key, offset, out);
    default:
      throw new RangeError(`unknown tangent distribution: ${String(dist satisfies never)}`);
  }
}

/** Fills out[i] with element `offset + i` of the tangent that `stream` names. */
export function sampleTangent(out: Float32Array, stream: TangentStream): void {
  const key = streamKey(stream.seed, stream.step, stream.worker, stream.tangent);
  fillTangent(stream.dist, key, stream.offset ?? 0, out);
}

/**
 * Fills out (length K·n) with K tangents, row-major: out[k·n + i] is element `offset + i` of
 * tangent `firstTangent + k`.
 */
export function sampleTangents(out: Float32Array, n: number, batch: TangentBatch): void {
  const { K } = batch;
  if (!Number.isInteger(n) || n < 0 || !Number.isInteger(K) || K < 0 || out.length !== K * n) {
    throw new RangeError(`out has ${out.length} entries; expected K·n = ${K}·${n}`);
  }
  for (let k = 0; k < K; k++) {
    const key = streamKey(batch.seed, batch.step, batch.worker, batch.firstTangent + k);
    fillTangent(batch.dist, key, batch.offset ?? 0, out.subarray(k * n, (k + 1) * n));
  }
}
