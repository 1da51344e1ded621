/**
 * A WebAssembly SIMD kernel for the normal sampler's main loop, in two passes over a chunk:
 * pass 1 hashes four counters at a time with i32x4 operations (~1.2 G words/s against
 * ~0.36 G/s for the JavaScript loop, measured) into a word buffer; pass 2 maps each word
 * through the table with the same float64 operations, in the same order, as
 * `fillNormalReference`, so the two produce the same bits (tests/random_normal_kernel_test.ts).
 * Mapping four lanes at once (gathering table entries into vectors) measured slower than this
 * scalar pass: the gathers serialise.
 *
 * Memory layout: the table (2^15 cells · 2 float32 = 256 KiB) at address 0, then CHUNK
 * float32 outputs, then CHUNK hash words. Tail words (cell 0) come out as ±0 and the call
 * reports whether any occurred; the caller fills those in, as the JavaScript loop does.
 *
 * @module
 */

import { CELL_COUNT, normalTable } from "./normal_table.ts";
import { encodeModule, I32, op, V128 } from "./wasm_encoding.ts";

/** Elements per kernel call. */
export const CHUNK = 4096;

const TABLE_BYTES = CELL_COUNT * 8;
const OUT_ADDRESS = TABLE_BYTES;
const WORDS_ADDRESS = OUT_ADDRESS + CHUNK * 4;
const PAGES = Math.ceil((WORDS_ADDRESS + CHUNK * 4) / 65536);

// Parameters, then locals, by index.
const GROUPS = 0, COUNTER = 1, KEY0 = 2, KEY1 = 3;
const C = 4, K0 = 5, K1 = 6, M1 = 7, M2 = 8, H = 9, FOUR = 10, TAIL = 11; // v128
const AT = 12, LEFT = 13, S = 14, G = 15, CELL = 16; // i32

const lanes = (a: number, b: number, c: number, d: number): number[] =>
  [a, b, c, d].flatMap((v) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);

/** H = R(H): Wellons' lowbias32 round (see counter_hash.ts) on four lanes. */
const round = [
  ...op.localGet(H),
  ...op.localGet(H),
  ...op.i32Const(16),
  ...op.i32x4ShrU,
  ...op.v128Xor,
  ...op.localGet(M1),
  ...op.i32x4Mul,
  ...op.localTee(H),
  ...op.localGet(H),
  ...op.i32Const(15),
  ...op.i32x4ShrU,
  ...op.v128Xor,
  ...op.localGet(M2),
  ...op.i32x4Mul,
  ...op.localTee(H),
  ...op.localGet(H),
  ...op.i32Const(15),
  ...op.i32x4ShrU,
  ...op.v128Xor,
  ...op.localSet(H),
];

/** Pass 1: words[4i .. 4i + 4) = hashWord of counters C = counter + 4i + (0, 1, 2, 3). */
const hashPass = [
  ...op.localGet(COUNTER),
  ...op.i32x4Splat,
  ...op.v128Const(lanes(0, 1, 2, 3)),
  ...op.i32x4Add,
  ...op.localSet(C),
  ...op.localGet(KEY0),
  ...op.i32x4Splat,
  ...op.localSet(K0),
  ...op.localGet(KEY1),
  ...op.i32x4Splat,
  ...op.localSet(K1),
  ...op.i32Const(0x21f0aaad),
  ...op.i32x4Splat,
  ...op.localSet(M1),
  ...op.i32Const(0x735a2d97),
  ...op.i32x4Splat,
  ...op.localSet(M2),
  ...op.i32Const(4),
  ...op.i32x4Splat,
  ...op.localSet(FOUR),
  ...op.i32Const(WORDS_ADDRESS),
  ...op.localSet(AT),
  ...op.localGet(GROUPS),
  ...op.localSet(LEFT),
  ...op.loop,
  // H = R(R(R(C ^ K0) ^ K1) + K0), as hashWord.
  ...op.localGet(C),
  ...op.localGet(K0),
  ...op.v128Xor,
  ...op.localSet(H),
  ...round,
  ...op.localGet(H),
  ...op.localGet(K1),
  ...op.v128Xor,
  ...op.localSet(H),
  ...round,
  ...op.localGet(H),
  ...op.localGet(K0),
  ...op.i32x4Add,
  ...op.localSet(H),
  ...round,
  ...op.localGet(AT),
  ...op.localGet(H),
  ...op.v128Store(0),
  // TAIL |= ((H ^ (H >> 31)) >>> 16 == 0): the word falls in cell 0.
  ...op.localGet(H),
  ...op.localGet(H),
  ...op.i32Const(31),
  ...op.i32x4ShrS,
  ...op.v128Xor,
  ...op.i32Const(16),
  ...op.i32x4ShrU,
  ...op.v128Const(lanes(0, 0, 0, 0)),
  ...op.i32x4Eq,
  ...op.localGet(TAIL),
  ...op.v128Or,
  ...op.localSet(TAIL),
  ...op.localGet(AT),
  ...op.i32Const(16),
  ...op.i32Add,
  ...op.localSet(AT),
  ...op.localGet(C),
  ...op.localGet(FOUR),
  ...op.i32x4Add,
  ...op.localSet(C),
  ...op.localGet(LEFT),
  ...op.i32Const(1),
  ...op.i32Sub,
  ...op.localTee(LEFT),
  ...op.brIf(0),
  ...op.end,
];

/**
 * Pass 2, per word h: S = h >> 31, G = h ^ S, cell address 8·(G >>> 16), and
 * out = f32(f64(S | 1) · (f64(base) + f64(slope) · f64(G & 0xffff))), as fill_normal.ts does.
 * AT walks the words; the output sits CHUNK·4 bytes below its word.
 */
const mapPass = [
  ...op.i32Const(WORDS_ADDRESS),
  ...op.localSet(AT),
  ...op.localGet(GROUPS),
  ...op.i32Const(2),
  ...op.i32Shl,
  ...op.localSet(LEFT),
  ...op.loop,
  ...op.localGet(AT),
  ...op.i32Load(0),
  ...op.localTee(G),
  ...op.i32Const(31),
  ...op.i32ShrS,
  ...op.localTee(S),
  ...op.localGet(G),
  ...op.i32Xor,
  ...op.localSet(G),
  // The output slot: CHUNK·4 bytes below the word (f32.store takes no negative offset).
  ...op.localGet(AT),
  ...op.i32Const(CHUNK * 4),
  ...op.i32Sub,
  ...op.localGet(S),
  ...op.i32Const(1),
  ...op.i32Or,
  ...op.f64ConvertI32S,
  ...op.localGet(G),
  ...op.i32Const(16),
  ...op.i32ShrU,
  ...op.i32Const(3),
  ...op.i32Shl,
  ...op.localTee(CELL),
  ...op.f32Load(0),
  ...op.f64PromoteF32,
  ...op.localGet(CELL),
  ...op.f32Load(4),
  ...op.f64PromoteF32,
  ...op.localGet(G),
  ...op.i32Const(0xffff),
  ...op.i32And,
  ...op.f64ConvertI32S,
  ...op.f64Mul,
  ...op.f64Add,
  ...op.f64Mul,
  ...op.f32DemoteF64,
  ...op.f32Store(0),
  ...op.localGet(AT),
  ...op.i32Const(4),
  ...op.i32Add,
  ...op.localSet(AT),
  ...op.localGet(LEFT),
  ...op.i32Const(1),
  ...op.i32Sub,
  ...op.localTee(LEFT),
  ...op.brIf(0),
  ...op.end,
];

/** normals(groups, counter, k0, k1) -> any tail word; requires groups ≥ 1. */
const body = [...hashPass, ...mapPass, ...op.localGet(TAIL), ...op.v128AnyTrue];

/** The kernel bound to its instance's memory. */
export interface NormalKernel {
  /**
   * Writes the normal values of counters [counter, counter + count) to `output[0, count)`,
   * with ±0 for tail words; returns whether there were any. 1 ≤ count ≤ CHUNK.
   */
  run(k0: number, k1: number, counter: number, count: number): boolean;
  readonly output: Float32Array;
}

function instantiate(): NormalKernel {
  const bytes = encodeModule({
    params: [I32, I32, I32, I32],
    results: [I32],
    locals: [...Array<number>(8).fill(V128), ...Array<number>(5).fill(I32)],
    body,
    pages: PAGES,
    functionName: "normals",
    memoryName: "memory",
  });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
  const memory = exports.memory;
  const normals = exports.normals;
  if (!(memory instanceof WebAssembly.Memory) || typeof normals !== "function") {
    throw new Error("normal kernel: unexpected exports");
  }
  new Float32Array(memory.buffer, 0, 2 * CELL_COUNT).set(normalTable().cells);
  const output = new Float32Array(memory.buffer, OUT_ADDRESS, CHUNK);
  return {
    // Counter and keys pass as int32 bit patterns; the last group may run past `count`.
    run: (k0, k1, counter, count) => Number(normals((count + 3) >>> 2, counter, k0, k1)) !== 0,
    output,
  };
}

let kernel: NormalKernel | null | undefined;

/** The kernel, or null where WebAssembly SIMD is unavailable (then JavaScript does the work). */
export function normalKernel(): NormalKernel | null {
  if (kernel === undefined) {
    try {
      kernel = instantiate();
    } catch {
      // Deno always has SIMD (tests/random_normal_kernel_test.ts checks the fast path is
      // taken); other hosts fall back to the JavaScript loop.
      kernel = null;
    }
  }
  return kernel;
}
