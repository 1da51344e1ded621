/**
 * One 3×3 "same" Conv layer of paper-cnn in isolation, to see which part of its derivative
 * graphs costs what: the forward Conv; the JVP for the weight (as src/ad/rules/conv.ts emits
 * it); the VJP for the input (ConvTranspose) and for the weight (a Conv of X against the
 * output gradient with batch and channels swapped, as the rule emits it); and a prototype of
 * another weight-gradient emission (im2col by 9 shifted slices, then one Gemm) for comparison.
 */
import { jvpTransform } from "../../src/ad/jvp.ts";
import { vjpTransform } from "../../src/ad/vjp.ts";
import { emptyGraph, GraphBuilder } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import { Session } from "../../src/onnx/session.ts";
import type { Model, Tensor } from "../../src/onnx/types.ts";
import { relativeError } from "./check.ts";
import { type CaseTiming, interleaved } from "./timing.ts";

export interface ConvShape {
  N: number;
  C: number;
  O: number;
  H: number;
}

function convModel({ N, C, O, H }: ConvShape, extra?: (b: GraphBuilder) => void): Model {
  const g = emptyGraph("conv");
  const b = new GraphBuilder(g);
  g.inputs.push({ name: "x", dtype: "float32", shape: [N, C, H, H] });
  const w = new Float32Array(O * C * 9);
  for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 0.7) / 24;
  g.initializers.set("w", { dtype: "float32", dims: [O, C, 3, 3], data: w });
  b.node("Conv", ["x", "w"], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] }, {
    outputs: ["y"],
  });
  g.outputs.push({ name: "y", dtype: "float32", shape: [N, O, H, H] });
  extra?.(b);
  return { irVersion: 8, opsets: { "": 18 }, producerName: "fwdgrad-bench", graph: g };
}

/** y and the weight gradient Σ_{n,p} G[n,o,p]·Xpad[n,c,p+q] via im2col: 9 slices + one Gemm. */
function im2colWeightGradient(s: ConvShape): Model {
  const { C, O, H } = s;
  return convModel(s, (b) => {
    b.graph.inputs.push({ name: "y__cotangent", dtype: "float32", shape: [s.N, O, H, H] });
    const xp = b.op("Pad", ["x", b.ints([0, 0, 1, 1, 0, 0, 1, 1])]);
    const slices: string[] = [];
    for (let ky = 0; ky < 3; ky++) {
      for (let kx = 0; kx < 3; kx++) {
        slices.push(
          b.op("Slice", [xp, b.ints([ky, kx]), b.ints([ky + H, kx + H]), b.ints([2, 3])]),
        );
      }
    }
    const cols = b.op("Concat", slices, { axis: 1 }); // [N, 9·C, H, W]: channel = slice·C + c
    const colsT = b.op("Reshape", [
      b.op("Transpose", [cols], { perm: [1, 0, 2, 3] }),
      b.ints([9 * C, -1]),
    ]);
    const g2 = b.op("Reshape", [
      b.op("Transpose", ["y__cotangent"], { perm: [1, 0, 2, 3] }),
      b.ints([O, -1]),
    ]);
    const m = b.op("Gemm", [g2, colsT], { transB: 1 }); // [O, 9·C]
    const oc = b.op("Transpose", [b.op("Reshape", [m, b.ints([O, 9, C])])], { perm: [0, 2, 1] });
    b.node("Reshape", [oc, b.ints([O, C, 3, 3])], {}, { outputs: ["w__grad"] });
    b.graph.outputs.push({ name: "w__grad", dtype: "float32", shape: [O, C, 3, 3] });
  });
}

export interface ConvProbe {
  shape: ConvShape;
  /** forward, jvp weight, vjp input, vjp weight (rule), vjp weight (im2col prototype). */
  timings: Record<string, CaseTiming>;
  /** Relative difference between the rule's and the prototype's weight gradients. */
  agreement: number;
}

export async function probeConv(shape: ConvShape, reps: number): Promise<ConvProbe> {
  const base = convModel(shape);
  const fill = (dims: number[], f: number): Tensor => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * f);
    return { dtype: "float32", dims, data };
  };
  const x = fill([shape.N, shape.C, shape.H, shape.H], 0.31);
  const G = fill([shape.N, shape.O, shape.H, shape.H], 0.17);
  const dw = fill([1, shape.O, shape.C, 3, 3], 0.05);
  const sessions = {
    forward: await Session.create(encodeModel(base)),
    "JVP, weight tangent": await Session.create(
      encodeModel(jvpTransform(base, { wrt: ["w"], tangents: 1 })),
    ),
    "VJP, input gradient (ConvTranspose)": await Session.create(
      encodeModel(vjpTransform(base, { wrt: ["x"] })),
    ),
    "VJP, weight gradient (rule)": await Session.create(
      encodeModel(vjpTransform(base, { wrt: ["w"] })),
    ),
    "VJP, weight gradient (im2col + Gemm prototype)": await Session.create(
      encodeModel(im2colWeightGradient(shape)),
    ),
  };
  const feeds: Record<keyof typeof sessions, Record<string, Tensor>> = {
    forward: { x },
    "JVP, weight tangent": { x, w__tangent: dw },
    "VJP, input gradient (ConvTranspose)": { x, y__cotangent: G },
    "VJP, weight gradient (rule)": { x, y__cotangent: G },
    "VJP, weight gradient (im2col + Gemm prototype)": { x, y__cotangent: G },
  };
  try {
    const rule = await sessions["VJP, weight gradient (rule)"].run(
      feeds["VJP, weight gradient (rule)"],
    );
    const proto = await sessions["VJP, weight gradient (im2col + Gemm prototype)"].run(
      feeds["VJP, weight gradient (im2col + Gemm prototype)"],
    );
    const agreement = relativeError(
      rule.w__grad.data as Float32Array,
      proto.w__grad.data as Float32Array,
    );
    const names = Object.keys(sessions) as (keyof typeof sessions)[];
    const timings = await interleaved(
      names.map((n) => ({ name: n, run: async () => void (await sessions[n].run(feeds[n])) })),
      { warmup: 1, reps },
    );
    return { shape, timings, agreement };
  } finally {
    for (const s of Object.values(sessions)) await s.release();
  }
}
