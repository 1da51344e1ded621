import {
  batchesPerEpoch,
  batchOrder,
  gatherBatch,
  oneHot,
  shardRange,
} from "../src/data/batches.ts";
import type { Split } from "../src/data/dataset.ts";
import { assert, assertEquals } from "./data_fixtures.ts";

Deno.test("every index appears exactly once per epoch, in batches of the given size", () => {
  const batches = batchOrder(103, 10, 0, 42);
  assertEquals(batches.length, batchesPerEpoch(103, 10));
  assertEquals(batches.map((b) => b.length), [...new Array(10).fill(10), 3]);
  const seen = batches.flatMap((b) => Array.from(b)).sort((a, b) => a - b);
  assertEquals(seen, Array.from({ length: 103 }, (_, i) => i));
});

Deno.test("batch order differs per epoch and is deterministic for a seed", () => {
  const flat = (epoch: number, seed: number) =>
    JSON.stringify(batchOrder(50, 8, epoch, seed).flatMap((b) => Array.from(b)));
  assertEquals(flat(3, 1), flat(3, 1));
  assert(flat(0, 1) !== flat(1, 1), "epochs 0 and 1 have the same order");
  assert(flat(0, 1) !== flat(0, 2), "seeds 1 and 2 have the same order");
});

Deno.test("batchesPerEpoch keeps the last short batch", () => {
  assertEquals([batchesPerEpoch(100, 10), batchesPerEpoch(101, 10), batchesPerEpoch(0, 10)], [
    10,
    11,
    0,
  ]);
});

Deno.test("gatherBatch copies the chosen rows and makes one-hot targets", () => {
  const split: Split = {
    x: Float32Array.from({ length: 12 }, (_, i) => i),
    y: Int32Array.from([0, 2, 1]),
    count: 3,
  };
  const batch = gatherBatch(split, [2, 0], [2, 2]);
  assertEquals(Array.from(batch.x), [8, 9, 10, 11, 0, 1, 2, 3]);
  assertEquals(Array.from(batch.y), [1, 0]);
  assertEquals(Array.from(batch.oneHot(3)), [0, 1, 0, 1, 0, 0]);
});

Deno.test("oneHot rejects a label outside the class range", () => {
  let threw = false;
  try {
    oneHot([0, 3], 3);
  } catch (e) {
    threw = e instanceof RangeError;
  }
  assert(threw);
});

Deno.test("shards cover the batch exactly and differ in size by at most one", () => {
  for (const [batchLen, workers] of [[10, 3], [12, 4], [2, 5], [0, 2], [7, 1]]) {
    const shards = Array.from({ length: workers }, (_, w) => shardRange(batchLen, workers, w));
    assertEquals(shards[0].start, 0);
    assertEquals(shards[workers - 1].end, batchLen);
    for (let w = 1; w < workers; w++) assertEquals(shards[w].start, shards[w - 1].end);
    const sizes = shards.map((s) => s.end - s.start);
    assert(Math.max(...sizes) - Math.min(...sizes) <= 1, `sizes ${sizes}`);
  }
  assertEquals(shardRange(2, 5, 4), { start: 2, end: 2 }); // empty shard, caller skips it
});
