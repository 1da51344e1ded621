/**
 * Standard normal values from the counter-based stream: element e is a pure function of
 * (key, e), made from word e alone (plus, with probability 3·10⁻⁵, one more word from the
 * same counter under a derived key), so any chunking of [0, n) yields the same numbers.
 *
 * Per element: one hash word, a table lookup and one multiply-add; see `normal_table.ts` for
 * the mapping and its accuracy. The main loop runs in a WebAssembly SIMD kernel where
 * available (`normal_wasm.ts`, ~2x faster), else in JavaScript; both give the same bits.
 *
 * @module
 */

import { checkCounterRange, hashWord, type StreamKey } from "./counter_hash.ts";
import { inverseNormalCdf } from "./inverse_normal_cdf.ts";
import { CHUNK, normalKernel } from "./normal_wasm.ts";
import { normalTable } from "./normal_table.ts";

/** XORed into the key for the tail's extra word, so that it is independent of word e. */
const TAIL_K0 = 0x5bd1e995;
const TAIL_K1 = 0x1b873593;

/**
 * The tail value (|z| > 4.17) for counter `counter`, from its word's 31 magnitude bits
 * g < 2^16: u = (g + (y + 1/2) / 2^32) / 2^32 with y a second word, so u has ~48 significant
 * bits and the tail is smooth out to ~9σ.
 */
function tailValue(k0: number, k1: number, scale: number, counter: number): number {
  const h = hashWord(k0, k1, counter) | 0;
  const g = h ^ (h >> 31);
  const y = hashWord(k0 ^ TAIL_K0, k1 ^ TAIL_K1, counter);
  return ((h >> 31) | 1) * scale * inverseNormalCdf((g + (y + 0.5) * 2 ** -32) * 2 ** -32);
}

/**
 * Fills in the tail values of out[from, to): the main loops leave them as ±0, a value no
 * table cell can produce (the smallest is about 3·10⁻¹⁰ in magnitude).
 */
function fixTails(
  k0: number,
  k1: number,
  offset: number,
  out: Float32Array,
  from: number,
  to: number,
): void {
  const { scale } = normalTable();
  for (let i = from; i < to; i++) {
    if (out[i] === 0) out[i] = tailValue(k0, k1, scale, offset + i);
  }
}

/** Elements per block of the JavaScript loop; ~3% of blocks meet a tail word. */
const BLOCK = 1024;

/** The JavaScript main loop: the reference that the WebAssembly kernel reproduces. */
export function fillNormalReference(key: StreamKey, offset: number, out: Float32Array): void {
  checkCounterRange(offset, out.length);
  const { cells } = normalTable();
  const { k0, k1 } = key;
  const n = out.length;
  for (let start = 0; start < n; start += BLOCK) {
    const end = Math.min(n, start + BLOCK);
    // Branch-free (a rarely taken branch with the tail call inlined measured ~20% slower):
    // cell 0 holds zeros, so a tail word gives ±0 here and only sets `tail`.
    let tail = 0;
    for (let i = start; i < end; i++) {
      const h = hashWord(k0, k1, offset + i) | 0;
      // The table holds the lower half (negative values); a set top bit mirrors the other 31
      // bits, g, and flips the sign, so value(~h) = -value(h) exactly.
      const sign = (h >> 31) | 1;
      const g = h ^ (h >> 31);
      const j = g >>> 16;
      out[i] = sign * (cells[2 * j] + cells[2 * j + 1] * (g & 0xffff));
      tail |= (j - 1) >>> 31; // 1 exactly when j = 0
    }
    if (tail !== 0) fixTails(k0, k1, offset, out, start, end);
  }
}

/** Fills `out[i]` with the standard normal value at element `offset + i` of stream `key`. */
export function fillNormal(key: StreamKey, offset: number, out: Float32Array): void {
  const kernel = normalKernel();
  if (kernel === null) return fillNormalReference(key, offset, out);
  checkCounterRange(offset, out.length);
  const { k0, k1 } = key;
  for (let start = 0; start < out.length; start += CHUNK) {
    const count = Math.min(CHUNK, out.length - start);
    const tail = kernel.run(k0, k1, offset + start, count);
    out.set(count === CHUNK ? kernel.output : kernel.output.subarray(0, count), start);
    if (tail) fixTails(k0, k1, offset, out, start, start + count);
  }
}
