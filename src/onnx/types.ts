/**
 * The small typed IR fwdgrad works on: a graph of ONNX nodes with parsed attributes and
 * initializers held as typed arrays. Decoding and encoding live in decode.ts / encode.ts.
 */

/** Element types fwdgrad understands (ONNX TensorProto.DataType subset). */
export type DType = "float32" | "float64" | "int64" | "int32" | "int8" | "uint8" | "bool";

/** A dimension: a concrete size or a symbolic name such as "batch_size". */
export type Dim = number | string;

export type TensorData =
  | Float32Array
  | Float64Array
  | BigInt64Array
  | Int32Array
  | Int8Array
  | Uint8Array;

/** A constant tensor (initializer or Constant value). Row-major. */
export interface Tensor {
  dtype: DType;
  dims: number[];
  data: TensorData;
}

/** A graph input/output: name, element type and (possibly symbolic or unknown) shape. */
export interface ValueInfo {
  name: string;
  dtype: DType;
  /** `undefined` when the producer gave no shape at all. */
  shape?: Dim[];
}

/** Attribute values, typed as ONNX stores them so encoding round-trips exactly. */
export type Attr =
  | { type: "int"; value: number }
  | { type: "float"; value: number }
  | { type: "string"; value: string }
  | { type: "ints"; value: number[] }
  | { type: "floats"; value: number[] }
  | { type: "strings"; value: string[] }
  | { type: "tensor"; value: Tensor }
  /** Subgraphs (If/Loop bodies) are kept opaque: carried through, never differentiated. */
  | { type: "graph"; value: unknown };

export interface Node {
  name: string;
  opType: string;
  /** "" for the default ONNX domain. */
  domain: string;
  /** "" marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  attrs: Record<string, Attr>;
}

export interface Graph {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  /** Insertion-ordered; the order is kept when encoding so output bytes are deterministic. */
  initializers: Map<string, Tensor>;
  nodes: Node[];
}

export interface Model {
  irVersion: number;
  /** Opset version per domain; "" is the default ONNX domain. */
  opsets: Record<string, number>;
  producerName: string;
  graph: Graph;
}

/** Plain attribute values, the form the zod attribute schemas of the rules parse. */
export type AttrValue = number | string | number[] | string[] | Tensor | unknown;

export function attrValues(node: Node): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [k, a] of Object.entries(node.attrs)) out[k] = a.value;
  return out;
}

export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}
