import assert from "node:assert/strict";
import { writeFileAtomic, writeJsonAtomic } from "../src/fs/atomic.ts";

Deno.test("an atomic write replaces the content and leaves no temp file behind", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/summary.txt`;
    await writeFileAtomic(path, "first version, longer than the second\n");
    await writeFileAtomic(path, "second\n");
    assert.deepStrictEqual(await Deno.readTextFile(path), "second\n");
    await writeFileAtomic(path, new Uint8Array([1, 2, 3]));
    assert.deepStrictEqual(await Deno.readFile(path), new Uint8Array([1, 2, 3]));
    assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["summary.txt"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeJsonAtomic writes pretty JSON with a trailing newline", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/s.json`;
    await writeJsonAtomic(path, { a: 1, b: [true] });
    assert.deepStrictEqual(
      await Deno.readTextFile(path),
      '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}\n',
    );
    await assert.rejects(() => writeJsonAtomic(path, undefined), TypeError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a failed atomic write leaves no temp file and no target", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The target is a non-empty directory, so the final rename must fail.
    await Deno.mkdir(`${dir}/taken/inner`, { recursive: true });
    await assert.rejects(() => writeFileAtomic(`${dir}/taken`, "x"));
    assert.deepStrictEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["taken"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
