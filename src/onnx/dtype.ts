import type { DType, TensorData } from "./types.ts";

/** ONNX TensorProto.DataType codes of the types fwdgrad understands. */
export const DTYPE_CODE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float64: 11,
};

const CODE_NAME: Record<number, string> = {
  0: "UNDEFINED",
  1: "FLOAT",
  2: "UINT8",
  3: "INT8",
  4: "UINT16",
  5: "INT16",
  6: "INT32",
  7: "INT64",
  8: "STRING",
  9: "BOOL",
  10: "FLOAT16",
  11: "DOUBLE",
  12: "UINT32",
  13: "UINT64",
  16: "BFLOAT16",
};

export function dtypeFromCode(code: number): DType | undefined {
  for (const [name, c] of Object.entries(DTYPE_CODE)) if (c === code) return name as DType;
  return undefined;
}

export function codeName(code: number): string {
  return CODE_NAME[code] ?? `type ${code}`;
}

export function bytesPerElement(dtype: DType): number {
  switch (dtype) {
    case "float64":
    case "int64":
      return 8;
    case "float32":
    case "int32":
      return 4;
    default:
      return 1;
  }
}

/** A zero-filled array of `dtype` with `n` elements. */
export function allocate(dtype: DType, n: number): TensorData {
  switch (dtype) {
    case "float32":
      return new Float32Array(n);
    case "float64":
      return new Float64Array(n);
    case "int64":
      return new BigInt64Array(n);
    case "int32":
      return new Int32Array(n);
    case "int8":
      return new Int8Array(n);
    case "uint8":
    case "bool":
      return new Uint8Array(n);
  }
}

/** Views little-endian bytes as `dtype` (copying so the result is aligned and owned). */
export function fromBytes(dtype: DType, bytes: Uint8Array): TensorData {
  const size = bytesPerElement(dtype);
  const out = allocate(dtype, bytes.byteLength / size);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

export function toBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
