/**
 * Arithmetic of a graph, counted from the graph itself: shapes come from the same static
 * shape inference the AD transforms use (src/ad/prepare.ts), with the batch fixed.
 *
 * Conventions (a multiply-add is 2 FLOPs): MatMul 2·|out|·k; Gemm 2·M·N·k (+ M·N for C);
 * Conv 2·|out|·(Cin/group)·∏kernel (+ |out| for the bias); ConvTranspose 2·|in|·(Cout/group)·∏kernel;
 * reductions, softmaxes and pools 1 per input element; every other float op 1 per output
 * element; shape and layout ops (Reshape, Transpose, Expand, ...) 0 FLOPs, but the elements
 * that Transpose / Expand / Concat / Tile / Pad materialise are counted as copies.
 */
import { prepare } from "../../src/ad/prepare.ts";
import type { Meta } from "../../src/ad/meta.ts";
import { isFloat, type Model, type Node } from "../../src/onnx/types.ts";

export interface FlopCount {
  /** Total floating-point operations. */
  flops: number;
  /** FLOPs in MatMul/Gemm/Conv/ConvTranspose. */
  matrix: number;
  /** FLOPs in everything else. */
  elementwise: number;
  /** Elements written by layout ops that copy (Transpose, Expand, Concat, Tile, Pad). */
  copiedElements: number;
  nodes: number;
  /** FLOPs per op type. */
  byOp: Record<string, number>;
  /** Nodes whose shapes were not known statically (their FLOPs are missing). */
  unknown: string[];
}

const FREE = new Set([
  "Reshape",
  "Flatten",
  "Squeeze",
  "Unsqueeze",
  "Identity",
  "Shape",
  "Size",
  "Constant",
  "ConstantOfShape",
  "Slice",
  "Gather",
  "Split",
  "Range",
  "Transpose",
  "Expand",
  "Concat",
  "Tile",
  "Pad",
  "Dropout",
]);
const COPIES = new Set(["Transpose", "Expand", "Concat", "Tile", "Pad"]);
const PER_INPUT = new Set([
  "ReduceSum",
  "ReduceMean",
  "ReduceMax",
  "ReduceMin",
  "ReduceProd",
  "ReduceL2",
  "ReduceSumSquare",
  "ReduceLogSumExp",
  "Softmax",
  "LogSoftmax",
  "MaxPool",
  "AveragePool",
  "GlobalAveragePool",
  "GlobalMaxPool",
  "LpPool",
]);

const count = (dims: readonly (number | string)[]) =>
  dims.reduce<number>((a, d) => a * (typeof d === "number" ? d : NaN), 1);

function attrInt(node: Node, name: string, dflt: number): number {
  const a = node.attrs[name];
  return a && a.type === "int" ? a.value : dflt;
}

/** FLOPs of one node, or null when a shape it needs is unknown. */
function nodeFlops(node: Node, meta: (name: string) => Meta | undefined): number | null {
  const shape = (name: string | undefined) => (name ? meta(name)?.shape : undefined);
  const out = shape(node.outputs[0]);
  switch (node.opType) {
    case "MatMul": {
      const a = shape(node.inputs[0]);
      if (!a || !out) return null;
      return 2 * count(out) * (a[a.length - 1] as number);
    }
    case "Gemm": {
      const a = shape(node.inputs[0]);
      if (!a || !out) return null;
      const k = (attrInt(node, "transA", 0) ? a[0] : a[1]) as number;
      return 2 * count(out) * k + (node.inputs[2] ? count(out) : 0);
    }
    case "Conv": {
      const w = shape(node.inputs[1]);
      if (!w || !out) return null;
      return 2 * count(out) * count(w.slice(1)) + (node.inputs[2] ? count(out) : 0);
    }
    case "ConvTranspose": {
      const x = shape(node.inputs[0]);
      const w = shape(node.inputs[1]);
      if (!x || !w || !out) return null;
      return 2 * count(x) * count(w.slice(1)) + (node.inputs[2] ? count(out) : 0);
    }
  }
  if (FREE.has(node.opType)) return 0;
  const usesFloat = [...node.inputs, ...node.outputs].some((n) => {
    const m = n ? meta(n) : undefined;
    return m !== undefined && isFloat(m.dtype);
  });
  if (!usesFloat) return 0;
  const x = PER_INPUT.has(node.opType) ? shape(node.inputs[0]) : out;
  return x ? count(x) : null;
}

/**
 * Counts the FLOPs of `model` with its inputs fixed to `inputShapes` (e.g. x and labels with
 * the batch size). `anyFloatInput` must name one float initializer or input (the transform
 * preparation requires a differentiation target; it is not used otherwise).
 */
export function countFlops(
  model: Model,
  inputShapes: Record<string, number[]>,
  anyFloatInput: string,
): FlopCount {
  const { graph, emitter } = prepare(model, { wrt: [anyFloatInput], inputShapes });
  const result: FlopCount = {
    flops: 0,
    matrix: 0,
    elementwise: 0,
    copiedElements: 0,
    nodes: graph.nodes.length,
    byOp: {},
    unknown: [],
  };
  const meta = (name: string) => emitter.metas.get(name);
  for (const node of graph.nodes) {
    const f = nodeFlops(node, meta);
    if (f === null || Number.isNaN(f)) {
      result.unknown.push(`${node.opType} ${node.name}`);
      continue;
    }
    result.flops += f;
    const matrix = ["MatMul", "Gemm", "Conv", "ConvTranspose"].includes(node.opType);
    if (matrix) result.matrix += f;
    else result.elementwise += f;
    result.byOp[node.opType] = (result.byOp[node.opType] ?? 0) + f;
    if (COPIES.has(node.opType)) {
      const out = meta(node.outputs[0])?.shape;
      if (out) result.copiedElements += count(out) || 0;
    }
  }
  return result;
}
