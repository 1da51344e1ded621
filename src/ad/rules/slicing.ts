/**
 * The slicing family: ops that select, join, pad or repeat blocks of elements (Slice, Pad,
 * Concat, Split, Tile, Expand). Each is linear in its data: the JVP applies the same op to
 * the tangent with its axes shifted past K, the VJP the adjoint movement (a slice's adjoint
 * pads with zeros, a concat's adjoint slices, a tile's adjoint sums the repeats).
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import type { Dim, Node, Tensor } from "../../onnx/types.ts";
import type { Emitter } from "../emit.ts";
import { broadcastIndex, numbers } from "../host/ndarray.ts";
import { axisMap, concat, remap } from "../host/movement.ts";
import type { Meta } from "../meta.ts";
import { attrs, defineRule, type Rule, unsupported, z } from "../rule.ts";
import { broadcastShapes, isStatic, normAxis } from "../shapes.ts";
import { alignTangent } from "../tangent.ts";
import { gatherVjpConst } from "./gather_scatter.ts";
import { linearRule, noAttrs } from "./helpers.ts";
import {
  BIG,
  dimsOf,
  emitPad,
  emitSlice,
  type Ints,
  joinDims,
  padAxis,
  safe,
  tangentDims,
  zerosLike,
  zeroTangentOf,
} from "./shape_emit.ts";
import {
  constInts,
  folded,
  intsMeta,
  isNum,
  label,
  meta,
  needConst,
  product,
  shapeDims,
} from "./shape_tracking.ts";

// ---------------------------------------------------------------------------------------
// Slice

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
  return remap(t, dims, axisMap(t.dims, dims, (a, o) => starts[a] + o * steps[a]));
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

/** The slicing family's table entries. */
export const slicingRules: Record<string, Rule> = {
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

  Slice: linearRule(sliceAttrs, {
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
    tangent: ({ b, node, x, attrs, opset }, t) => {
      const spec = sliceSpec(node, opset, attrs, x.map((n) => meta(b, n)), b.rank(x[0]));
      const axes = spec.axes.map((a) => a + 1);
      if (opset < 10) {
        return b.op("Slice", [t], {
          starts: attrs.starts!.map(safe),
          ends: attrs.ends!.map(safe),
          axes,
        });
      }
      const inputs = [t, x[1], x[2], b.ints(axes)];
      if (x[4]) inputs.push(x[4]);
      return b.op("Slice", inputs);
    },
    transpose: ({ b, node, x, attrs, opset }, gy) => {
      const spec = sliceSpec(node, opset, attrs, x.map((n) => meta(b, n)), b.rank(x[0]));
      let g = gy;
      spec.axes.forEach((_, i) => (g = unslice(b, node, g, x, spec, i)));
      return g;
    },
  }),

  Pad: linearRule(padAttrs, {
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
          axisMap(t.dims, dims, (a, o) => padSource(attrs.mode, o, begin[a], t.dims[a])),
          fill,
        ),
      ];
    },
    // Linear in the data: the tangent is padded the same way with zeros (any mode), K unpadded.
    tangent: ({ b, node, x, dx, attrs, opset }, t) => {
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
      if (opset < 11) return b.op("Pad", [t], { pads, mode: attrs.mode });
      return b.op("Pad", [t, b.ints(pads)], { mode: attrs.mode });
    },
    // Constant mode: crop what was added (positive pads), zero-pad what was cropped (negative).
    // Other modes read each output coordinate from one input coordinate per axis: a Gather
    // with constant indices per padded axis, whose adjoints (scatter-adds) compose.
    transpose: ({ b, node, x, attrs, opset }, gy) => {
      const { begin, end } = staticPads(
        node,
        padSpec(node, opset, attrs, x.map((n) => meta(b, n)), b.rank(x[0])),
      );
      if (attrs.mode !== "constant") {
        let g = gy;
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
        return g;
      }
      const cut = begin.flatMap((p, a) => (p > 0 || end[a] > 0 ? [a] : []));
      let g = gy;
      if (cut.length > 0) {
        g = emitSlice(
          b,
          g,
          cut.map((a) => Math.max(begin[a], 0)),
          cut.map((a) => (end[a] > 0 ? -end[a] : BIG)),
          cut,
        );
      }
      return emitPad(b, g, begin.map((p) => Math.max(-p, 0)), end.map((p) => Math.max(-p, 0)));
    },
  }),

  Expand: linearRule(noAttrs, {
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
    tangent: ({ b, y, K }, t) =>
      b.op("Expand", [alignTangent(b, t, b.rank(y[0])), tangentDims(b, y[0], K)]),
    // The driver sums the output-shaped cotangent back to the input's shape.
    transpose: (_ctx, gy) => gy,
  }),

  Tile: linearRule(noAttrs, {
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
      return [remap(t, dims, axisMap(t.dims, dims, (a, o) => o % t.dims[a]))];
    },
    tangent: ({ b, x }, t) => b.op("Tile", [t, joinDims(b, [[1], x[1]])]),
    // Each input element appears once per repeat: view the cotangent as [r0, d0, r1, d1, ...]
    // (skipping r = 1) and sum over the repeat axes.
    transpose: ({ b, node, x }, gy) => {
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
      if (sumAxes.length === 0) return gy;
      const split = b.op("Reshape", [gy, joinDims(b, pieces)]);
      return b.reduceSum(split, sumAxes, false);
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
        return remap(t, dims, axisMap(t.dims, dims, (a, o) => (a === axis ? from + o : o)));
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
