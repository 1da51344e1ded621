import { UserError } from "../errors.ts";
import { bytesPerElement, codeName, dtypeFromCode, fromBytes } from "./dtype.ts";
import {
  type IAttributeProto,
  type IGraphProto,
  type ITensorProto,
  type IValueInfoProto,
  onnx,
  toNumber,
} from "./proto.ts";
import type {
  Attr,
  Dim,
  DType,
  Graph,
  Model,
  Node,
  Tensor,
  TensorData,
  ValueInfo,
} from "./types.ts";

/**
 * Decodes ONNX ModelProto bytes into the IR. `source` names the file in error messages.
 * Throws UserError for bytes that are not a usable model.
 */
export function decodeModel(bytes: Uint8Array, source = "model"): Model {
  let proto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new UserError(`${source}: not a valid ONNX ModelProto (${(e as Error).message})`);
  }
  if (
    !proto.graph || (proto.graph.node ?? []).length === 0 && (proto.graph.output ?? []).length === 0
  ) {
    throw new UserError(`${source}: not a valid ONNX ModelProto (no graph)`);
  }
  if ((proto.opsetImport ?? []).length === 0 && toNumber(proto.irVersion) >= 3) {
    throw new UserError(`${source}: not a valid ONNX ModelProto (no opset_import; truncated?)`);
  }
  const opsets: Record<string, number> = {};
  for (const o of proto.opsetImport ?? []) opsets[o.domain ?? ""] = toNumber(o.version);
  if (opsets[""] === undefined) opsets[""] = 7;
  const where = (what: string) => `${source}: ${what}`;
  return {
    irVersion: toNumber(proto.irVersion) || 7,
    opsets,
    producerName: proto.producerName ?? "",
    graph: decodeGraph(proto.graph, where),
  };
}

function decodeGraph(g: IGraphProto, where: (s: string) => string): Graph {
  const initializers = new Map<string, Tensor>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? "";
    initializers.set(name, decodeTensor(t, where(`initializer "${name}"`)));
  }
  const nodes: Node[] = (g.node ?? []).map((n, i) => {
    const name = n.name || `${n.opType ?? "node"}_${i}`;
    const attrs: Record<string, Attr> = {};
    for (const a of n.attribute ?? []) {
      attrs[a.name ?? ""] = decodeAttr(
        a,
        where(`node "${name}" (${n.opType}) attribute "${a.name}"`),
      );
    }
    return {
      name,
      opType: n.opType ?? "",
      domain: n.domain ?? "",
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs,
    };
  });
  return {
    name: g.name ?? "graph",
    inputs: (g.input ?? []).map((v) => decodeValueInfo(v, where)),
    outputs: (g.output ?? []).map((v) => decodeValueInfo(v, where)),
    initializers,
    nodes,
  };
}

function decodeValueInfo(v: IValueInfoProto, where: (s: string) => string): ValueInfo {
  const name = v.name ?? "";
  const tt = v.type?.tensorType;
  if (!tt) {
    throw new UserError(
      where(`value "${name}" is not a tensor (sequences and maps are not supported)`),
    );
  }
  const code = tt.elemType ?? 0;
  const dtype = dtypeFromCode(code);
  if (!dtype) {
    throw new UserError(
      where(`value "${name}" has element type ${codeName(code)}, which fwdgrad does not support`),
    );
  }
  if (!tt.shape) return { name, dtype };
  const shape: Dim[] = (tt.shape.dim ?? []).map((d, i) => {
    if (d.dimParam) return d.dimParam;
    if (d.dimValue !== null && d.dimValue !== undefined) return toNumber(d.dimValue);
    return `${name}_dim${i}`;
  });
  return { name, dtype, shape };
}

/** Decodes a TensorProto (raw bytes or typed fields) into a typed array. */
export function decodeTensor(t: ITensorProto, where: string): Tensor {
  const code = t.dataType ?? 0;
  const dtype = dtypeFromCode(code);
  if (!dtype) throw new UserError(`${where}: element type ${codeName(code)} is not supported`);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
    throw new UserError(
      `${where}: external tensor data is not supported (save the model with weights inside)`,
    );
  }
  const dims = (t.dims ?? []).map(toNumber);
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.rawData && t.rawData.length % bytesPerElement(dtype) !== 0) {
    throw new UserError(
      `${where}: raw data of ${t.rawData.length} bytes is not a whole number of ${dtype} values`,
    );
  }
  let data: TensorData;
  if (t.rawData && t.rawData.length > 0) data = fromBytes(dtype, t.rawData);
  else data = fromFields(t, dtype);
  if (data.length !== count) {
    throw new UserError(
      `${where}: holds ${data.length} values but its shape [${dims}] needs ${count}`,
    );
  }
  return { dtype, dims, data };
}

function fromFields(t: ITensorProto, dtype: DType): TensorData {
  switch (dtype) {
    case "float32":
      return Float32Array.from(t.floatData ?? []);
    case "float64":
      return Float64Array.from(t.doubleData ?? []);
    case "int64":
      return BigInt64Array.from((t.int64Data ?? []).map((v) => BigInt(toNumber(v))));
    case "int32":
      return Int32Array.from(t.int32Data ?? []);
    case "int8":
      return Int8Array.from(t.int32Data ?? []);
    case "uint8":
    case "bool":
      return Uint8Array.from(t.int32Data ?? []);
  }
}

const T = onnx.AttributeProto.AttributeType;
const text = new TextDecoder();

function decodeAttr(a: IAttributeProto, where: string): Attr {
  // Old producers omit `type`; infer it from the field that is set.
  let type = a.type ?? T.UNDEFINED;
  if (type === T.UNDEFINED) {
    if (a.ints && a.ints.length) type = T.INTS;
    else if (a.floats && a.floats.length) type = T.FLOATS;
    else if (a.strings && a.strings.length) type = T.STRINGS;
    else if (a.t) type = T.TENSOR;
    else if (a.g) type = T.GRAPH;
    else if (a.s && a.s.length) type = T.STRING;
    else if (a.f) type = T.FLOAT;
    else type = T.INT;
  }
  switch (type) {
    case T.INT:
      return { type: "int", value: toNumber(a.i) };
    case T.FLOAT:
      return { type: "float", value: a.f ?? 0 };
    case T.STRING:
      return { type: "string", value: text.decode(a.s ?? new Uint8Array()) };
    case T.INTS:
      return { type: "ints", value: (a.ints ?? []).map(toNumber) };
    case T.FLOATS:
      return { type: "floats", value: [...(a.floats ?? [])] };
    case T.STRINGS:
      return { type: "strings", value: (a.strings ?? []).map((s) => text.decode(s)) };
    case T.TENSOR:
      return { type: "tensor", value: decodeTensor(a.t ?? {}, where) };
    case T.GRAPH:
      return { type: "graph", value: a.g };
    default:
      throw new UserError(`${where}: attribute type ${type} is not supported`);
  }
}
