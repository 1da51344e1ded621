import { type AttrInput, emptyGraph, GraphBuilder } from "../../src/onnx/builder.ts";
import type { Dim, DType, Model, Tensor } from "../../src/onnx/types.ts";
import { normals } from "../../src/ad/check/check_grads.ts";

/** One operand of a single-op test model. */
export interface Operand {
  name: string;
  shape: number[];
  /** "param": float initializer differentiated (default); "input": graph input, also
   * differentiated; "const": a fixed initializer (values required or drawn). */
  kind?: "param" | "input" | "const";
  /** Explicit values (e.g. int64 axes or indices); otherwise N(0,1) draws. */
  value?: Tensor;
  /** Symbolic shape for an input, e.g. ["N", 3]. */
  declared?: Dim[];
}

/** A gradient-check case for the table-driven rule test. */
export interface RuleCase {
  /** The op type whose rule this case covers. */
  op: string;
  /** What the case exercises, e.g. "broadcast [3,1] × [4]". */
  label: string;
  model: () => Model;
  wrt?: string[];
  tangents?: number;
  inputShapes?: Record<string, number[]>;
  inputs?: Record<string, Tensor>;
  tol?: number;
}

export interface OpCaseSpec {
  op: string;
  label: string;
  operands: Operand[];
  attrs?: Record<string, AttrInput>;
  /** Number of outputs (all become graph outputs). */
  outputs?: number;
  /** Element types of the outputs when not all float32 (e.g. MaxPool's int64 Indices). */
  outputTypes?: DType[];
  opset?: number;
  /** Post-processing nodes after the op, e.g. to make the output depend non-linearly. */
  tangents?: number;
  tol?: number;
  /** Apply a function to the values so they avoid kinks/poles (e.g. x => |x| + 0.5 for Log). */
  shift?: (x: number) => number;
}

let seedCounter = 100;

/** A one-node model: the op applied to the operands, every output a graph output. */
export function opCase(spec: OpCaseSpec): RuleCase {
  const seed = seedCounter++;
  const tensors = spec.operands.map((o, i): Tensor => {
    if (o.value) return o.value;
    const drawn = normals(o.shape.reduce((a, c) => a * c, 1), seed * 31 + i);
    return { dtype: "float32", dims: o.shape, data: spec.shift ? drawn.map(spec.shift) : drawn };
  });
  const inputs = spec.operands.filter((o) => o.kind === "input");
  return {
    op: spec.op,
    label: spec.label,
    tangents: spec.tangents ?? 2,
    tol: spec.tol,
    inputShapes: Object.fromEntries(inputs.map((o) => [o.name, o.shape])),
    inputs: Object.fromEntries(
      spec.operands.map((o, i) => [o.name, tensors[i]]).filter(([n]) =>
        inputs.some((o) => o.name === n)
      ),
    ),
    wrt: spec.operands.filter((o, i) =>
      (o.kind ?? "param") !== "const" && tensors[i].dtype === "float32"
    )
      .map((o) => o.name),
    model: () => {
      const g = emptyGraph(spec.op);
      const b = new GraphBuilder(g);
      spec.operands.forEach((o, i) => {
        if (o.kind === "input") {
          g.inputs.push({ name: o.name, dtype: tensors[i].dtype, shape: o.declared ?? o.shape });
        } else g.initializers.set(o.name, tensors[i]);
      });
      const outs = Array.from({ length: spec.outputs ?? 1 }, (_, i) => `y${i}`);
      b.node(spec.op, spec.operands.map((o) => o.name), spec.attrs ?? {}, { outputs: outs });
      outs.forEach((y, i) =>
        g.outputs.push({ name: y, dtype: spec.outputTypes?.[i] ?? "float32" })
      );
      return { irVersion: 8, opsets: { "": spec.opset ?? 18 }, producerName: "test", graph: g };
    },
  };
}
