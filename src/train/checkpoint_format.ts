/**
 * The checkpoint file container: one self-checking file, so a checkpoint is replaced by a
 * single atomic rename and a damaged one is recognised instead of half-read.
 *
 * ```
 * "FWDGCKPT"            8 bytes, magic
 * version               uint32 LE (1)
 * header length H       uint32 LE
 * header                H bytes of UTF-8 JSON (the metadata; names the blobs)
 * zero padding          to a multiple of 4 bytes
 * payload               the float32 blobs, little-endian, back to back
 * SHA-256               32 bytes, of everything before it
 * ```
 *
 * The header lists each blob as `{name, offset, length}` (offset in bytes from the payload's
 * start, length in floats). Parameters and optimizer buffers are stored bit for bit, which is
 * what makes a resumed run bit-identical to an uninterrupted one.
 */
import { UserError } from "../errors.ts";

export const CHECKPOINT_MAGIC = "FWDGCKPT";
export const CHECKPOINT_FORMAT_VERSION = 1;

const MAGIC = new TextEncoder().encode(CHECKPOINT_MAGIC);
const DIGEST_BYTES = 32;
const PREFIX_BYTES = MAGIC.length + 8;
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

export interface BlobRef {
  name: string;
  offset: number;
  length: number;
}

/** Encodes `header` (any JSON value; a `blobs` key is added) and the float32 `blobs`. */
export async function encodeCheckpointFile(
  header: Record<string, unknown>,
  blobs: Record<string, Float32Array>,
): Promise<Uint8Array<ArrayBuffer>> {
  const refs: BlobRef[] = [];
  let payloadBytes = 0;
  for (const [name, data] of Object.entries(blobs)) {
    refs.push({ name, offset: payloadBytes, length: data.length });
    payloadBytes += data.length * 4;
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify({ ...header, blobs: refs }));
  const payloadStart = align4(PREFIX_BYTES + headerBytes.length);
  const total = payloadStart + payloadBytes + DIGEST_BYTES;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(MAGIC.length, CHECKPOINT_FORMAT_VERSION, true);
  view.setUint32(MAGIC.length + 4, headerBytes.length, true);
  out.set(headerBytes, PREFIX_BYTES);
  for (const ref of refs) {
    const data = blobs[ref.name];
    const at = payloadStart + ref.offset;
    if (LITTLE_ENDIAN) {
      out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    } else {
      for (let i = 0; i < data.length; i++) view.setFloat32(at + 4 * i, data[i], true);
    }
  }
  const digest = await sha256(out.subarray(0, total - DIGEST_BYTES));
  out.set(digest, total - DIGEST_BYTES);
  return out;
}

/**
 * Decodes and verifies a checkpoint file. Every problem (wrong magic, unknown version,
 * truncation, checksum mismatch, bad header) is a one-line UserError naming `where`.
 */
export async function decodeCheckpointFile(
  bytes: Uint8Array,
  where: string,
): Promise<{ header: Record<string, unknown>; blobs: Map<string, Float32Array> }> {
  const bad = (problem: string) => new UserError(`${where}: ${problem}`);
  const magic = new TextDecoder().decode(bytes.subarray(0, MAGIC.length));
  if (bytes.length >= MAGIC.length && magic !== CHECKPOINT_MAGIC) {
    throw bad("not a fwdgrad checkpoint (wrong magic bytes)");
  }
  if (bytes.length < PREFIX_BYTES + DIGEST_BYTES) {
    throw bad(
      bytes.length < MAGIC.length
        ? `not a fwdgrad checkpoint (only ${bytes.length} bytes)`
        : `checkpoint is damaged (truncated to ${bytes.length} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(MAGIC.length, true);
  if (version !== CHECKPOINT_FORMAT_VERSION) {
    throw bad(
      `checkpoint format version ${version}; this fwdgrad reads version ${CHECKPOINT_FORMAT_VERSION}`,
    );
  }
  const body = bytes.subarray(0, bytes.length - DIGEST_BYTES);
  const stored = bytes.subarray(bytes.length - DIGEST_BYTES);
  const digest = await sha256(body);
  if (!digest.every((b, i) => b === stored[i])) {
    throw bad("checkpoint is damaged (checksum mismatch: truncated or modified)");
  }
  const headerLength = view.getUint32(MAGIC.length + 4, true);
  if (PREFIX_BYTES + headerLength > body.length) throw bad("checkpoint is damaged (header length)");
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLength)),
    );
  } catch {
    throw bad("checkpoint is damaged (header is not JSON)");
  }
  if (
    typeof header !== "object" || header === null ||
    !Array.isArray((header as { blobs?: unknown }).blobs)
  ) {
    throw bad("checkpoint is damaged (header lists no blobs)");
  }
  const payloadStart = align4(PREFIX_BYTES + headerLength);
  const payloadBytes = body.length - payloadStart;
  const blobs = new Map<string, Float32Array>();
  for (const ref of (header as { blobs: unknown[] }).blobs) {
    const r = ref as Partial<BlobRef>;
    const ok = typeof r.name === "string" && Number.isInteger(r.offset) &&
      Number.isInteger(r.length) &&
      r.offset! >= 0 && r.length! >= 0 && r.offset! % 4 === 0 &&
      r.offset! + 4 * r.length! <= payloadBytes;
    if (!ok) throw bad(`checkpoint is damaged (blob ${JSON.stringify(r.name)} out of range)`);
    const at = payloadStart + r.offset!;
    let data: Float32Array;
    if (LITTLE_ENDIAN) {
      data = new Float32Array(bytes.slice(at, at + 4 * r.length!).buffer);
    } else {
      data = new Float32Array(r.length!);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(at + 4 * i, true);
    }
    blobs.set(r.name!, data);
  }
  const { blobs: _refs, ...rest } = header as Record<string, unknown>;
  return { header: rest, blobs };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  // subtle.digest rejects views of a SharedArrayBuffer: those are copied first.
  const plain = bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : bytes.slice();
  return new Uint8Array(await crypto.subtle.digest("SHA-256", plain));
}

/**
 * Hex SHA-256 fingerprint of some typed arrays, in order: the digest of their digests (each
 * hashed where it lies, so a large dataset is not copied into one buffer first).
 */
export async function sha256Hex(...parts: ArrayBufferView[]): Promise<string> {
  const digests = new Uint8Array(DIGEST_BYTES * parts.length);
  for (const [i, p] of parts.entries()) {
    const view = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
    digests.set(await sha256(view), i * DIGEST_BYTES);
  }
  const digest = await sha256(digests);
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}
