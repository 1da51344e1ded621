// Statistical checks use 5 standard errors: with fixed seeds each test is deterministic, and
// a true failure of independence or balance of the size these tests target shows as far more.
import assert from "node:assert/strict";
import {
  COUNTER_LIMIT,
  fillUint32,
  hashWord,
  type StreamKey,
  streamKey,
} from "../src/random/counter_hash.ts";

const Z = 5;
const UNIT = 2 ** -32;

function words(key: StreamKey, offset: number, n: number): Uint32Array {
  const out = new Uint32Array(n);
  fillUint32(key, offset, out);
  return out;
}

/** Pearson correlation of the uniforms behind two word arrays. */
function correlation(a: Uint32Array, b: Uint32Array): number {
  let sa = 0, sb = 0, sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] * UNIT - 0.5;
    const y = b[i] * UNIT - 0.5;
    sa += x;
    sb += y;
    sab += x * y;
    saa += x * x;
    sbb += y * y;
  }
  const n = a.length;
  const cov = sab / n - (sa / n) * (sb / n);
  return cov / Math.sqrt((saa / n - (sa / n) ** 2) * (sbb / n - (sb / n) ** 2));
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

Deno.test("hashWord and fillUint32 give the same words", () => {
  const key = streamKey(11, 3, 1, 4);
  const out = words(key, 12345, 2000);
  for (let i = 0; i < out.length; i++) assert.equal(out[i], hashWord(key.k0, key.k1, 12345 + i));
});

Deno.test("the same key and counters give the same words, also across releases", () => {
  const key = streamKey(0, 0, 0, 0);
  assert.deepEqual(words(key, 0, 1000), words(key, 0, 1000));
  // Pinned values: runs record only their seed, so the stream must never change silently.
  assert.deepEqual(key, { k0: 1078495509, k1: 2417811706 });
  assert.deepEqual(Array.from(words(key, 0, 4)), [0xd888d3fa, 0x5c4fb50f, 0x545853f3, 0x5ff8ef80]);
  const big = streamKey(2 ** 40 + 5, 7, 1, 3);
  assert.deepEqual(big, { k0: 458321167, k1: 3401910239 });
  assert.deepEqual(Array.from(words(big, 1000, 4)), [
    0x60ce28ce,
    0xf22b2061,
    0x2aeeba36,
    0x7c008274,
  ]);
});

Deno.test("streamKey gives distinct keys to 160,000 neighbouring (seed, step, worker, tangent)", () => {
  const seen = new Set<bigint>();
  let count = 0;
  for (const seed of [0, 1, 2, 2 ** 32, 2 ** 32 + 1]) {
    for (let step = 0; step < 20; step++) {
      for (let worker = 0; worker < 16; worker++) {
        for (let tangent = 0; tangent < 100; tangent++) {
          const { k0, k1 } = streamKey(seed, step, worker, tangent);
          seen.add((BigInt(k0) << 32n) | BigInt(k1));
          count++;
        }
      }
    }
  }
  assert.equal(seen.size, count);
});

Deno.test("streamKey and fillUint32 reject arguments outside their ranges", () => {
  assert.throws(() => streamKey(-1, 0, 0, 0), RangeError);
  assert.throws(() => streamKey(0.5, 0, 0, 0), RangeError);
  assert.throws(() => streamKey(2 ** 53, 0, 0, 0), RangeError);
  assert.throws(() => streamKey(0, 2 ** 32, 0, 0), RangeError);
  assert.throws(() => streamKey(0, 0, -1, 0), RangeError);
  assert.throws(() => streamKey(0, 0, 0, 1.5), RangeError);
  const key = streamKey(1, 2, 3, 4);
  assert.throws(() => fillUint32(key, COUNTER_LIMIT - 3, new Uint32Array(4)), RangeError);
  assert.throws(() => fillUint32(key, -1, new Uint32Array(4)), RangeError);
  // The last counters are valid and follow the same function.
  const last = words(key, COUNTER_LIMIT - 4, 4);
  assert.equal(last[3], hashWord(key.k0, key.k1, COUNTER_LIMIT - 1));
});

Deno.test("words are uniform: mean and variance of u = (w + 1/2) / 2^32 match U(0, 1)", () => {
  const n = 1 << 21;
  const w = words(streamKey(5, 0, 0, 0), 0, n);
  let s = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    const u = (w[i] + 0.5) * UNIT - 0.5;
    s += u;
    s2 += u * u;
  }
  assert.ok(Math.abs(s / n) < Z * Math.sqrt(1 / 12 / n), `mean - 1/2 = ${s / n}`);
  // Var((u - 1/2)²) = 1/80 - 1/144 = 1/180.
  assert.ok(Math.abs(s2 / n - 1 / 12) < Z * Math.sqrt(1 / 180 / n), `variance = ${s2 / n}`);
});

Deno.test("each of the 32 bits is set in half of the words", () => {
  const n = 1 << 20;
  const w = words(streamKey(6, 0, 0, 0), 0, n);
  for (let bit = 0; bit < 32; bit++) {
    let ones = 0;
    for (let i = 0; i < n; i++) ones += (w[i] >>> bit) & 1;
    assert.ok(Math.abs(ones - n / 2) < Z * Math.sqrt(n) / 2, `bit ${bit}: ${ones} of ${n}`);
  }
});

Deno.test("bytes are uniform: chi-square over 256 values is within its range", () => {
  const n = 1 << 20;
  const w = words(streamKey(7, 0, 0, 0), 0, n);
  const bytes = new Uint8Array(w.buffer);
  const counts = new Float64Array(256);
  for (const b of bytes) counts[b]++;
  const expected = bytes.length / 256;
  let chi2 = 0;
  for (const c of counts) chi2 += (c - expected) ** 2 / expected;
  // 255 degrees of freedom: mean 255, standard deviation sqrt(510).
  assert.ok(Math.abs(chi2 - 255) < Z * Math.sqrt(510), `chi-square = ${chi2}`);
});

Deno.test("consecutive counters are independent: correlation and a serial pair test", () => {
  const n = 1 << 20;
  const w = words(streamKey(8, 0, 0, 0), 0, n + 1);
  const r = correlation(w.subarray(0, n), w.subarray(1, n + 1));
  assert.ok(Math.abs(r) < Z / Math.sqrt(n), `lag-1 correlation = ${r}`);
  // Pairs (top 4 bits of word c, top 4 bits of word c + 1) over 256 cells.
  const counts = new Float64Array(256);
  for (let i = 0; i < n; i++) counts[((w[i] >>> 28) << 4) | (w[i + 1] >>> 28)]++;
  let chi2 = 0;
  for (const c of counts) chi2 += (c - n / 256) ** 2 / (n / 256);
  assert.ok(Math.abs(chi2 - 255) < Z * Math.sqrt(510), `serial chi-square = ${chi2}`);
});

Deno.test("neighbouring keys give uncorrelated streams with balanced XOR bits", () => {
  const n = 1 << 18;
  const base = words(streamKey(9, 100, 2, 7), 0, n);
  const neighbours = [
    streamKey(10, 100, 2, 7),
    streamKey(9, 101, 2, 7),
    streamKey(9, 100, 3, 7),
    streamKey(9, 100, 2, 8),
  ];
  for (const key of neighbours) {
    const other = words(key, 0, n);
    const r = correlation(base, other);
    assert.ok(Math.abs(r) < Z / Math.sqrt(n), `correlation = ${r}`);
    let differing = 0;
    for (let i = 0; i < n; i++) differing += popcount(base[i] ^ other[i]);
    const bits = 32 * n;
    assert.ok(Math.abs(differing - bits / 2) < Z * Math.sqrt(bits) / 2, `${differing} of ${bits}`);
  }
});

Deno.test("flipping any counter or key bit flips each output bit half the time", () => {
  const trials = 4096;
  const { k0, k1 } = streamKey(12, 0, 0, 0);
  const tol = Z * Math.sqrt(32 * trials) / 2;
  for (let bit = 0; bit < 32; bit++) {
    const mask = (1 << bit) >>> 0;
    let counterFlips = 0, k0Flips = 0, k1Flips = 0;
    for (let t = 0; t < trials; t++) {
      const c = hashWord(0x1234, 0x5678, t); // spread-out counters
      const h = hashWord(k0, k1, c);
      counterFlips += popcount(h ^ hashWord(k0, k1, (c ^ mask) >>> 0));
      k0Flips += popcount(h ^ hashWord((k0 ^ mask) >>> 0, k1, c));
      k1Flips += popcount(h ^ hashWord(k0, (k1 ^ mask) >>> 0, c));
    }
    for (const [what, flips] of [["counter", counterFlips], ["k0", k0Flips], ["k1", k1Flips]]) {
      assert.ok(Math.abs(Number(flips) - 16 * trials) < tol, `${what} bit ${bit}: ${flips}`);
    }
  }
});
