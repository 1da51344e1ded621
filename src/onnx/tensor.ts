import type { DType, Tensor } from "./types.ts";

/** Small constructors for constant tensors. */
export function floatTensor(dims: number[], values: ArrayLike<number>): Tensor {
  return { dtype: "float32", dims, data: Float32Array.from(values) };
}

export function int64Tensor(dims: number[], values: ArrayLike<number>): Tensor {
  return { dtype: "int64", dims, data: BigInt64Array.from(Array.from(values, (v) => BigInt(v))) };
}

export function scalarTensor(value: number, dtype: DType = "float32"): Tensor {
  if (dtype === "int64") return int64Tensor([], [value]);
  if (dtype === "float64") return { dtype, dims: [], data: Float64Array.of(value) };
  return floatTensor([], [value]);
}

/** Reads a numeric tensor's values as plain numbers (int64 via Number). */
export function tensorNumbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}
