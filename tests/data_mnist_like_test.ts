import { UserError } from "../src/errors.ts";
import { loadFashionMnist, loadIdxDataset, loadKmnist } from "../src/data/mnist_like.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  balancedLabels,
  classCounts,
  idxImages,
  idxLabels,
  withTempDir,
  writeIdxDir,
} from "./data_fixtures.ts";

function inUnitRange(x: Float32Array): boolean {
  return x.every((v) => v >= 0 && v <= 1);
}

Deno.test("KMNIST by default re-splits the official test split 500/100, stratified", async () => {
  const data = await loadKmnist();
  assertEquals(data.name, "kmnist");
  assertEquals(data.featureShape, [1, 28, 28]);
  assertEquals(data.classes, ["お", "き", "す", "つ", "な", "は", "ま", "や", "れ", "を"]);
  assertEquals([data.train.count, data.test.count], [500, 100]);
  assertEquals(data.train.x.length, 500 * 784);
  assertEquals(classCounts(data.train.y, 10), new Array(10).fill(50));
  assertEquals(classCounts(data.test.y, 10), new Array(10).fill(10));
  assert(inUnitRange(data.train.x) && inUnitRange(data.test.x));
  assert(data.split.includes("official test split (10,000 images)"), data.split);
  assert(data.split.includes("re-split 500 train / 100 test, seed 0"), data.split);
  assert(data.split.includes("not comparable to published KMNIST results"), data.split);
});

Deno.test("KMNIST re-split sizes and seed are parameters", async () => {
  const a = await loadKmnist({ trainCount: 1000, testCount: 200, seed: 4 });
  assertEquals([a.train.count, a.test.count], [1000, 200]);
  assert(a.split.includes("seed 4"), a.split);
  const b = await loadKmnist({ trainCount: 1000, testCount: 200, seed: 5 });
  assert(a.test.x.some((v, i) => v !== b.test.x[i]), "seeds 4 and 5 gave the same test set");
});

Deno.test("a directory in the official layout uses the official splits", async () => {
  await withTempDir(async (dir) => {
    await writeIdxDir(dir, { train: balancedLabels(3, 20), test: balancedLabels(3, 5), gz: true });
    const data = await loadIdxDataset(dir, { name: dir });
    assertEquals([data.train.count, data.test.count], [60, 15]);
    assertEquals(data.classes, ["0", "1", "2"]);
    assertEquals(Array.from(data.train.y.subarray(0, 4)), [0, 1, 2, 0]);
    // Pixel k of image i is (i + k) % 256 in the fixture; image 1 pixel 2 is 3.
    assertEquals(data.train.x[784 + 2], Math.fround(3 / 255));
    assert(data.split.includes("official splits: train 60 / test 15"), data.split);
  });
});

Deno.test("official splits can be subsampled, stratified, and uncompressed files work too", async () => {
  await withTempDir(async (dir) => {
    await writeIdxDir(dir, {
      train: balancedLabels(4, 25),
      test: balancedLabels(4, 10),
      gz: false,
    });
    const data = await loadIdxDataset(dir, { name: "mine", trainCount: 40, testCount: 8 });
    assertEquals(classCounts(data.train.y, 4), [10, 10, 10, 10]);
    assertEquals(classCounts(data.test.y, 4), [2, 2, 2, 2]);
    assert(data.split.includes("train 40 of 100, test 8 of 40"), data.split);
  });
});

Deno.test("image and label counts that differ are an error naming both files", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/t10k-images-idx3-ubyte`, idxImages(5));
    await Deno.writeFile(`${dir}/t10k-labels-idx1-ubyte`, idxLabels([0, 1, 0, 1]));
    await assertRejects(
      () => loadIdxDataset(dir, { name: "x" }),
      UserError,
      "t10k-images-idx3-ubyte",
      "5 images",
      "4 labels",
    );
  });
});

Deno.test("a directory without IDX files is an error naming the expected files", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => loadIdxDataset(dir, { name: "x" }),
      UserError,
      dir,
      "t10k-images-idx3-ubyte",
    );
  });
});

Deno.test("a missing Fashion-MNIST directory suggests installing the Debian package", async () => {
  await assertRejects(
    () => loadFashionMnist({ dir: "/nonexistent/fashion-mnist" }),
    UserError,
    "/nonexistent/fashion-mnist",
    "apt-get install dataset-fashion-mnist",
  );
});

const haveFashion = await Deno.stat("/usr/share/datasets/fashion-mnist").then(
  () => true,
  () => false,
);

Deno.test({
  name: "Fashion-MNIST from the Debian package loads its official splits",
  ignore: !haveFashion,
  fn: async () => {
    const data = await loadFashionMnist({ trainCount: 1000, testCount: 500 });
    assertEquals([data.train.count, data.test.count], [1000, 500]);
    assertEquals(data.classes.length, 10);
    assertEquals(classCounts(data.test.y, 10), new Array(10).fill(50));
    assert(data.split.includes("train 1,000 of 60,000, test 500 of 10,000"), data.split);
  },
});
