import assert from "node:assert/strict";
import { COUNTER_LIMIT, streamKey } from "../src/random/counter_hash.ts";
import { fillNormal, fillNormalReference } from "../src/random/fill_normal.ts";
import { CELL_COUNT, normalTable } from "../src/random/normal_table.ts";
import { CHUNK, normalKernel } from "../src/random/normal_wasm.ts";
import { sleb, uleb } from "../src/random/wasm_encoding.ts";

function bothWays(seed: number, offset: number, n: number): [Float32Array, Float32Array] {
  const key = streamKey(seed, 1, 2, 3);
  const fast = new Float32Array(n);
  const reference = new Float32Array(n);
  fillNormal(key, offset, fast);
  fillNormalReference(key, offset, reference);
  return [fast, reference];
}

function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) assert.fail(`${what}: element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("Deno runs the normal sampler's WebAssembly SIMD kernel", () => {
  assert.notEqual(normalKernel(), null);
});

Deno.test("the WebAssembly kernel and the JavaScript loop give the same bits", () => {
  const lengths = [1, 3, 4, 5, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 7];
  for (const n of lengths) {
    for (const offset of [0, 1, 2 ** 31 - 2, COUNTER_LIMIT - n]) {
      const [fast, reference] = bothWays(n + offset, offset, n);
      assertSameBits(fast, reference, `n = ${n}, offset = ${offset}`);
    }
  }
});

Deno.test("the two paths agree on a million values, tail values included", () => {
  const [fast, reference] = bothWays(77, 12345, 1 << 20);
  assertSameBits(fast, reference, "1M values");
  let tails = 0;
  for (const x of fast) if (Math.abs(x) > 4.17) tails++;
  assert.ok(tails > 10, `${tails} tail values`);
});

Deno.test("no table cell yields 0, so ±0 marks exactly the tail words", () => {
  const { cells } = normalTable();
  for (let j = 1; j < CELL_COUNT; j++) {
    // Values increase with the fraction f, and all lie in the (negative) lower half.
    const last = Math.fround(cells[2 * j] + cells[2 * j + 1] * 0xffff);
    if (!(last < 0)) assert.fail(`cell ${j} reaches ${last}`);
  }
  assert.equal(cells[0], 0);
  assert.equal(cells[1], 0);
});

Deno.test("LEB128 encodings match the WebAssembly specification's examples", () => {
  assert.deepEqual(uleb(624485), [0xe5, 0x8e, 0x26]);
  assert.deepEqual(uleb(0), [0]);
  assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  assert.deepEqual(sleb(63), [0x3f]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]);
  assert.deepEqual(sleb(0x735a2d97), [0x97, 0xdb, 0xe8, 0x9a, 0x07]);
});
