import { NameGen } from "./names.ts";
import { int64Tensor, scalarTensor } from "./tensor.ts";
import type { Attr, DType, Graph, Node, Tensor } from "./types.ts";

/** What callers may pass as an attribute: plain values, or an explicit Attr. */
export type AttrInput = number | number[] | string | string[] | Tensor | Attr;

/** An explicitly float attribute (a whole number would otherwise be encoded as an int). */
export function float(value: number): Attr {
  return { type: "float", value: Math.fround(value) };
}
export function floats(value: number[]): Attr {
  return { type: "floats", value: value.map(Math.fround) };
}

function isAttr(v: AttrInput): v is Attr {
  return typeof v === "object" && !Array.isArray(v) && "type" in v && "value" in v;
}

function toAttr(v: AttrInput): Attr {
  if (typeof v === "number") return Number.isInteger(v) ? { type: "int", value: v } : float(v);
  if (typeof v === "string") return { type: "string", value: v };
  if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === "string") return { type: "strings", value: v as string[] };
    const nums = v as number[];
    return nums.every(Number.isInteger) ? { type: "ints", value: nums } : floats(nums);
  }
  if (isAttr(v)) return v;
  return { type: "tensor", value: v };
}

/** Appends nodes and constants to a graph with deterministic fresh names. */
export class GraphBuilder {
  readonly names: NameGen;

  constructor(readonly graph: Graph, names?: NameGen) {
    this.names = names ?? new NameGen(graph);
  }

  /** Adds a node and returns its output names (fresh unless given). */
  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrInput> = {},
    options: { outputs?: number | string[]; name?: string; domain?: string } = {},
  ): string[] {
    const base = options.name ?? opType;
    const outputs = Array.isArray(options.outputs)
      ? options.outputs
      : Array.from({ length: options.outputs ?? 1 }, () => this.names.fresh(`${base}_out`));
    const node: Node = {
      name: this.names.fresh(base),
      opType,
      domain: options.domain ?? "",
      inputs,
      outputs,
      attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, toAttr(v)])),
    };
    this.graph.nodes.push(node);
    return outputs;
  }

  /** Adds a single-output node and returns its output name. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrInput> = {},
    name?: string,
  ): string {
    return this.node(opType, inputs, attrs, { name })[0];
  }

  /** Adds a constant as an initializer and returns its name. */
  constant(t: Tensor, base = "const"): string {
    const name = this.names.fresh(base);
    this.graph.initializers.set(name, t);
    return name;
  }

  scalar(value: number, dtype: DType = "float32"): string {
    return this.constant(scalarTensor(value, dtype), "scalar");
  }

  /** A 1-D int64 constant (shapes, axes, pads for the input forms of newer opsets). */
  ints(values: number[], base = "ints"): string {
    return this.constant(int64Tensor([values.length], values), base);
  }
}

/** An empty graph to build into. */
export function emptyGraph(name: string): Graph {
  return { name, inputs: [], outputs: [], initializers: new Map(), nodes: [] };
}
