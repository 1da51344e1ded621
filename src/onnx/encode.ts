import { DTYPE_CODE, toBytes } from "./dtype.ts";
import { type IAttributeProto, type IGraphProto, type ITensorProto, onnx } from "./proto.ts";
import type { Attr, Graph, Model, Tensor, ValueInfo } from "./types.ts";

/** Encodes the IR as ModelProto bytes that onnxruntime-web loads. */
export function encodeModel(model: Model): Uint8Array {
  const proto = onnx.ModelProto.create({
    irVersion: model.irVersion,
    producerName: model.producerName || "fwdgrad",
    opsetImport: Object.entries(model.opsets).map(([domain, version]) => ({ domain, version })),
    graph: encodeGraph(model.graph),
  });
  return onnx.ModelProto.encode(proto).finish();
}

function encodeGraph(g: Graph): IGraphProto {
  return {
    name: g.name,
    input: g.inputs.map(encodeValueInfo),
    output: g.outputs.map(encodeValueInfo),
    initializer: [...g.initializers].map(([name, t]) => encodeTensor(t, name)),
    node: g.nodes.map((n) => ({
      name: n.name,
      opType: n.opType,
      domain: n.domain,
      input: n.inputs,
      output: n.outputs,
      attribute: Object.entries(n.attrs).map(([name, a]) => encodeAttr(name, a)),
    })),
  };
}

function encodeValueInfo(v: ValueInfo) {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: DTYPE_CODE[v.dtype],
        shape: v.shape
          ? { dim: v.shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) }
          : undefined,
      },
    },
  };
}

export function encodeTensor(t: Tensor, name = ""): ITensorProto {
  return { name, dims: t.dims, dataType: DTYPE_CODE[t.dtype], rawData: toBytes(t.data).slice() };
}

const T = onnx.AttributeProto.AttributeType;
const text = new TextEncoder();

function encodeAttr(name: string, a: Attr): IAttributeProto {
  switch (a.type) {
    case "int":
      return { name, type: T.INT, i: a.value };
    case "float":
      return { name, type: T.FLOAT, f: a.value };
    case "string":
      return { name, type: T.STRING, s: text.encode(a.value) };
    case "ints":
      return { name, type: T.INTS, ints: a.value };
    case "floats":
      return { name, type: T.FLOATS, floats: a.value };
    case "strings":
      return { name, type: T.STRINGS, strings: a.value.map((s) => text.encode(s)) };
    case "tensor":
      return { name, type: T.TENSOR, t: encodeTensor(a.value) };
    case "graph":
      return { name, type: T.GRAPH, g: a.value as IGraphProto };
  }
}
