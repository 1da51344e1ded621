/**
 * Rademacher (±1) values from the counter-based stream: element e is bit (e mod 32) of word
 * ⌊e / 32⌋, so one hash serves 32 elements and any chunking of [0, n) yields the same numbers.
 * A set bit gives -1.
 *
 * The values are written as float32 bit patterns (sign bit | 1.0f) through an Int32Array view,
 * which avoids a branch or a conversion per element.
 *
 * @module
 */

import { checkCounterRange, hashWord, type StreamKey } from "./counter_hash.ts";

/** Bit pattern of 1.0f; OR-ing bit 31 in makes -1.0f. */
const ONE_BITS = 0x3f800000;

/** Fills `out[i]` with the ±1 value at element `offset + i` of stream `key`. */
export function fillRademacher(key: StreamKey, offset: number, out: Float32Array): void {
  checkCounterRange(offset, out.length);
  const bits = new Int32Array(out.buffer, out.byteOffset, out.length);
  const { k0, k1 } = key;
  const n = out.length;
  let i = 0;
  // Head: the elements before the first word boundary share one partly used word.
  const lead = Math.min(n, (32 - (offset & 31)) & 31);
  if (lead > 0) {
    const w = hashWord(k0, k1, Math.floor(offset / 32));
    for (let b = offset & 31; i < lead; i++, b++) bits[i] = ONE_BITS | ((w >>> b) << 31);
  }
  // Body: whole words; `word` counts from the word that holds element offset + i.
  let word = (offset + i) / 32;
  for (; i + 32 <= n; i += 32, word++) {
    const w = hashWord(k0, k1, word);
    for (let b = 0; b < 32; b++) bits[i + b] = ONE_BITS | ((w >>> b) << 31);
  }
  // Tail: the first bits of one more word.
  if (i < n) {
    const w = hashWord(k0, k1, word);
    for (let b = 0; i < n; i++, b++) bits[i] = ONE_BITS | ((w >>> b) << 31);
  }
}
