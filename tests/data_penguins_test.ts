import { loadPenguins, PENGUIN_FEATURES } from "../src/data/penguins.ts";
import type { Split } from "../src/data/dataset.ts";
import { assert, assertEquals, classCounts } from "./data_fixtures.ts";

function columnStats(split: Split, width: number, j: number): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < split.count; i++) sum += split.x[i * width + j];
  const mean = sum / split.count;
  let sq = 0;
  for (let i = 0; i < split.count; i++) sq += (split.x[i * width + j] - mean) ** 2;
  return { mean, std: Math.sqrt(sq / split.count) };
}

Deno.test("penguins keeps 342 of 344 rows, four measurements, three species", async () => {
  const data = await loadPenguins();
  assertEquals(data.name, "penguins");
  assertEquals(data.train.count + data.test.count, 342);
  assertEquals(data.featureShape, [4]);
  assertEquals(data.classes, ["Adelie", "Chinstrap", "Gentoo"]);
  assert(data.notes.some((n) => n.startsWith("dropped 2 rows")), data.notes.join("|"));
  assert(data.notes.some((n) => n.includes("island, sex, year")), data.notes.join("|"));
  assert(data.notes.some((n) => n.includes(PENGUIN_FEATURES.join(", "))), data.notes.join("|"));
  assert(data.split.includes("342 complete rows of 344"), data.split);
});

Deno.test("penguins has 151 Adelie, 68 Chinstrap and 123 Gentoo after dropping", async () => {
  const data = await loadPenguins();
  const train = classCounts(data.train.y, 3);
  const test = classCounts(data.test.y, 3);
  assertEquals(train.map((n, c) => n + test[c]), [151, 68, 123]);
});

Deno.test("penguins default split is 274 train / 68 test, stratified by species", async () => {
  const data = await loadPenguins();
  assertEquals([data.train.count, data.test.count], [274, 68]);
  assertEquals(classCounts(data.test.y, 3), [30, 14, 24]);
});

Deno.test("standardisation uses training statistics only", async () => {
  const data = await loadPenguins({ seed: 3 });
  let testMeanOff = 0;
  for (let j = 0; j < 4; j++) {
    const train = columnStats(data.train, 4, j);
    assert(Math.abs(train.mean) < 1e-5, `train mean ${train.mean}`);
    assert(Math.abs(train.std - 1) < 1e-5, `train std ${train.std}`);
    const test = columnStats(data.test, 4, j);
    testMeanOff += Math.abs(test.mean) + Math.abs(test.std - 1);
  }
  // Had the test split been standardised with its own statistics, this would be ~0.
  assert(testMeanOff > 1e-3, `test split looks self-standardised (${testMeanOff})`);
});

Deno.test("penguins splits are reproducible for a seed and differ for another", async () => {
  const a = await loadPenguins({ seed: 1 });
  const b = await loadPenguins({ seed: 1 });
  const c = await loadPenguins({ seed: 2 });
  assertEquals(Array.from(a.test.x), Array.from(b.test.x));
  assert(JSON.stringify(Array.from(a.test.x)) !== JSON.stringify(Array.from(c.test.x)));
});
