import { UserError } from "../../errors.ts";
import { int64Tensor, scalarTensor, tensorNumbers } from "../../onnx/tensor.ts";
import type { Dim, DType, Node, Tensor } from "../../onnx/types.ts";
import { broadcastIndex, numbers, size, strides } from "../host/ndarray.ts";
import type { Emitter } from "../emit.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { broadcastShapes, isStatic, normAxis } from "../shapes.ts";
import { alignTangent } from "../tangent.ts";
import { noAttrs } from "./helpers.ts";

/*
 * The shape family: ops that move, select or copy elements (Reshape, Transpose, Slice,
 * Gather, Concat, Pad, Tile, ...) and the shape arithmetic around them (Shape, Constant,
 * ConstantOfShape). Every data-moving op is linear in its data, so its JVP applies the same
 * op to the tangent with axes shifted past K, and its VJP is the adjoint data movement.
 *
 * Shape tracking: int64 tensors of rank ≤ 1 carry their element values in `Meta.dims`
 * (symbolic entries allowed, e.g. Shape(x) of [N, 3] holds ["N", 3]) and in `Meta.value`
 * when all are known, through Shape → Gather → Unsqueeze → Concat → Reshape chains as
 * PyTorch exports them, so a runtime-computed Reshape target still has a static meaning.
 */

/** Element values of a small int64 tensor (shape vectors): symbolic (from Shape) or constant. */
export function shapeDims(m: Meta | undefined): Dim[] | undefined {
  if (!m) return undefined;
  if (m.dims) return m.dims;
  return m.value ? tensorNumbers(m.value) : undefined;
}

/** Constant int list of an input (axes, shapes), if known. */
export function constInts(m: Meta | undefined): number[] | undefined {
  if (m?.value) return tensorNumbers(m.value);
  return m?.dims && isStatic(m.dims) ? m.dims : undefined;
}

/** Metadata of an int64 tensor of rank ≤ 1 holding `vals` (possibly symbolic). */
function intsMeta(shape: Dim[], vals: Dim[] | undefined): Meta {
  return {
    dtype: "int64",
    shape,
    dims: vals,
    value: vals && isStatic(vals) && isStatic(shape) ? int64Tensor(shape, vals) : undefined,
  };
}

/** `m` under a new shape, keeping a constant value and element dims (rank ≤ 1). */
function reshapedMeta(m: Meta, shape: Dim[] | undefined): Meta {
  const out: Meta = { dtype: m.dtype, shape };
  if (shape && isStatic(shape)) {
    if (m.value) out.value = { ...m.value, dims: shape };
    if (m.dims && shape.length <= 1) out.dims = m.dims;
  }
  return out;
}

/** Constants this small are folded at transform time (shape arithmetic on int tensors). */
const FOLD_LIMIT = 256;

/** `m` with its constant value computed, when all inputs were known and the result is small. */
function folded(m: Meta, known: boolean, compute: () => Tensor): Meta {
  if (!known || m.value || !m.shape || !isStatic(m.shape) || size(m.shape) > FOLD_LIMIT) return m;
  return { ...m, value: compute() };
}

/** A stand-in for a dim no rule can know statically; unique per node output and axis. */
function label(node: Node, i: number): string {
  return `${node.outputs[0]}_dim${i}`;
}

/** Product of dims: a number when all are concrete, else a readable symbolic name. */
function product(ds: Dim[]): Dim {
  const n = ds.reduce<number>((a, d) => (typeof d === "number" ? a * d : a), 1);
  const syms = ds.filter((d): d is string => typeof d === "string");
  if (syms.length === 0 || n === 0) return n;
  if (n === 1) return syms.join("*");
  return [...syms, n].join("*");
}

/** prod(num) / prod(den), cancelling equal symbolic names (for Reshape's -1). */
function quotient(num: Dim[], den: Dim[]): Dim {
  const syms = num.filter((d): d is string => typeof d === "string");
  const extra: string[] = [];
  let n = 1;
  let m = 1;
  for (const d of num) if (typeof d === "number") n *= d;
  for (const d of den) {
    if (typeof d === "number") m *= d;
    else if (syms.includes(d)) syms.splice(syms.indexOf(d), 1);
    else extra.push(d);
  }
  if (extra.length === 0 && m !== 0 && n % m === 0) return product([...syms, n / m]);
  return `(${product(num)})/(${product(den)})`;
}

const isNum = (d: Dim): d is number => typeof d === "number";

function needConst(node: Node, what: string, v: number[] | undefined): number[] {
  if (v) return v;
  throw new UserError(
    `${node.opType} node "${node.name}": input "${what}" must be a constant (or computable from static shapes) to differentiate this op`,
  );
}

// ---------------------------------------------------------------------------------------
// Host helpers for `evaluate` (any element type; floats arrive as float64).

/** A tensor of `dims` whose element i is t's element src(i), or `fill` where src(i) < 0. */
function remap(t: Tensor, dims: number[], src: (i: number) => number, fill = 0): Tensor {
  const n = size(dims);
  const d = t.data;
  if (d instanceof BigInt64Array) {
    const out = new BigInt64Array(n);
    for (let i = 0; i < n; i++) {
      const j = src(i);
      out[i] = j < 0 ? BigInt(fill) : d[j];
    }
    return { dtype: t.dtype, dims, data: out };
  }
  // Every other TensorData is an array of numbers with the same constructor signature.
  const from = d as Float64Array;
  const out = new (d.constructor as Float64ArrayConstructor)(n);
  for (let i = 0; i < n; i++) {
    const j = src(i);
    out[i] = j < 0 ? fill : from[j];
  }
  return { dtype: t.dtype, dims, data: out };
}

/** Source index per output index when each output axis reads one input coordinate. */
function perAxis(
  inDims: number[],
  outDims: number[],
  coord: (axis: number, o: number) => number,
): (i: number) => number {
  const inS = strides(inDims);
  const outS = strides(outDims);
  return (i) => {
    let j = 0;
    for (let a = 0; a < outDims.length; a++) {
      const c = coord(a, Math.floor(i / outS[a]) % outDims[a]);
      if (c < 0) return -1;
      j += c * inS[a];
    }
    return j;
  };
}

/** Host concat along an axis, keeping the element type. */
export function concat(ts: Tensor[], axis: number): Tensor {
  const ax = normAxis(axis, ts[0].dims.length);
  const dims = [...ts[0].dims];
  dims[ax] = ts.reduce((a, t) => a + t.dims[ax], 0);
  const outer = size(dims.slice(0, ax));
  const out: (number | bigint)[] = [];
  for (let o = 0; o < outer; o++) {
    for (const t of ts) {
      const n = size(t.dims.slice(ax));
      const data = t.data as ArrayLike<number | bigint>;
      for (let j = 0; j < n; j++) out.push(data[o * n + j]);
    }
  }
  const first = ts[0].data;
  const data = first instanceof BigInt64Array
    ? BigInt64Array.from(out as bigint[])
    : (first.constructor as Float64ArrayConstructor).from(out as number[]);
  return { dtype: ts[0].dtype, dims, data };
}

/** Effective start and element count of a Slice on one axis of size d (ONNX clamping). */
function sliceRange(start: number, end: number, step: number, d: number) {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  const s0 = start < 0 ? start + d : start;
  const e0 = end < 0 ? end + d : end;
  if (step > 0) {
    const s = clamp(s0, 0, d);
    const e = clamp(e0, 0, d);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  const s = clamp(s0, 0, d - 1);
  const e = clamp(e0, -1, d - 1);
  return { start: s, count: Math.max(0, Math.ceil((s - e) / -step)) };
}

function hostTranspose(t: Tensor, perm: number[]): Tensor {
  const dims = perm.map((p) => t.dims[p]);
  const inS = strides(t.dims);
  const outS = strides(dims);
  return remap(t, dims, (i) => {
    let j = 0;
    for (let a = 0; a < dims.length; a++) j += (Math.floor(i / outS[a]) % dims[a]) * inS[perm[a]];
    return j;
  });
}

function hostGather(t: Tensor, idx: number[], idxShape: number[], axis: number): Tensor {
  const d = t.dims[axis];
  const post = size(t.dims.slice(axis + 1));
  const n = idx.length;
  const dims = [...t.dims.slice(0, axis), ...idxShape, ...t.dims.slice(axis + 1)];
  return remap(t, dims, (i) => {
    const k = Math.floor(i / post) % n;
    const p = Math.floor(i / (post * n));
    const ix = idx[k] < 0 ? idx[k] + d : idx[k];
    return (p * d + ix) * post + (i % post);
  });
}

/** Float tensors as float64, the reference evaluator's float type. */
function asFloat64(t: Tensor): Tensor {
  return t.dtype === "float32"
    ? { dtype: "float64", dims: t.dims, data: Float64Array.from(t.data as Float32Array) }
    : t;
}

// ---------------------------------------------------------------------------------------
// Emit helpers: shape vectors, Slice and Pad in the form the opset expects.

/** Ends like INT64_MAX as plain safe numbers (they are clamped by the op anyway). */
const BIG = Number.MAX_SAFE_INTEGER;
const safe = (v: number) => Math.max(-BIG, Math.min(BIG, v));

/** A 1-D int64 list: constant values, or the name of a runtime int64 vector. */
type Ints = number[] | string;

/** x's dims [from, to) as a 1-D int64: a constant when static, else read at run time. */
function dimsOf(b: Emitter, x: string, from: number, to: number): string {
  const s = b.shape(x).slice(from, to);
  if (isStatic(s)) return b.ints(s);
  if (b.opset >= 15) return b.op("Shape", [x], { start: from, end: to });
  return emitSlice(b, b.shapeOf(x), [from], [to], [0]);
}

/** One 1-D int64 from constant and runtime pieces (adjacent constants merged). */
function joinDims(b: Emitter, pieces: Ints[]): string {
  const merged: Ints[] = [];
  for (const piece of pieces) {
    const p = typeof piece === "string" ? (constInts(b.meta(piece)) ?? piece) : piece;
    const last = merged[merged.length - 1];
    if (Array.isArray(p) && Array.isArray(last)) merged[merged.length - 1] = [...last, ...p];
    else if (!Array.isArray(p) || p.length > 0) merged.push(p);
  }
  if (merged.length === 0) return b.ints([]);
  const names = merged.map((p) => (typeof p === "string" ? p : b.ints(p)));
  return names.length === 1 ? names[0] : b.op("Concat", names, { axis: 0 });
}

/** The shape [K, ...shape(y)] of y's tangent. */
function tangentDims(b: Emitter, y: string, K: number): string {
  return joinDims(b, [[K], dimsOf(b, y, 0, b.rank(y))]);
}

function zeroValue(dtype: DType): Tensor {
  return { ...scalarTensor(0, dtype === "float64" ? "float64" : "float32"), dims: [1] };
}

/** Zeros of the runtime shape `dims` (rank `rank`). */
function zeros(b: Emitter, dims: string, rank: number, dtype: DType): string {
  if (b.opset >= 9) return b.op("ConstantOfShape", [dims], { value: zeroValue(dtype) });
  // ConstantOfShape is opset 9: tile a one-element zero instead.
  const one = b.constant({ ...zeroValue(dtype), dims: Array(rank).fill(1) }, "zero");
  return b.op("Tile", [one, dims]);
}

const zerosLike = (b: Emitter, x: string) =>
  zeros(b, dimsOf(b, x, 0, b.rank(x)), b.rank(x), b.dtype(x));

/** A zero tangent [K, ...shape(x)] for an input without one. */
function zeroTangentOf(b: Emitter, x: string, K: number): string {
  return zeros(b, tangentDims(b, x, K), b.rank(x) + 1, b.dtype(x));
}

function emitSlice(
  b: Emitter,
  x: string,
  starts: Ints,
  ends: Ints,
  axes: number[],
  steps?: number[],
): string {
  const stepped = steps?.some((s) => s !== 1);
  if (b.opset >= 10) {
    const vec = (v: Ints) => (typeof v === "string" ? v : b.ints(v.map(safe)));
    const inputs = [x, vec(starts), vec(ends), b.ints(axes)];
    if (stepped) inputs.push(b.ints(steps!));
    return b.op("Slice", inputs);
  }
  if (typeof starts === "string" || typeof ends === "string" || stepped) {
    throw new Error("internal: runtime or strided Slice before opset 10");
  }
  return b.op("Slice", [x], { starts: starts.map(safe), ends: ends.map(safe), axes });
}

/** Zero-pads x by begin/end per axis: constants, or names of 1-element int64 vectors. */
function emitPad(
  b: Emitter,
  x: string,
  begin: (number | string)[],
  end: (number | string)[],
): string {
  const all = [...begin, ...end];
  if (all.every(isNum)) {
    if (all.every((p) => p === 0)) return x;
    if (b.opset < 11) return b.op("Pad", [x], { pads: all, mode: "constant" });
    return b.op("Pad", [x, b.ints(all)]);
  }
  if (b.opset < 11) throw new Error("internal: runtime Pad before opset 11");
  return b.op("Pad", [x, joinDims(b, all.map((p) => (typeof p === "number" ? [p] : p)))]);
}

/** Pads of one axis only, the others zero. */
function padAxis(
  b: Emitter,
  x: string,
  axis: number,
  lo: number | string,
  hi: number | string,
): string {
  const begin: (number | string)[] = b.shape(x).map(() => 0);
  const end = [...begin];
  begin[axis] = lo;
  end[axis] = hi;
  return emitPad(b, x, begin, end);
}

// ---------------------------------------------------------------------------------------
// Squeeze / Unsqueeze

function unsqueezeShape(shape: Dim[], axes: number[]): Dim[] {
  const rank = shape.length + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank)));
  const out: Dim[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) out.push(norm.has(i) ? 1 : shape[j++]);
  return out;
}

/**
 * Squeezed axes, normalised and sorted. Without axes every size-1 dim goes; a symbolic dim
 * counts as not 1 (its runtime value cannot be known here), as ONNX shape inference does.
 */
function squeezedAxes(shape: Dim[], axes: number[] | undefined): number[] {
  if (!axes) return shape.flatMap((d, i) => (d === 1 ? [i] : []));
  return axes.map((a) => normAxis(a, shape.length)).sort((p, q) => p - q);
}

const axesAttr = attrs({ axes: z.array(z.number()).optional() });

/** Axes from the attribute (before `since`) or the constant input; undefined when unknown. */
function axesOf(
  opset: number,
  since: number,
  attr: number[] | undefined,
  input: Meta | undefined,
): number[] | undefined {
  return opset >= since ? constInts(input) : attr;
}

// ---------------------------------------------------------------------------------------
// Reshape / Flatten

function reshapeTarget(node: Node, inShape: Dim[] | undefined, target: Dim[], allowzero: boolean) {
  if (allowzero && target.includes(0) && target.includes(-1)) {
    throw unsupported(node, "allowzero", "= 1 with both 0 and -1 in the shape is invalid ONNX");
  }
  const out: Dim[] = target.map((
    t,
    i,
  ) => (t === 0 && !allowzero ? (inShape?.[i] ?? label(node, i)) : t));
  const free = out.indexOf(-1);
  if (free >= 0) {
    out[free] = inShape ? quotient(inShape, out.filter((_, i) => i !== free)) : label(node, free);
  }
  return out;
}

function flattenShape(node: Node, shape: Dim[], axis: number): Dim[] {
  const a = normAxis(axis, shape.length);
  if (a < 0 || a > shape.length) {
    throw unsupported(node, "axis", `= ${axis} is out of range for rank ${shape.length}`);
  }
  return [product(shape.slice(0, a)), product(shape.slice(a))];
}

/** Reshape-like ops: tangent reshaped to [K, ...shape(y)], cotangent to shape(x). */
const reshapeJvp = (b: Emitter, dx: string, y: string, K: number) =>
  b.op("Reshape", [dx, tangentDims(b, y, K)]);
const reshapeVjp = (b: Emitter, gy: string, x: string) =>
  b.op("Reshape", [gy, dimsOf(b, x, 0, b.rank(x))]);

// ---------------------------------------------------------------------------------------
// Slice

interface SliceSpec {
  /** Normalised axes. */
  axes: number[];
  steps: number[];
  /** Undefined when computed at run time. */
  starts?: number[];
  ends?: number[];
}

const sliceAttrs = attrs({
  starts: z.array(z.number()).optional(),
  ends: z.array(z.number()).optional(),
  axes: z.array(z.number()).optional(),
});

/** Slice parameters: attributes before opset 10, inputs (starts, ends, axes, steps) since. */
function sliceSpec(
  node: Node,
  opset: number,
  a: z.infer<typeof sliceAttrs>,
  inputs: (Meta | undefined)[],
  rank: number,
): SliceSpec {
  let starts: number[] | undefined;
  let ends: number[] | undefined;
  let axes: number[] | undefined;
  let steps: number[] | undefined;
  let count: number;
  if (opset < 10) {
    if (!a.starts || !a.ends) {
      throw unsupported(node, "starts", "and ends are required before opset 10");
    }
    [starts, ends, axes, count] = [a.starts, a.ends, a.axes, a.starts.length];
  } else {
    starts = constInts(inputs[1]);
    ends = constInts(inputs[2]);
    const n = inputs[1]?.shape?.[0];
    if (typeof n !== "number") throw unsupported(node, "starts", "must have a static length");
    count = n;
    if (inputs[3]) axes = needConst(node, "axes", constInts(inputs[3]));
    if (inputs[4]) steps = needConst(node, "steps", constInts(inputs[4]));
  }
  steps ??= Array(count).fill(1);
  if (steps.includes(0)) throw unsupported(node, "steps", "must not contain 0");
  return {
    axes: (axes ?? Array.from({ length: count }, (_, i) => i)).map((x) => normAxis(x, rank)),
    steps,
    starts,
    ends,
  };
}

function hostSlice(t: Tensor, spec: SliceSpec): Tensor {
  const starts = t.dims.map(() => 0);
  const steps = t.dims.map(() => 1);
  const dims = [...t.dims];
  spec.axes.forEach((a, i) => {
    const r = sliceRange(spec.starts![i], spec.ends![i], spec.steps[i], t.dims[a]);
    [starts[a], steps[a], dims[a]] = [r.start, spec.steps[i], r.count];
  });
  return remap(t, dims, perAxis(t.dims, dims, (a, o) => starts[a] + o * steps[a]));
}

/**
 * Adjoint of Slice along one axis: places g's elements back at their input positions, zero
 * elsewhere. Static sizes: reverse for negative steps, interleave zeros for |step| > 1, pad.
 * Otherwise (symbolic dim or runtime starts/ends, step 1 only) the pads are measured at run
 * time by slicing a dummy vector of the axis' length the same way (so Slice does the clamping).
 */
function unslice(
  b: Emitter,
  node: Node,
  g: string,
  x: string[],
  spec: SliceSpec,
  i: number,
): string {
  const axis = spec.axes[i];
  const step = spec.steps[i];
  const d = b.shape(x[0])[axis];
  if (typeof d === "number" && spec.starts && spec.ends) {
    const { start, count } = sliceRange(spec.starts[i], spec.ends[i], step, d);
    if (count === d && step === 1) return g;
    let t = g;
    let lo = start;
    if (step < 0) {
      t = emitSlice(b, t, [-1], [-BIG], [axis], [-1]);
      lo = start + (count - 1) * step;
    }
    const s = Math.abs(step);
    if (s > 1 && count > 1) t = interleave(b, t, axis, s, count);
    const span = (count - 1) * s + 1;
    return padAxis(b, t, axis, lo, d - lo - span);
  }
  if (step !== 1) {
    throw unsupported(
      node,
      "steps",
      "other than 1 need a static dim and constant starts/ends to differentiate",
    );
  }
  if (b.opset < 11) {
    throw unsupported(
      node,
      "starts",
      "with a symbolic dim or runtime starts/ends need opset ≥ 11 to differentiate",
    );
  }
  const part = (list: number[] | undefined, input: string): Ints =>
    list ? [list[i]] : emitSlice(b, input, [i], [i + 1], [0]);
  const dummy = b.op("ConstantOfShape", [dimsOf(b, x[0], axis, axis + 1)]);
  const tail = emitSlice(b, dummy, part(spec.starts, x[1]), [BIG], [0]);
  const before = b.shapeOf(emitSlice(b, dummy, [0], part(spec.starts, x[1]), [0]));
  const after = b.shapeOf(emitSlice(b, tail, dimsOf(b, g, axis, axis + 1), [BIG], [0]));
  return padAxis(b, g, axis, before, after);
}

/** Spreads the `count` entries of `axis` to every s-th position: [a, b] → [a, 0, 0, b]. */
function interleave(b: Emitter, t: string, axis: number, s: number, count: number): string {
  const rank = b.rank(t);
  const wide = padAxis(b, b.unsqueeze(t, [axis + 1]), axis + 1, 0, s - 1);
  // Reshape's 0 copies the leading dims by position; the trailing ones come from t.
  const dims = joinDims(b, [Array(axis).fill(0), [count * s], dimsOf(b, t, axis + 1, rank)]);
  return emitSlice(b, b.op("Reshape", [wide, dims]), [0], [(count - 1) * s + 1], [axis]);
}

// ---------------------------------------------------------------------------------------
// Pad

const PAD_MODES = ["constant", "reflect", "edge", "wrap"] as const;
const padAttrs = attrs({
  mode: z.enum(PAD_MODES).default("constant"),
  pads: z.array(z.number()).optional(),
  value: z.number().optional(),
});

/** Per-axis begin/end pads (symbolic where computed at run time), or undefined. */
function padSpec(
  node: Node,
  opset: number,
  a: z.infer<typeof padAttrs>,
  inputs: (Meta | undefined)[],
  rank: number,
): { begin: Dim[]; end: Dim[] } | undefined {
  if (a.mode === "wrap" && opset < 19) throw unsupported(node, "mode", `"wrap" needs opset ≥ 19`);
  const pads = opset < 11 ? a.pads : shapeDims(inputs[1]);
  if (!pads) return undefined;
  const axes = opset >= 18 && inputs[3]
    ? needConst(node, "axes", constInts(inputs[3])).map((x) => normAxis(x, rank))
    : Array.from({ length: rank }, (_, i) => i);
  if (pads.length !== 2 * axes.length) {
    throw unsupported(node, "pads", `has ${pads.length} entries for ${axes.length} axes`);
  }
  const begin: Dim[] = Array(rank).fill(0);
  const end: Dim[] = Array(rank).fill(0);
  axes.forEach((ax, i) => {
    begin[ax] = pads[i];
    end[ax] = pads[axes.length + i];
  });
  return { begin, end };
}

function staticPads(node: Node, spec: { begin: Dim[]; end: Dim[] } | undefined) {
  if (!spec || !isStatic(spec.begin) || !isStatic(spec.end)) {
    throw new UserError(
      `${node.opType} node "${node.name}": input "pads" must be a constant to differentiate this op`,
    );
  }
  return { begin: spec.begin, end: spec.end };
}

/** Input coordinate read by output coordinate o on an axis of size d padded by p in front. */
function padSource(mode: (typeof PAD_MODES)[number], o: number, p: number, d: number): number {
  const i = o - p;
  if (i >= 0 && i < d) return i;
  switch (mode) {
    case "constant":
      return -1;
    case "edge":
      return i < 0 ? 0 : d - 1;
    case "wrap":
      return ((i % d) + d) % d;
    case "reflect": {
      if (d === 1) return 0;
      const period = 2 * (d - 1);
      const k = ((i % period) + period) % period;
      return k < d ? k : period - k;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Gather

/**
 * VJP of Gather with constant indices: a scatter-add written as Gathers. The cotangent gets a
 * zero slot (index n) appended along the axis; round r gathers, for each input position j,
 * the r-th index position k with indices[k] = j (else the zero slot). Summing the rounds
 * adds repeated indices; unique indices need one round.
 */
function gatherVjpConst(
  b: Emitter,
  x: string,
  gy: string,
  idx: number[],
  idxRank: number,
  axis: number,
  d: number,
): string {
  const rank = b.rank(x);
  const n = idx.length;
  if (n === 0) return zerosLike(b, x);
  let g = gy;
  if (idxRank === 0) g = b.unsqueeze(g, [axis]);
  else if (idxRank > 1) {
    g = b.op("Reshape", [
      g,
      joinDims(b, [dimsOf(b, x, 0, axis), [n], dimsOf(b, x, axis + 1, rank)]),
    ]);
  }
  g = padAxis(b, g, axis, 0, 1);
  const hits: number[][] = Array.from({ length: d }, () => []);
  idx.forEach((j, k) => hits[j < 0 ? j + d : j].push(k));
  const rounds = hits.reduce((m, h) => Math.max(m, h.length), 0);
  const terms = Array.from(
    { length: rounds },
    (_, r) => b.op("Gather", [g, b.ints(hits.map((h) => h[r] ?? n))], { axis }),
  );
  return b.sum(terms)!;
}

/** VJP of Gather with runtime indices: ScatterND with reduction "add" (opset ≥ 16). */
function gatherVjpRuntime(b: Emitter, node: Node, x: string[], gy: string, axis: number): string {
  if (b.opset < 16) {
    throw new UserError(
      `${node.opType} node "${node.name}": indices computed at run time need opset ≥ 16 to differentiate (ScatterND reduction "add"); the model has opset ${b.opset}`,
    );
  }
  const rank = b.rank(x[0]);
  let idx = b.dtype(x[1]) === "int64" ? x[1] : b.op("Cast", [x[1]], { to: 7 });
  let g = gy;
  if (b.rank(idx) === 0) {
    idx = b.unsqueeze(idx, [0]);
    g = b.unsqueeze(g, [axis]);
  }
  const q = b.rank(idx);
  // Negative indices count from the back.
  const d = dimsOf(b, x[0], axis, axis + 1);
  const negative = b.op("Less", [idx, b.ints([0])]);
  idx = b.op("Where", [negative, b.add(idx, d), idx]);
  // Scatter along axis 0: move the axis (in data) and the index dims (in g) to the front.
  const front = [axis, ...Array.from({ length: rank }, (_, i) => i).filter((i) => i !== axis)];
  const base = b.transpose(b.zerosLike(x[0]), front);
  const gFront = [
    ...Array.from({ length: q }, (_, i) => axis + i),
    ...Array.from({ length: axis }, (_, i) => i),
    ...Array.from({ length: rank - axis - 1 }, (_, i) => axis + q + i),
  ];
  const scattered = b.op("ScatterND", [base, b.unsqueeze(idx, [q]), b.transpose(g, gFront)], {
    reduction: "add",
  });
  return b.transpose(scattered, front.map((_, i) => front.indexOf(i)));
}

// ---------------------------------------------------------------------------------------
// Split

const splitAttrs = attrs({
  axis: z.number().default(0),
  split: z.array(z.number()).optional(),
  num_outputs: z.number().optional(),
});

/** Output sizes along the axis: explicit split, or equal chunks (the last smaller, opset 18). */
function splitSizes(
  node: Node,
  opset: number,
  a: z.infer<typeof splitAttrs>,
  splitInput: Meta | undefined,
  d: Dim,
): Dim[] {
  const n = node.outputs.length;
  const explicit = opset < 13 ? a.split : splitInput && constInts(splitInput);
  if (explicit) return explicit;
  if (splitInput) return node.outputs.map((_, i) => label(node, i));
  const parts = a.num_outputs ?? n;
  if (typeof d !== "number") return node.outputs.map((_, i) => `${d}/${parts}#${i}`);
  const chunk = Math.ceil(d / parts);
  return Array.from({ length: parts }, (_, i) => Math.max(0, Math.min(chunk, d - i * chunk)));
}

// ---------------------------------------------------------------------------------------
// Constant

const constantAttrs = attrs({
  value: z.custom<Tensor>().optional(),
  value_float: z.number().optional(),
  value_floats: z.array(z.number()).optional(),
  value_int: z.number().optional(),
  value_ints: z.array(z.number()).optional(),
  value_string: z.unknown().optional(),
  value_strings: z.unknown().optional(),
  sparse_value: z.unknown().optional(),
});

function constantValue(node: Node, a: z.infer<typeof constantAttrs>): Tensor {
  if (a.value) return a.value;
  if (a.value_float !== undefined) return scalarTensor(a.value_float);
  if (a.value_floats) {
    return {
      dtype: "float32",
      dims: [a.value_floats.length],
      data: Float32Array.from(a.value_floats),
    };
  }
  if (a.value_int !== undefined) return int64Tensor([], [a.value_int]);
  if (a.value_ints) return int64Tensor([a.value_ints.length], a.value_ints);
  const given = Object.keys(node.attrs)[0] ?? "value";
  throw unsupported(node, given, "is not supported (string and sparse constants are not)");
}

// ---------------------------------------------------------------------------------------

/** The shape family's table entries. */
export const shapeRules: Record<string, Rule> = {
  Constant: defineRule(constantAttrs, {
    infer: ({ node, attrs }) => {
      const t = constantValue(node, attrs);
      return [{ dtype: t.dtype, shape: [...t.dims], value: t }];
    },
    evaluate: ({ node, attrs }) => [asFloat64(constantValue(node, attrs))],
    zeroDerivative: true,
  }),

  Shape: defineRule(attrs({ start: z.number().optional(), end: z.number().optional() }), {
    // start/end (opset 15) index like Python slices: negative from the back, clamped.
    infer: ({ inputs, attrs }) => {
      const s = inputs[0]?.shape;
      if (!s) return [{ dtype: "int64", shape: [`rank`] }];
      const d = s.slice(attrs.start ?? 0, attrs.end ?? s.length);
      return [intsMeta([d.length], d)];
    },
    evaluate: ({ inputs, attrs }) => {
      const s = inputs[0]!.dims;
      const d = s.slice(attrs.start ?? 0, attrs.end ?? s.length);
      return [int64Tensor([d.length], d)];
    },
    zeroDerivative: true,
  }),

  ConstantOfShape: defineRule(attrs({ value: z.custom<Tensor>().optional() }), {
    infer: ({ inputs, attrs }) => {
      const dtype = attrs.value?.dtype ?? "float32";
      const shape = shapeDims(inputs[0]);
      // Small int fills stay known constants (PyTorch's shape arithmetic builds some).
      if (dtype === "int64" && shape && isStatic(shape) && size(shape) <= 64) {
        const v = attrs.value ? tensorNumbers(attrs.value)[0] : 0;
        return [{ dtype, shape, value: int64Tensor(shape, Array(size(shape)).fill(v)) }];
      }
      return [{ dtype, shape }];
    },
    evaluate: ({ inputs, attrs }) => {
      const dims = numbers(inputs[0]!);
      const value = asFloat64(attrs.value ?? zeroValue("float64"));
      return [remap(value, dims, () => 0)];
    },
    zeroDerivative: true,
  }),

  Reshape: defineRule(attrs({ allowzero: z.number().default(0) }), {
    infer: ({ node, inputs, attrs }) => {
      const m = inputs[0]!;
      const target = shapeDims(inputs[1]);
      if (target) {
        return [reshapedMeta(m, reshapeTarget(node, m.shape, target, attrs.allowzero === 1))];
      }
      const r = inputs[1]?.shape?.[0];
      return [{
        dtype: m.dtype,
        shape: typeof r === "number"
          ? Array.from({ length: r }, (_, i) => label(node, i))
          : undefined,
      }];
    },
    evaluate: ({ node, inputs, attrs }) => {
      const t = inputs[0]!;
      const dims = reshapeTarget(node, t.dims, numbers(inputs[1]!), attrs.allowzero === 1);
      return [{ ...t, dims: dims as number[] }];
    },
    jvp: ({ b, dx, y, K }) => [reshapeJvp(b, dx[0]!, y[0], K)],
    vjp: ({ b, gy, x }) => [reshapeVjp(b, gy[0]!, x[0]), null],
  }),

  Flatten: defineRule(attrs({ axis: z.number().default(1) }), {
    infer: ({ node, inputs, attrs }) => {
      const m = inputs[0]!;
      return [reshapedMeta(m, m.shape && flattenShape(node, m.shape, attrs.axis))];
    },
    evaluate: ({ node, inputs, attrs }) => {
      const t = inputs[0]!;
      return [{ ...t, dims: flattenShape(node, t.dims, attrs.axis) as number[] }];
    },
    jvp: ({ b, dx, y, K }) => [reshapeJvp(b, dx[0]!, y[0], K)],
    vjp: ({ b, gy, x }) => [reshapeVjp(b, gy[0]!, x[0])],
  }),

  Transpose: defineRule(attrs({ perm: z.array(z.number()).optional() }), {
    // Default perm reverses the axes.
    infer: ({ inputs, attrs }) => {
      const m = inputs[0]!;
      if (!m.shape) return [{ dtype: m.dtype }];
      const perm = attrs.perm ?? m.shape.map((_, i) => m.shape!.length - 1 - i);
      return [{ dtype: m.dtype, shape: perm.map((p) => m.shape![p]) }];
    },
    evaluate: ({ inputs, attrs }) => {
      const t = inputs[0]!;
      return [hostTranspose(t, attrs.perm ?? t.dims.map((_, i) => t.dims.length - 1 - i))];
    },
    jvp: ({ b, dx, x, attrs }) => {
      const r = b.rank(x[0]);
      const perm = attrs.perm ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      return [b.transpose(dx[0]!, [0, ...perm.map((p) => p + 1)])];
    },
    vjp: ({ b, gy, x, attrs }) => {
      const r = b.rank(x[0]);
      const perm = attrs.perm ?? Array.from({ length: r }, (_, i) => r - 1 - i);
      return [b.transpose(gy[0]!, perm.map((_, i) => perm.indexOf(i)))];
    },
  }),

  Unsqueeze: defineRule(axesAttr, {
    infer: ({ inputs, attrs, opset }) => {
      const axes = axesOf(opset, 13, attrs.axes, inputs[1]);
      const m = inputs[0]!;
      return [reshapedMeta(m, m.shape && axes && unsqueezeShape(m.shape, axes))];
    },
    evaluate: ({ inputs, attrs, opset }) => {
      const axes = opset >= 13 ? numbers(inputs[1]!) : attrs.axes!;
      return [{ ...inputs[0]!, dims: unsqueezeShape(inputs[0]!.dims, axes) as number[] }];
    },
    jvp: ({ b, dx, x, node, attrs, opset }) => {
      const axes = needConst(node, "axes", axesOf(opset, 13, attrs.axes, meta(b, x[1])));
      const rank = b.rank(x[0]) + axes.length;
      return [b.unsqueeze(dx[0]!, axes.map((a) => normAxis(a, rank) + 1))];
    },
    vjp: ({ b, gy, x, node, attrs, opset }) => {
      const axes = needConst(node, "axes", axesOf(opset, 13, attrs.axes, meta(b, x[1])));
      const rank = b.rank(x[0]) + axes.length;
      return [b.squeeze(gy[0]!, axes.map((a) => normAxis(a, rank))), null];
    },
  }),

  Squeeze: defineRule(axesAttr, {
    infer: ({ inputs, attrs, opset }) => {
      const m = inputs[0]!;
      // Opset ≥ 13: an omitted axes input squeezes every size-1 dim; a runtime one is unknown.
      if (opset >= 13 && inputs[1] && !constInts(inputs[1])) return [{ dtype: m.dtype }];
      const axes = squeezedAxesOf(opset, attrs.axes, inputs[1], m.shape);
      return [reshapedMeta(m, m.shape && m.shape.filter((_, i) => !axes!.includes(i)))];
    },
    evaluate: ({ inputs, attrs, opset }) => {
      const t = inputs[0]!;
      const raw = opset >= 13 ? (inputs[1] ? numbers(inputs[1]) : undefined) : attrs.axes;
      const axes = squeezedAxes(t.dims, raw);
      return [{ ...t, dims: t.dims.filter((_, i) => !axes.includes(i)) }];
    },
    jvp: ({ b, dx, x, node, attrs, opset }) => {
      const axes = needConst(
        node,
        "axes",
        squeezedAxesOf(opset, attrs.axes, meta(b, x[1]), b.shape(x[0])),
      );
      return [b.squeeze(dx[0]!, axes.map((a) => a + 1))];
    },
    vjp: ({ b, gy, x, node, attrs, opset }) => {
      const axes = needConst(
        node,
        "axes",
        squeezedAxesOf(opset, attrs.axes, meta(b, x[1]), b.shape(x[0])),
      );
      return [b.unsqueeze(gy[0]!, axes), null];
    },
  }),

  Concat: defineRule(attrs({ axis: z.number() }), {
    infer: ({ inputs, attrs }) => {
      const ms = inputs.filter((m): m is Meta => !!m);
      const first = ms[0];
      if (!first.shape || ms.some((m) => !m.shape)) return [{ dtype: first.dtype }];
      const axis = normAxis(attrs.axis, first.shape.length);
      const parts = ms.map((m) => m.shape![axis]);
      const total: Dim = parts.every(isNum) ? parts.reduce((a, b) => a + b, 0) : parts.join("+");
      const shape = first.shape.map((d, i) => (i === axis ? total : d));
      // Concatenated shape vectors keep their (possibly symbolic) elements.
      const elems = ms.map(shapeDims);
      if (first.dtype === "int64" && shape.length === 1 && elems.every((d) => d)) {
        return [intsMeta(shape, elems.flat() as Dim[])];
      }
      const values = ms.map((m) => m.value!);
      return [
        folded({ dtype: first.dtype, shape }, ms.every((m) => m.value), () => concat(values, axis)),
      ];
    },
    evaluate: ({ inputs, attrs }) => [concat(inputs.filter((t): t is Tensor => !!t), attrs.axis)],
    jvp: ({ b, x, dx, K, attrs }) => {
      const axis = normAxis(attrs.axis, b.rank(x[0])) + 1;
      return [b.op("Concat", x.map((xi, i) => dx[i] ?? zeroTangentOf(b, xi, K)), { axis })];
    },
    // Each input's gradient is its slice of the cotangent: offsets are static when the sizes
    // before it are, else summed at run time from Shape.
    vjp: ({ b, node, x, gy, needs, attrs }) => {
      const axis = normAxis(attrs.axis, b.rank(x[0]));
      const last = needs.lastIndexOf(true);
      let start: number | string = 0;
      return x.map((xi, i) => {
        if (i > last) return null;
        const d = b.shape(xi)[axis];
        const end: number | string = i === x.length - 1
          ? BIG
          : typeof start === "number" && typeof d === "number"
          ? start + d
          : b.add(
            typeof start === "number" ? b.ints([start]) : start,
            dimsOf(b, xi, axis, axis + 1),
          );
        const from = start;
        start = end;
        if (!needs[i]) return null;
        if (b.opset < 10 && (typeof from === "string" || typeof end === "string")) {
          throw unsupported(
            node,
            "axis",
            "concatenates a symbolic dim; differentiating it needs opset ≥ 10",
          );
        }
        const ints = (v: number | string): Ints => (typeof v === "number" ? [v] : v);
        return emitSlice(b, gy[0]!, ints(from), ints(end), [axis]);
      });
    },
  }),

  Slice: defineRule(sliceAttrs, {
    infer: ({ node, inputs, attrs, opset }) => {
      const m = inputs[0]!;
      if (!m.shape) return [{ dtype: m.dtype }];
      const spec = sliceSpec(node, opset, attrs, inputs, m.shape.length);
      const shape = [...m.shape];
      const picks: number[][] = m.shape.map((
        d,
      ) => (typeof d === "number" ? Array.from({ length: d }, (_, i) => i) : []));
      spec.axes.forEach((a, i) => {
        const d = m.shape![a];
        if (typeof d === "number" && spec.starts && spec.ends) {
          const { start, count } = sliceRange(spec.starts[i], spec.ends[i], spec.steps[i], d);
          shape[a] = count;
          picks[a] = Array.from({ length: count }, (_, k) => start + k * spec.steps[i]);
        } else {
          const s = spec.starts?.[i] ?? `${node.inputs[1]}#${i}`;
          const e = spec.ends?.[i] ?? `${node.inputs[2]}#${i}`;
          shape[a] = `${d}[${s}:${e}:${spec.steps[i]}]`;
        }
      });
      // A sliced shape vector keeps its (possibly symbolic) elements.
      const elems = shapeDims(m);
      if (m.dtype === "int64" && elems && shape.length === 1 && isNum(shape[0])) {
        return [intsMeta(shape, picks[0].map((k) => elems[k]))];
      }
      const known = !!m.value && !!spec.starts && !!spec.ends;
      return [folded({ dtype: m.dtype, shape }, known, () => hostSlice(m.value!, spec))];
    },
    evaluate: ({ node, inputs, attrs, opset }) => {
      const t = inputs[0]!;
      const metas = inputs.map((v) => v && { dtype: v.dtype, shape: [...v.dims], value: v });
      return [hostSlice(t, sliceSpec(node, opset, attrs, metas, t.dims.length))];
    },
    // The same slice on the tangent, axes shifted past K (starts/ends/steps reused as given).
    jvp: ({ b, node, x, dx, attrs, opset }) => {
      const spec = sliceSpec(node, opset, attrs, x.map((n) => meta(b, n)), b.rank(x[0]));
      const axes = spec.axes.map((a) => a + 1);
      if (opset < 10) {
        return [
          b.op("Slice", [dx[0]!], {
            starts: attrs.starts!.map(safe),
            ends: attrs.ends!.map(safe),
            axes,
          }),
        ];
      }
      const inputs = [dx[0]!, x[1], x[2], b.ints(axes)];
      if (x[4]) inputs.push(x[4]);
      return [b.op("Slice", inputs)];
    },
    vjp: ({ b, node, x, gy, attrs, opset }) => {
      const spec = sliceSpec(node, opset, attrs, x.map((n) => meta(b, n)), b.rank(x[0]));
      let g = gy[0]!;
      spec.axes.forEach((_, i) => (g = unslice(b, node, g, x, spec, i)));
      return [g];
    },
  }),

  Pad: defineRule(padAttrs, {
    infer: ({ node, inputs, attrs, opset }) => {
      const m = inputs[0]!;
      if (!m.shape) return [{ dtype: m.dtype }];
      const spec = padSpec(node, opset, attrs, inputs, m.shape.length);
      const shape = m.shape.map((d, i) => {
        if (!spec) return label(node, i);
        const [p, q] = [spec.begin[i], spec.end[i]];
        if (isNum(d) && isNum(p) && isNum(q)) return d + p + q;
        return p === 0 && q === 0 ? d : `${d}+${p}+${q}`;
      });
      return [{ dtype: m.dtype, shape }];
    },
    evaluate: ({ node, inputs, attrs, opset }) => {
      const t = inputs[0]!;
      const metas = inputs.map((v) => v && { dtype: v.dtype, shape: [...v.dims], value: v });
      const { begin, end } = staticPads(node, padSpec(node, opset, attrs, metas, t.dims.length));
      const fill = opset < 11 ? (attrs.value ?? 0) : inputs[2] ? numbers(inputs[2])[0] : 0;
      const dims = t.dims.map((d, i) => d + begin[i] + end[i]);
      return [
        remap(
          t,
          dims,
          perAxis(t.dims, dims, (a, o) => padSource(attrs.mode, o, begin[a], t.dims[a])),
          fill,
        ),
      ];
    },
    // Linear in the data: the tangent is padded the same way with zeros (any mode), K unpadded.
    jvp: ({ b, node, x, dx, attrs, opset }) => {
      if (dx[2]) {
        throw unsupported(
          node,
          "constant_value",
          "cannot be differentiated (it depends on a parameter)",
        );
      }
      const { begin, end } = staticPads(
        node,
        padSpec(node, opset, attrs, x.map((n) => meta(b, n)), b.rank(x[0])),
      );
      const pads = [0, ...begin, 0, ...end];
      if (opset < 11) return [b.op("Pad", [dx[0]!], { pads, mode: attrs.mode })];
      return [b.op("Pad", [dx[0]!, b.ints(pads)], { mode: attrs.mode })];
    },
    // Constant mode: crop what was added (positive pads), zero-pad what was cropped (negative).
    // Other modes read each output coordinate from one input coordinate per axis: a Gather
    // with constant indices per padded axis, whose adjoints (scatter-adds) compose.
    vjp: ({ b, node, x, gy, attrs, opset }) => {
      const { begin, end } = staticPads(
        node,
        padSpec(node, opset, attrs, x.map((n) => meta(b, n)), b.rank(x[0])),
      );
      if (attrs.mode !== "constant") {
        let g = gy[0]!;
        b.shape(x[0]).forEach((d, a) => {
          if (begin[a] === 0 && end[a] === 0) return;
          if (typeof d !== "number") {
            throw unsupported(
              node,
              "mode",
              `"${attrs.mode}" on a symbolic dim has no reverse-mode rule`,
            );
          }
          const out = d + begin[a] + end[a];
          const idx = Array.from({ length: out }, (_, o) => padSource(attrs.mode, o, begin[a], d));
          g = gatherVjpConst(b, x[0], g, idx, 1, a, d);
        });
        return [g];
      }
      const cut = begin.flatMap((p, a) => (p > 0 || end[a] > 0 ? [a] : []));
      let g = gy[0]!;
      if (cut.length > 0) {
        g = emitSlice(
          b,
          g,
          cut.map((a) => Math.max(begin[a], 0)),
          cut.map((a) => (end[a] > 0 ? -end[a] : BIG)),
          cut,
        );
      }
      return [emitPad(b, g, begin.map((p) => Math.max(-p, 0)), end.map((p) => Math.max(-p, 0)))];
    },
  }),

  Gather: defineRule(attrs({ axis: z.number().default(0) }), {
    infer: ({ inputs, attrs }) => {
      const [m, im] = [inputs[0]!, inputs[1]!];
      if (!m.shape || !im.shape) return [{ dtype: m.dtype }];
      const axis = normAxis(attrs.axis, m.shape.length);
      const shape = [...m.shape.slice(0, axis), ...im.shape, ...m.shape.slice(axis + 1)];
      // Picking entries of a shape vector (PyTorch's Shape → Gather) keeps them known.
      const elems = shapeDims(m);
      const idx = constInts(im);
      if (m.dtype === "int64" && m.shape.length === 1 && elems && idx && im.shape.length <= 1) {
        return [intsMeta(shape, idx.map((k) => elems[k < 0 ? k + elems.length : k]))];
      }
      const out = { dtype: m.dtype, shape };
      return [
        folded(
          out,
          !!m.value && !!idx,
          () => hostGather(m.value!, idx!, im.shape as number[], axis),
        ),
      ];
    },
    evaluate: ({ inputs, attrs }) => {
      const [t, idx] = [inputs[0]!, inputs[1]!];
      return [hostGather(t, numbers(idx), idx.dims, normAxis(attrs.axis, t.dims.length))];
    },
    jvp: ({ b, x, dx, attrs }) => {
      const axis = normAxis(attrs.axis, b.rank(x[0]));
      return [b.op("Gather", [dx[0]!, x[1]], { axis: axis + 1 })];
    },
    vjp: ({ b, node, x, gy, attrs }) => {
      const axis = normAxis(attrs.axis, b.rank(x[0]));
      const idx = constInts(b.meta(x[1]));
      const d = b.shape(x[0])[axis];
      if (idx && typeof d === "number") {
        return [gatherVjpConst(b, x[0], gy[0]!, idx, b.rank(x[1]), axis, d), null];
      }
      return [gatherVjpRuntime(b, node, x, gy[0]!, axis), null];
    },
  }),

  Expand: defineRule(noAttrs, {
    infer: ({ node, inputs }) => {
      const m = inputs[0]!;
      const target = shapeDims(inputs[1]);
      const n = inputs[1]?.shape?.[0];
      if (!m.shape || (!target && typeof n !== "number")) return [{ dtype: m.dtype }];
      if (target) return [{ dtype: m.dtype, shape: broadcastShapes(m.shape, target, "Expand") }];
      // A runtime target: only the dims of x other than 1 are known.
      const rank = Math.max(m.shape.length, n as number);
      const lead = rank - m.shape.length;
      const shape = Array.from({ length: rank }, (_, i) => {
        const d = m.shape![i - lead] ?? 1;
        return d === 1 ? label(node, i) : d;
      });
      return [{ dtype: m.dtype, shape }];
    },
    evaluate: ({ inputs }) => {
      const t = inputs[0]!;
      const dims = broadcastShapes(t.dims, numbers(inputs[1]!), "Expand") as number[];
      return [remap(t, dims, broadcastIndex(t.dims, dims))];
    },
    // The tangent gets size-1 axes after K first, or broadcasting would align K with data.
    jvp: (
      { b, dx, y, K },
    ) => [b.op("Expand", [alignTangent(b, dx[0]!, b.rank(y[0])), tangentDims(b, y[0], K)])],
    // The driver sums the output-shaped cotangent back to the input's shape.
    vjp: ({ gy }) => [gy[0], null],
  }),

  Tile: defineRule(noAttrs, {
    infer: ({ node, inputs }) => {
      const m = inputs[0]!;
      const reps = shapeDims(inputs[1]);
      if (!m.shape) return [{ dtype: m.dtype }];
      const shape = m.shape.map((d, i) => (reps ? product([d, reps[i]]) : label(node, i)));
      return [{ dtype: m.dtype, shape }];
    },
    evaluate: ({ inputs }) => {
      const t = inputs[0]!;
      const reps = numbers(inputs[1]!);
      const dims = t.dims.map((d, i) => d * reps[i]);
      return [remap(t, dims, perAxis(t.dims, dims, (a, o) => o % t.dims[a]))];
    },
    jvp: ({ b, x, dx }) => [b.op("Tile", [dx[0]!, joinDims(b, [[1], x[1]])])],
    // Each input element appears once per repeat: view the cotangent as [r0, d0, r1, d1, ...]
    // (skipping r = 1) and sum over the repeat axes.
    vjp: ({ b, node, x, gy }) => {
      const reps = needConst(node, "repeats", constInts(b.meta(x[1])));
      const pieces: Ints[] = [];
      const sumAxes: number[] = [];
      reps.forEach((r, i) => {
        if (r !== 1) {
          sumAxes.push(sumAxes.length + i);
          pieces.push([r]);
        }
        pieces.push(dimsOf(b, x[0], i, i + 1));
      });
      if (sumAxes.length === 0) return [gy[0], null];
      const split = b.op("Reshape", [gy[0]!, joinDims(b, pieces)]);
      return [b.reduceSum(split, sumAxes, false), null];
    },
  }),

  Split: defineRule(splitAttrs, {
    infer: ({ node, inputs, attrs, opset }) => {
      const m = inputs[0]!;
      if (!m.shape) return node.outputs.map(() => ({ dtype: m.dtype }));
      const axis = normAxis(attrs.axis, m.shape.length);
      const sizes = splitSizes(node, opset, attrs, inputs[1], m.shape[axis]);
      return sizes.map((s) => ({
        dtype: m.dtype,
        shape: m.shape!.map((d, i) => (i === axis ? s : d)),
      }));
    },
    evaluate: ({ node, inputs, attrs, opset }) => {
      const t = inputs[0]!;
      const axis = normAxis(attrs.axis, t.dims.length);
      const splitMeta = inputs[1] && { dtype: inputs[1].dtype, value: inputs[1] };
      const sizes = splitSizes(node, opset, attrs, splitMeta, t.dims[axis]) as number[];
      let offset = 0;
      return sizes.map((s) => {
        const from = offset;
        offset += s;
        const dims = t.dims.map((d, i) => (i === axis ? s : d));
        return remap(t, dims, perAxis(t.dims, dims, (a, o) => (a === axis ? from + o : o)));
      });
    },
    jvp: ({ b, node, x, dx, attrs, opset }) => {
      const axis = normAxis(attrs.axis, b.rank(x[0])) + 1;
      const a: Record<string, number | number[]> = { axis };
      if (attrs.num_outputs !== undefined) a.num_outputs = attrs.num_outputs;
      if (opset < 13 && attrs.split) a.split = attrs.split;
      const inputs = opset >= 13 && x[1] ? [dx[0]!, x[1]] : [dx[0]!];
      return b.node("Split", inputs, a, node.outputs.length);
    },
    vjp: ({ b, y, gy, attrs, x }) => {
      const axis = normAxis(attrs.axis, b.rank(x[0]));
      return [b.op("Concat", y.map((yi, i) => gy[i] ?? zerosLike(b, yi)), { axis }), null];
    },
  }),
};

/** Metadata of an optional input ("" or absent → undefined). */
function meta(b: Emitter, name: string | undefined): Meta | undefined {
  return name ? b.meta(name) : undefined;
}

/** Squeeze's axes (attribute before 13, optional input since; all size-1 dims when omitted). */
function squeezedAxesOf(
  opset: number,
  attr: number[] | undefined,
  input: Meta | undefined,
  shape: Dim[] | undefined,
): number[] | undefined {
  if (!shape) return undefined;
  if (opset >= 13 && input) {
    const axes = constInts(input);
    return axes && squeezedAxes(shape, axes);
  }
  return squeezedAxes(shape, opset >= 13 ? undefined : attr);
}
