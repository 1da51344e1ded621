/**
 * Seeded standard normals for checks and test data, drawn from the counter-based stream: the
 * values are a pure function of (seed, stream, index), like every tangent.
 *
 * @module
 */

import { streamKey } from "./counter_hash.ts";
import { fillNormal } from "./fill_normal.ts";

/**
 * `n` standard normals of the stream (seed, stream, index). Any integer seed is taken modulo
 * 2^32; `stream` and `index` separate the draws of one seed (e.g. inputs, directions).
 */
export function seededNormals(n: number, seed: number, stream = 0, index = 0): Float32Array {
  const out = new Float32Array(n);
  fillNormal(streamKey(seed >>> 0, stream, index, 0), 0, out);
  return out;
}
