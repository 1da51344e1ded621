import { UserError } from "../src/errors.ts";
import { apportion, stratifiedSplit } from "../src/data/split.ts";
import { assert, assertEquals, assertRejects, classCounts } from "./data_fixtures.ts";

// 151/68/123 like penguins, in file order (sorted by class).
const LABELS = Int32Array.from([
  ...new Array(151).fill(0),
  ...new Array(68).fill(1),
  ...new Array(123).fill(2),
]);

Deno.test("largest-remainder apportionment sums to the total and respects caps", () => {
  assertEquals(apportion(68, [151, 68, 123], [151, 68, 123]), [30, 14, 24]);
  assertEquals(apportion(10, [3, 3, 3], [9, 9, 9]), [4, 3, 3]);
  assertEquals(apportion(3, [1, 1, 1], [0, 5, 5]), [0, 2, 1]);
});

Deno.test("a stratified split represents every class in proportion in both parts", () => {
  const { train, test } = stratifiedSplit(LABELS, { testFraction: 0.2, seed: 0 });
  assertEquals([train.length, test.length], [274, 68]);
  assertEquals(classCounts(Int32Array.from(test, (i) => LABELS[i]), 3), [30, 14, 24]);
  assertEquals(classCounts(Int32Array.from(train, (i) => LABELS[i]), 3), [121, 54, 99]);
  const all = new Set([...train, ...test]);
  assertEquals(all.size, LABELS.length, "train and test overlap or miss rows");
});

Deno.test("a split is reproducible for a seed and different for another", () => {
  const a = stratifiedSplit(LABELS, { seed: 7 });
  const b = stratifiedSplit(LABELS, { seed: 7 });
  const c = stratifiedSplit(LABELS, { seed: 8 });
  assertEquals(Array.from(a.test), Array.from(b.test));
  assert(JSON.stringify(Array.from(a.test)) !== JSON.stringify(Array.from(c.test)));
});

Deno.test("counts below the total give a stratified subsample without overlap", () => {
  const labels = Int32Array.from({ length: 10000 }, (_, i) => i % 10);
  const { train, test } = stratifiedSplit(labels, { trainCount: 500, testCount: 100, seed: 0 });
  assertEquals(classCounts(Int32Array.from(train, (i) => labels[i]), 10), new Array(10).fill(50));
  assertEquals(classCounts(Int32Array.from(test, (i) => labels[i]), 10), new Array(10).fill(10));
  assertEquals(new Set([...train, ...test]).size, 600);
});

Deno.test("asking for more examples than exist is an error", async () => {
  await assertRejects(
    () => stratifiedSplit(LABELS, { trainCount: 300, testCount: 100, where: "p.csv" }),
    UserError,
    "p.csv",
    "only 342",
  );
});
