/**
 * The gradient checker: a model's JVP graph against float64 central finite differences (host
 * evaluation, independent of onnxruntime) and its VJP graph against the JVP through the
 * inner-product identity ⟨u, J v⟩ = ⟨Jᵀu, v⟩, as JAX's `check_grads` does.
 *
 * @module
 */

import { UserError } from "../../errors.ts";
import { encodeModel } from "../../onnx/encode.ts";
import { Session } from "../../onnx/session.ts";
import type { Dim, Model, Tensor } from "../../onnx/types.ts";
import { elementCount, isFloat } from "../../onnx/types.ts";
import { jvpTransform, TANGENT } from "../jvp.ts";
import { seededNormals } from "../../random/seeded.ts";
import { COTANGENT, GRAD, vjpTransform } from "../vjp.ts";
import { evaluate } from "../host/evaluate.ts";
import { floats } from "../host/ndarray.ts";
import { compareWithEngine, type ForwardRow } from "./check_forward.ts";

export interface GradCheckOptions {
  /** Tensors to differentiate; default: every float initializer (else every float input). */
  wrt?: string[];
  /** K tangents per JVP run. */
  tangents?: number;
  /** Concrete shapes for inputs with symbolic dims (default: symbolic dims become 2). */
  inputShapes?: Record<string, number[]>;
  /** Input values; the others are drawn from N(0, 1). */
  inputs?: Record<string, Tensor>;
  seed?: number;
  /** Finite-difference step (float64 central differences). */
  eps?: number;
  /** Relative tolerance, as JAX's float32 default. */
  tol?: number;
  /**
   * Build the JVP/VJP graphs from the declared (possibly symbolic) input shapes, using
   * `inputShapes` only to draw values: checks that the rules work with symbolic dims.
   */
  keepSymbolic?: boolean;
  /**
   * Also run the plain model in onnxruntime and compare its outputs with the host reference
   * that the finite differences use (`forward` in the report).
   */
  compareForward?: boolean;
  /** Called as each row is done (`done` of `total` output × wrt pairs): progress for a CLI. */
  onRow?: (row: GradCheckRow, done: number, total: number) => void;
}

export interface GradCheckRow {
  output: string;
  wrt: string;
  /** max |JVP − FD| / max |FD| over the K tangents. */
  jvpVsFd: number;
  /** |⟨u, J v⟩ − ⟨Jᵀu, v⟩| / max(|⟨u, J v⟩|, …): the JVP–VJP inner-product identity. */
  vjpVsJvp: number;
}

export interface GradCheckReport {
  rows: GradCheckRow[];
  tol: number;
  ok: boolean;
  inputShapes: Record<string, number[]>;
  /** With `compareForward`: onnxruntime's outputs against the host reference, per output. */
  forward?: ForwardRow[];
}

/** Seeded standard normals for check inputs and directions (src/random's counter-based stream). */
export function normals(n: number, seed: number): Float32Array {
  return seededNormals(n, seed);
}

/** Roles of the checker's draws: one stream each, so inputs, directions and cotangents differ. */
const INPUTS = 1;
const DIRECTIONS = 2;
const COTANGENTS = 3;

function concrete(name: string, shape: Dim[] | undefined, given?: number[]): number[] {
  if (given) return given;
  if (!shape) {
    throw new UserError(`input "${name}" has no declared shape; pass --input-shape ${name}=...`);
  }
  return shape.map((d) => (typeof d === "number" ? d : 2));
}

/** The `wrt` values that are graph inputs (the others are initializers of the model). */
function inputParams(g: Model["graph"], params: Record<string, Tensor>): Record<string, Tensor> {
  return Object.fromEntries(
    Object.entries(params).filter(([w]) => g.inputs.some((v) => v.name === w)),
  );
}

function f32(dims: number[], data: Float32Array): Tensor {
  return { dtype: "float32", dims, data };
}

/**
 * Checks the JVP graph against float64 central finite differences of the original model
 * (evaluated on the host) and the VJP graph against the JVP through ⟨u, Jv⟩ = ⟨Jᵀu, v⟩,
 * per output and per `wrt` tensor, with K tangents at once.
 */
export async function checkGrads(
  model: Model,
  options: GradCheckOptions = {},
): Promise<GradCheckReport> {
  const K = options.tangents ?? 2;
  const seed = options.seed ?? 0;
  // Small, because ReLU kinks within ±h·v spoil differences; float64 keeps rounding at ~1e-9.
  const eps = options.eps ?? 1e-8;
  const tol = options.tol ?? 2e-3;
  const g = model.graph;
  const wrt = options.wrt ??
    (() => {
      const inits = [...g.initializers].filter(([, t]) => isFloat(t.dtype)).map(([n]) => n);
      return inits.length > 0 ? inits : g.inputs.filter((v) => isFloat(v.dtype)).map((v) => v.name);
    })();

  // Concrete data inputs.
  const inputShapes: Record<string, number[]> = {};
  const feeds: Record<string, Tensor> = {};
  g.inputs.filter((v) => !g.initializers.has(v.name)).forEach((v, i) => {
    const given = options.inputs?.[v.name];
    if (given) {
      feeds[v.name] = given;
      inputShapes[v.name] = given.dims;
      return;
    }
    if (!isFloat(v.dtype)) {
      throw new UserError(`input "${v.name}" has type ${v.dtype}: provide its values`);
    }
    const dims = concrete(v.name, v.shape, options.inputShapes?.[v.name]);
    inputShapes[v.name] = dims;
    feeds[v.name] = f32(dims, seededNormals(elementCount(dims), seed, INPUTS, i));
  });

  const params: Record<string, Tensor> = {};
  for (const w of wrt) {
    const t = g.initializers.get(w) ?? feeds[w];
    if (!t) throw new UserError(`wrt: the model has no initializer or input named "${w}"`);
    params[w] = { dtype: "float32", dims: t.dims, data: Float32Array.from(floats(t)) };
  }
  const outputs = g.outputs.filter((o) => isFloat(o.dtype)).map((o) => o.name);

  const jvp = await Session.create(
    encodeModel(jvpTransform(model, { wrt, tangents: K, inputShapes })),
    "JVP graph",
  );
  const vjp = await Session.create(
    encodeModel(vjpTransform(model, { wrt, inputShapes })),
    "VJP graph",
  );
  try {
    // Host evaluation at θ ± h·v, one tensor and one tangent at a time.
    const at = (w: string, v: Float32Array, h: number) => {
      const base = floats(params[w]);
      const moved = {
        dtype: "float64" as const,
        dims: params[w].dims,
        data: base.map((x, i) => x + h * v[i]),
      };
      const inputs = { ...feeds, ...params, [w]: moved };
      return evaluate(model, inputs);
    };

    const rows: GradCheckRow[] = [];
    const cot: Record<string, Float32Array> = {};
    const primal = evaluate(model, { ...feeds, ...params });
    outputs.forEach((o, i) => (cot[o] = seededNormals(primal[o].data.length, seed, COTANGENTS, i)));
    const forward = options.compareForward
      ? await compareWithEngine(model, { ...feeds, ...inputParams(g, params) }, primal)
      : undefined;

    for (const [wi, w] of wrt.entries()) {
      const n = elementCount(params[w].dims);
      const tangents: Record<string, Tensor> = {};
      const v = seededNormals(K * n, seed, DIRECTIONS, wi);
      for (const u of wrt) {
        const m = elementCount(params[u].dims);
        tangents[`${u}${TANGENT}`] = f32(
          [K, ...params[u].dims],
          u === w ? v : new Float32Array(K * m),
        );
      }
      const jv = await jvp.run({ ...feeds, ...params, ...tangents });

      for (const o of outputs) {
        const jvo = floats(jv[`${o}${TANGENT}`]);
        const size = jvo.length / K;
        let errMax = 0;
        let scale = 0;
        let inner = 0;
        for (let k = 0; k < K; k++) {
          const vk = v.subarray(k * n, (k + 1) * n);
          const plus = floats(at(w, vk, eps)[o]);
          const minus = floats(at(w, vk, -eps)[o]);
          for (let j = 0; j < size; j++) {
            const fd = (plus[j] - minus[j]) / (2 * eps);
            errMax = Math.max(errMax, Math.abs(jvo[k * size + j] - fd));
            scale = Math.max(scale, Math.abs(fd));
          }
        }
        // ⟨u, J v_k⟩ summed over k, against ⟨Jᵀ u, Σ v_k⟩ from the VJP graph.
        for (let j = 0; j < K * size; j++) inner += cot[o][j % size] * jvo[j];
        const cotFeeds: Record<string, Tensor> = {};
        for (const p of outputs) {
          cotFeeds[`${p}${COTANGENT}`] = f32(
            primal[p].dims,
            p === o ? cot[p] : new Float32Array(cot[p].length),
          );
        }
        const grad = floats((await vjp.run({ ...feeds, ...params, ...cotFeeds }))[`${w}${GRAD}`]);
        let dual = 0;
        let mag = 0;
        for (let k = 0; k < K; k++) {
          for (let j = 0; j < n; j++) {
            dual += grad[j] * v[k * n + j];
            mag += Math.abs(grad[j] * v[k * n + j]);
          }
        }
        const row = {
          output: o,
          wrt: w,
          jvpVsFd: errMax / Math.max(scale, 1e-6),
          vjpVsJvp: Math.abs(inner - dual) /
            Math.max(Math.abs(inner), Math.abs(dual), mag * 1e-3, 1e-6),
        };
        rows.push(row);
        options.onRow?.(row, rows.length, wrt.length * outputs.length);
      }
    }
    const ok = rows.every((r) => r.jvpVsFd <= tol && r.vjpVsJvp <= tol) &&
      (forward ?? []).every((r) => r.mismatch === null);
    return { rows, tol, inputShapes, ok, ...(forward ? { forward } : {}) };
  } finally {
    await jvp.release();
    await vjp.release();
  }
}
