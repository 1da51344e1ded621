import { UserError } from "../src/errors.ts";
import { loadDataset } from "../src/data/load.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  balancedLabels,
  withTempDir,
  writeIdxDir,
} from "./data_fixtures.ts";

Deno.test("loadDataset dispatches the built-in names", async () => {
  const penguins = await loadDataset("penguins", { seed: 1, testFraction: 0.25 });
  assertEquals([penguins.name, penguins.train.count + penguins.test.count], ["penguins", 342]);
  const kmnist = await loadDataset("kmnist", { trainCount: 100, testCount: 50 });
  assertEquals([kmnist.name, kmnist.train.count, kmnist.test.count], ["kmnist", 100, 50]);
});

Deno.test("loadDataset accepts a .csv path and a directory of IDX files", async () => {
  await withTempDir(async (dir) => {
    const csv = `${dir}/t.csv`;
    const rows = Array.from({ length: 20 }, (_, i) => `${i % 2 ? "x" : "y"},${i},${i * i}`);
    await Deno.writeTextFile(csv, ["label,a,b", ...rows].join("\n"));
    const table = await loadDataset(csv, { labelColumn: "label" });
    assertEquals([table.name, table.train.count, table.test.count], [csv, 16, 4]);

    await Deno.mkdir(`${dir}/idx`);
    await writeIdxDir(`${dir}/idx`, { test: balancedLabels(2, 30), gz: true });
    const images = await loadDataset(`${dir}/idx`, { trainCount: 20, testCount: 10 });
    assertEquals([images.train.count, images.test.count], [20, 10]);
    assert(images.split.includes("re-split 20 train / 10 test"), images.split);
  });
});

Deno.test("an unknown dataset name is an error listing the choices", async () => {
  await assertRejects(
    () => loadDataset("mnist"),
    UserError,
    "mnist",
    "penguins, kmnist, fashion-mnist",
    ".csv",
  );
});

Deno.test("bad or inapplicable dataset options are errors", async () => {
  await assertRejects(
    () => loadDataset("penguins", { testFraction: 1.5 }),
    UserError,
    "testFraction",
  );
  await assertRejects(() => loadDataset("kmnist", { labelColumn: "y" }), UserError, "labelColumn");
  await assertRejects(
    () => loadDataset("kmnist", { trainCount: 9000, testCount: 2000 }),
    UserError,
    "only 10000",
  );
});
