/**
 * Whole-file writes that never leave a half-written file behind: the data goes to a
 * temporary file in the target's directory (same filesystem, so the rename is atomic),
 * is flushed to disk, and only then renamed over the target. A crash or a Ctrl-C leaves
 * either the old file or the new one, and at worst a stray `.*.tmp` file.
 */

import { basename, dirname, join } from "node:path";

const encoder = new TextEncoder();

/** Writes `data` to `path` atomically (replacing any existing file). */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const dir = dirname(path);
  // A random suffix lets concurrent writers of the same path not trample each other's temp.
  const temp = join(dir, `.${basename(path)}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    const file = await Deno.open(temp, { write: true, createNew: true });
    try {
      let written = 0;
      // FsFile.write may write fewer bytes than asked; loop until everything is out.
      while (written < bytes.length) written += await file.write(bytes.subarray(written));
      await file.syncData();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (err) {
    await Deno.remove(temp).catch(() => {});
    throw err;
  }
  await syncDirectory(dir);
}

/** Writes `value` as pretty-printed JSON (two-space indent, trailing newline), atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  // JSON.stringify returns undefined for undefined, functions and symbols.
  if (text === undefined) throw new TypeError(`writeJsonAtomic(${path}): value is not JSON`);
  await writeFileAtomic(path, text + "\n");
}

/**
 * Makes the rename itself durable. Best effort: opening a directory for fsync works on
 * Linux and macOS but not everywhere, and a failure here loses no data already written.
 */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await Deno.open(dir, { read: true });
    try {
      await handle.sync();
    } finally {
      handle.close();
    }
  } catch {
    // Not supported on this platform; the file content itself is already synced.
  }
}
