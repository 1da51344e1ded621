import assert from "node:assert/strict";
import { COUNTER_LIMIT } from "../src/random/counter_hash.ts";
import {
  sampleTangent,
  sampleTangents,
  type TangentDist,
  type TangentStream,
} from "../src/random/tangents.ts";

const DISTS: TangentDist[] = ["normal", "rademacher"];
const BASE = { seed: 123456789, step: 17, worker: 2, tangent: 5 };

function sample(stream: TangentStream, n: number): Float32Array {
  const out = new Float32Array(n);
  sampleTangent(out, stream);
  return out;
}

/** Bitwise equality, so that -0/+0 or NaN payloads could not hide a difference. */
function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, what);
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) {
    if (x[i] !== y[i]) assert.fail(`${what}: element ${i} differs (${a[i]} vs ${b[i]})`);
  }
}

Deno.test("sampling [0, n) at once equals sampling [0, a) and [a, n) separately", () => {
  const n = 5000;
  for (const dist of DISTS) {
    const whole = sample({ ...BASE, dist }, n);
    for (const a of [0, 1, 31, 32, 33, 64, 1000, 1023, 1024, 1025, 2047, 4999, 5000]) {
      const split = new Float32Array(n);
      sampleTangent(split.subarray(0, a), { ...BASE, dist });
      sampleTangent(split.subarray(a), { ...BASE, dist, offset: a });
      assertSameBits(split, whole, `${dist}, split at ${a}`);
    }
  }
});

Deno.test("any chunking of a tangent into parameter tensors gives the flat vector's numbers", () => {
  const n = 100_003;
  // Uneven tensor sizes, as a model's weights and biases would be.
  const sizes = [784 * 100, 100, 100 * 10 + 3, 10, 7, 1, 0];
  let total = 0;
  for (const size of sizes) total += size;
  sizes.push(n - total);
  for (const dist of DISTS) {
    const whole = sample({ ...BASE, dist }, n);
    const pieces = new Float32Array(n);
    let offset = 0;
    for (const size of sizes) {
      sampleTangent(pieces.subarray(offset, offset + size), { ...BASE, dist, offset });
      offset += size;
    }
    assertSameBits(pieces, whole, dist);
  }
});

Deno.test("the last elements of the counter range sample like any others", () => {
  for (const dist of DISTS) {
    const start = COUNTER_LIMIT - 1000;
    const whole = sample({ ...BASE, dist, offset: start }, 1000);
    const tail = sample({ ...BASE, dist, offset: start + 999 }, 1);
    assert.equal(tail[0], whole[999]);
    assert.throws(() => sample({ ...BASE, dist, offset: start + 1 }, 1000), RangeError);
  }
});

Deno.test("the same arguments give the same bits, in any order of calls", () => {
  for (const dist of DISTS) {
    const first = sample({ ...BASE, dist }, 10_000);
    sample({ ...BASE, dist, tangent: 6 }, 10_000); // unrelated call in between
    assertSameBits(sample({ ...BASE, dist }, 10_000), first, dist);
  }
});

Deno.test("a different seed, step, worker or tangent gives a different, uncorrelated tangent", () => {
  const n = 200_000;
  for (const dist of DISTS) {
    const base = sample({ ...BASE, dist }, n);
    const variants = [
      { ...BASE, seed: BASE.seed + 1 },
      { ...BASE, step: BASE.step + 1 },
      { ...BASE, worker: BASE.worker + 1 },
      { ...BASE, tangent: BASE.tangent + 1 },
      { ...BASE, seed: BASE.seed + 2 ** 32 }, // differs only in the seed's high word
    ];
    for (const variant of variants) {
      const other = sample({ ...variant, dist }, n);
      let equal = 0, cross = 0;
      for (let i = 0; i < n; i++) {
        if (other[i] === base[i]) equal++;
        cross += other[i] * base[i];
      }
      const label = `${dist} ${JSON.stringify(variant)}`;
      // Normal values collide almost never; ±1 values agree half the time.
      const expectedEqual = dist === "normal" ? 0 : n / 2;
      assert.ok(Math.abs(equal - expectedEqual) < 5 * Math.sqrt(n) / 2 + 5, `${label}: ${equal}`);
      assert.ok(Math.abs(cross / n) < 5 / Math.sqrt(n), `${label}: correlation ${cross / n}`);
    }
  }
});

Deno.test("sampleTangents writes tangent firstTangent + k in row k", () => {
  const n = 1037;
  const K = 4;
  for (const dist of DISTS) {
    const batch = new Float32Array(K * n);
    sampleTangents(batch, n, { ...BASE, firstTangent: 9, K, dist, offset: 40 });
    for (let k = 0; k < K; k++) {
      const row = sample({ ...BASE, tangent: 9 + k, dist, offset: 40 }, n);
      assertSameBits(batch.subarray(k * n, (k + 1) * n), row, `${dist} row ${k}`);
    }
  }
});

Deno.test("sampleTangents rejects an output whose length is not K·n", () => {
  const batch = { ...BASE, firstTangent: 0, K: 3, dist: "normal" as const };
  assert.throws(() => sampleTangents(new Float32Array(10), 4, batch), RangeError);
  sampleTangents(new Float32Array(0), 0, batch);
  sampleTangents(new Float32Array(0), 5, { ...batch, K: 0 });
});

Deno.test("an unknown distribution name is rejected", () => {
  const dist = "uniform" as unknown as TangentDist;
  assert.throws(() => sample({ ...BASE, dist }, 4), RangeError);
});

Deno.test("tail values (|z| > 4.17, the rarely taken path) do not depend on the chunking", () => {
  const n = 1 << 20;
  const whole = sample({ ...BASE, dist: "normal" }, n);
  const tails: number[] = [];
  for (let i = 0; i < n; i++) if (Math.abs(whole[i]) > 4.17) tails.push(i);
  // About 2^-15 of the elements: 32 expected.
  assert.ok(tails.length > 10 && tails.length < 70, `${tails.length} tail values`);
  for (const i of tails) {
    assert.equal(sample({ ...BASE, dist: "normal", offset: i }, 1)[0], whole[i]);
    const around = sample({ ...BASE, dist: "normal", offset: Math.max(0, i - 5) }, 11);
    assert.equal(around[i - Math.max(0, i - 5)], whole[i]);
  }
});
