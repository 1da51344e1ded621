import { UserError } from "../src/errors.ts";
import { decodeIdxImages, decodeIdxLabels, readIdxImages, readIdxLabels } from "../src/data/idx.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  classCounts,
  gzip,
  idxImages,
  idxLabels,
  withTempDir,
} from "./data_fixtures.ts";

const KMNIST = new URL("../data/kmnist/", import.meta.url).pathname;

Deno.test("the shipped KMNIST t10k files decode to 10000 28x28 images with 1000 labels per class", async () => {
  const images = await readIdxImages(`${KMNIST}t10k-images-idx3-ubyte.gz`);
  const labels = await readIdxLabels(`${KMNIST}t10k-labels-idx1-ubyte.gz`);
  assertEquals([images.count, images.rows, images.cols], [10000, 28, 28]);
  assertEquals(images.pixels.length, 10000 * 28 * 28);
  assertEquals(classCounts(labels.labels, 10), new Array(10).fill(1000));
  assert(images.pixels.some((p) => p === 255) && images.pixels.some((p) => p === 0));
});

Deno.test("a gzip file without the .gz suffix is recognised by its magic bytes", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/labels`, await gzip(idxLabels([1, 2, 3])));
    assertEquals(Array.from((await readIdxLabels(`${dir}/labels`)).labels), [1, 2, 3]);
  });
});

Deno.test("a wrong magic number is an error saying what was found and what was expected", async () => {
  await assertRejects(
    () => decodeIdxImages(idxLabels([1, 2, 3, 4, 5, 6, 7, 8, 9]), "x-images"),
    UserError,
    "x-images",
    "magic number 2049",
    "expected 2051",
  );
  await assertRejects(
    () => decodeIdxLabels(idxImages(1, 2, 2), "y-labels"),
    UserError,
    "y-labels",
    "2051",
    "expected 2049",
  );
});

Deno.test("truncated IDX data is an error with the expected and actual byte counts", async () => {
  const bytes = idxImages(3, 4, 4).subarray(0, 16 + 40);
  await assertRejects(
    () => decodeIdxImages(bytes, "t.idx"),
    UserError,
    "t.idx",
    "truncated",
    "expected 64 bytes, got 56",
  );
});

Deno.test("a file shorter than an IDX header is an error", async () => {
  await assertRejects(
    () => decodeIdxLabels(new Uint8Array([0, 0, 8]), "l.idx"),
    UserError,
    "l.idx",
    "header too short",
  );
});

Deno.test("a corrupt .gz file is an error naming it", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/t10k-labels-idx1-ubyte.gz`;
    const good = await gzip(idxLabels(new Array(100).fill(1)));
    await Deno.writeFile(path, good.subarray(0, good.length - 12));
    await assertRejects(() => readIdxLabels(path), UserError, path, "gzip");
  });
});
