/** Helpers shared by the data tests: temp files and synthetic IDX data. */

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

export function assertEquals<T>(actual: T, expected: T, message = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${message}\n  actual:   ${a}\n  expected: ${e}`);
}

/** Awaits `run`, requires it to throw a `type` error whose message contains every `parts`. */
export async function assertRejects<E extends Error>(
  run: () => Promise<unknown> | unknown,
  type: new (...args: never[]) => E,
  ...parts: string[]
): Promise<E> {
  try {
    await run();
  } catch (e) {
    if (!(e instanceof type)) throw new Error(`expected ${type.name}, got ${e}`);
    for (const part of parts) {
      assert(e.message.includes(part), `message "${e.message}" lacks "${part}"`);
    }
    assert(!e.message.includes("\n"), `message is not one line: ${e.message}`);
    return e;
  }
  throw new Error(`expected a ${type.name}, nothing was thrown`);
}

/** Runs `body` with a fresh temp directory, removed afterwards. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fwdgrad_data_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function u32(value: number): number[] {
  return [(value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
}

/** An IDX image file whose pixel k of image i is `(i + k) % 256`. */
export function idxImages(
  count: number,
  rows = 28,
  cols = 28,
  magic = 2051,
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(16 + count * rows * cols);
  out.set([...u32(magic), ...u32(count), ...u32(rows), ...u32(cols)]);
  const size = rows * cols;
  for (let i = 0; i < count; i++) {
    for (let k = 0; k < size; k++) out[16 + i * size + k] = (i + k) % 256;
  }
  return out;
}

/** An IDX label file. */
export function idxLabels(labels: number[], magic = 2049): Uint8Array<ArrayBuffer> {
  return Uint8Array.from([...u32(magic), ...u32(labels.length), ...labels]);
}

export async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** `perClass` labels for each of `classes` classes, interleaved 0,1,2,...,0,1,2,... */
export function balancedLabels(classes: number, perClass: number): number[] {
  return Array.from({ length: classes * perClass }, (_, i) => i % classes);
}

/** Writes an MNIST-style directory; `train` omitted gives a test-only (t10k) directory. */
export async function writeIdxDir(
  dir: string,
  parts: { train?: number[]; test: number[]; gz: boolean; rows?: number; cols?: number },
): Promise<void> {
  const { rows = 28, cols = 28 } = parts;
  const write = async (name: string, bytes: Uint8Array<ArrayBuffer>) => {
    await Deno.writeFile(
      `${dir}/${name}${parts.gz ? ".gz" : ""}`,
      parts.gz ? await gzip(bytes) : bytes,
    );
  };
  const sets: [string, number[] | undefined][] = [["train", parts.train], ["t10k", parts.test]];
  for (const [prefix, labels] of sets) {
    if (!labels) continue;
    await write(`${prefix}-images-idx3-ubyte`, idxImages(labels.length, rows, cols));
    await write(`${prefix}-labels-idx1-ubyte`, idxLabels(labels));
  }
}

/** Per-class counts of a label array. */
export function classCounts(labels: ArrayLike<number>, classes: number): number[] {
  const counts = new Array(classes).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]]++;
  return counts;
}
