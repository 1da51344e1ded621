/**
 * Seeded PyTorch-default initialisation. `nn.Linear` and `nn.Conv2d` draw their weight from
 * kaiming_uniform(a=√5), which works out to U(−1/√fan_in, 1/√fan_in), and their bias from the
 * same range; we do the same so built-in models start where a PyTorch user expects.
 *
 * Every parameter tensor gets its own random stream, derived from (seed, parameter name), so
 * adding or removing a layer leaves every other layer's initial values unchanged.
 */
import type { Tensor } from "../types.ts";
import { elementCount } from "../types.ts";

/** FNV-1a over the name's UTF-16 code units: a cheap, stable 32-bit string hash. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** MurmurHash3's fmix32 finaliser: spreads every input bit over all output bits. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The 32-bit start state of the stream for `name` under `seed` (any safe integer). */
export function streamState(seed: number, name: string): number {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 2 ** 32) >>> 0;
  return fmix32(fmix32(lo ^ fmix32(hi)) ^ fnv1a(name));
}

/**
 * mulberry32 (Tommy Ettinger, public domain): a 32-bit-state generator, period 2^32, good
 * enough for initial weights and far cheaper than anything cryptographic. Yields uint32s.
 */
export function mulberry32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The largest float32 not above `b`, so rounding to float32 never pushes a draw past b. */
function float32AtMost(b: number): number {
  const f = new Float32Array([b]);
  if (f[0] > b) new Uint32Array(f.buffer)[0] -= 1; // b > 0: one ulp down
  return f[0];
}

/** A float32 tensor of U(−bound, bound) draws from the (seed, name) stream. */
export function uniformTensor(dims: number[], bound: number, seed: number, name: string): Tensor {
  const next = mulberry32(streamState(seed, name));
  const b = float32AtMost(bound);
  const data = new Float32Array(elementCount(dims));
  // 24 random bits give a float32-exact u in [0, 1); 2u − 1 lies in [−1, 1).
  for (let i = 0; i < data.length; i++) data[i] = ((next() >>> 8) / 2 ** 23 - 1) * b;
  return { dtype: "float32", dims, data };
}

/** PyTorch's default bound for a layer's weight and bias: 1/√fan_in. */
export function defaultBound(fanIn: number): number {
  return 1 / Math.sqrt(fanIn);
}

/** A weight and bias pair as PyTorch initialises a Linear or Conv layer called `layer`. */
export function layerInit(
  layer: string,
  weightDims: number[],
  fanIn: number,
  seed: number,
): { weight: Tensor; bias: Tensor } {
  const bound = defaultBound(fanIn);
  return {
    weight: uniformTensor(weightDims, bound, seed, `${layer}.weight`),
    bias: uniformTensor([weightDims[0]], bound, seed, `${layer}.bias`),
  };
}
