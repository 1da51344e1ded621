import { userError } from "../errors.ts";

/** IDX magic numbers: 0x00000803 (uint8, 3 dims) and 0x00000801 (uint8, 1 dim). */
export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

/** Decoded `[count, rows, cols]` uint8 images. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

/** Decoded `[count]` uint8 labels. */
export interface IdxLabels {
  count: number;
  labels: Uint8Array;
}

/** Reads a file's bytes, gunzipping when it is named `.gz` or starts with the gzip magic. */
export async function readMaybeGzip(path: string): Promise<Uint8Array<ArrayBuffer>> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw userError(path, `cannot read file (${e instanceof Error ? e.message : String(e)})`);
  }
  const gzipMagic = bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
  if (!path.endsWith(".gz") && !gzipMagic) return bytes;
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw userError(path, `not valid gzip data (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** Decodes an IDX image file (magic 2051). `where` names the file in errors. */
export function decodeIdxImages(bytes: Uint8Array, where: string): IdxImages {
  const [count, rows, cols] = header(bytes, where, IDX_IMAGES_MAGIC, 3, "images");
  return { count, rows, cols, pixels: body(bytes, where, 16, count * rows * cols) };
}

/** Decodes an IDX label file (magic 2049). */
export function decodeIdxLabels(bytes: Uint8Array, where: string): IdxLabels {
  const [count] = header(bytes, where, IDX_LABELS_MAGIC, 1, "labels");
  return { count, labels: body(bytes, where, 8, count) };
}

export async function readIdxImages(path: string): Promise<IdxImages> {
  return decodeIdxImages(await readMaybeGzip(path), path);
}

export async function readIdxLabels(path: string): Promise<IdxLabels> {
  return decodeIdxLabels(await readMaybeGzip(path), path);
}

/** Checks the big-endian magic and returns the dimension sizes that follow it. */
function header(
  bytes: Uint8Array,
  where: string,
  magic: number,
  dims: number,
  kind: string,
): number[] {
  const size = 4 + 4 * dims;
  if (bytes.length < size) {
    throw userError(
      where,
      `IDX header too short: ${kind} need a ${size}-byte header, file has ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0);
  if (found !== magic) {
    throw userError(
      where,
      `wrong IDX magic number ${found} (0x${found.toString(16).padStart(8, "0")}); ` +
        `expected ${magic} for ${kind}`,
    );
  }
  return Array.from({ length: dims }, (_, d) => view.getUint32(4 + 4 * d));
}

/** The payload after the header, which must be exactly `length` bytes long. */
function body(bytes: Uint8Array, where: string, offset: number, length: number): Uint8Array {
  const expected = offset + length;
  if (bytes.length < expected) {
    throw userError(
      where,
      `truncated IDX data: expected ${expected} bytes, got ${bytes.length}`,
    );
  }
  if (bytes.length > expected) {
    throw userError(
      where,
      `IDX file longer than its header says: expected ${expected} bytes, got ${bytes.length}`,
    );
  }
  return bytes.subarray(offset, expected);
}
