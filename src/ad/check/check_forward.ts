/**
 * The checker's reference against the engine: the host's float64 `evaluate` (what finite
 * differences and constant folding rely on) against onnxruntime's outputs of the same model.
 *
 * @module
 */

import { encodeModel } from "../../onnx/encode.ts";
import { Session } from "../../onnx/session.ts";
import type { Model, Tensor } from "../../onnx/types.ts";
import { isFloat } from "../../onnx/types.ts";
import { numbers } from "../host/ndarray.ts";

/** One output of the model: onnxruntime's values against the host reference's. */
export interface ForwardRow {
  output: string;
  /** Float outputs: max |engine − reference| / max |reference|; integer and bool: 0 or 1. */
  error: number;
  /** What differs (element count, first differing element), or null when they agree. */
  mismatch: string | null;
}

/** Float32 round-off of one op, relative to the output's largest magnitude. */
export const FORWARD_TOL = 1e-4;

/**
 * Runs `model` in onnxruntime with `feeds` and compares every output with `reference` (the
 * host evaluation of the same feeds): element counts first, integer and bool outputs exactly,
 * float outputs within `tol` of the output's scale.
 */
export async function compareWithEngine(
  model: Model,
  feeds: Record<string, Tensor>,
  reference: Record<string, Tensor>,
  tol = FORWARD_TOL,
): Promise<ForwardRow[]> {
  const session = await Session.create(encodeModel(model), "the model");
  try {
    const got = await session.run(feeds);
    return model.graph.outputs.map(({ name, dtype }): ForwardRow => {
      const a = numbers(got[name]);
      const r = numbers(reference[name]);
      const row = (error: number, mismatch: string | null) => ({ output: name, error, mismatch });
      if (a.length !== r.length) {
        return row(1, `${a.length} elements from onnxruntime, ${r.length} from evaluate`);
      }
      if (!isFloat(dtype)) {
        const i = a.findIndex((v, j) => v !== r[j]);
        return i < 0 ? row(0, null) : row(1, `element ${i}: onnxruntime ${a[i]}, evaluate ${r[i]}`);
      }
      const scale = r.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      let worst = 0;
      let at = 0;
      a.forEach((v, j) => {
        const d = Math.abs(v - r[j]);
        if (!(d <= worst)) [worst, at] = [d, j];
      });
      const error = worst / scale;
      return row(
        error,
        error <= tol ? null : `element ${at}: onnxruntime ${a[at]}, evaluate ${r[at]}`,
      );
    });
  } finally {
    await session.release();
  }
}
