/**
 * Just enough of the WebAssembly binary format to write the sampler's one-function SIMD
 * kernel by hand (no toolchain may be fetched): LEB128 integers, sections, and the opcodes
 * the kernel uses, named as in the WebAssembly text format.
 *
 * @module
 */

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of an int32. */
export function sleb(n: number): number[] {
  n |= 0;
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const simd = (op: number): number[] => [0xfd, ...uleb(op)];

/** Value types. */
export const I32 = 0x7f;
export const V128 = 0x7b;

/** Instructions, as byte sequences; those with immediates are functions. */
export const op = {
  loop: [0x03, 0x40],
  end: [0x0b],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  localGet: (i: number) => [0x20, ...uleb(i)],
  localSet: (i: number) => [0x21, ...uleb(i)],
  localTee: (i: number) => [0x22, ...uleb(i)],
  /** Loads and stores take log2(alignment) and a constant offset. */
  i32Load: (offset: number) => [0x28, 2, ...uleb(offset)],
  f32Load: (offset: number) => [0x2a, 2, ...uleb(offset)],
  f32Store: (offset: number) => [0x38, 2, ...uleb(offset)],
  i32Const: (v: number) => [0x41, ...sleb(v)],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32And: [0x71],
  i32Or: [0x72],
  i32Xor: [0x73],
  i32Shl: [0x74],
  i32ShrS: [0x75],
  i32ShrU: [0x76],
  f64Add: [0xa0],
  f64Mul: [0xa2],
  f32DemoteF64: [0xb6],
  f64ConvertI32S: [0xb7],
  f64PromoteF32: [0xbb],
  v128Store: (offset: number) => [...simd(0x0b), 4, ...uleb(offset)],
  v128Const: (bytes: number[]) => [...simd(0x0c), ...bytes],
  i32x4Splat: simd(0x11),
  i32x4Eq: simd(0x37),
  v128Or: simd(0x50),
  v128Xor: simd(0x51),
  v128AnyTrue: simd(0x53),
  i32x4ShrS: simd(0xac),
  i32x4ShrU: simd(0xad),
  i32x4Add: simd(0xae),
  i32x4Mul: simd(0xb5),
} as const;

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(text: string): number[] {
  const bytes = new TextEncoder().encode(text);
  return [...uleb(bytes.length), ...bytes];
}

/** A module with one exported function and one exported memory of `pages` 64 KiB pages. */
export interface OneFunctionModule {
  params: number[];
  results: number[];
  /** Extra locals, in order after the parameters. */
  locals: number[];
  body: number[];
  pages: number;
  functionName: string;
  memoryName: string;
}

/** Encodes the module described by `m` as a complete .wasm binary. */
export function encodeModule(m: OneFunctionModule): Uint8Array<ArrayBuffer> {
  const type = [1, 0x60, ...uleb(m.params.length), ...m.params, ...uleb(m.results.length)]
    .concat(m.results);
  const localGroups = m.locals.flatMap((t) => [1, t]);
  const code = [...uleb(m.locals.length), ...localGroups, ...m.body, ...op.end];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, type),
    ...section(3, [1, 0]), // one function of type 0
    ...section(5, [1, 0, ...uleb(m.pages)]), // one memory, no maximum
    ...section(7, [2, ...name(m.functionName), 0, 0, ...name(m.memoryName), 2, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}
