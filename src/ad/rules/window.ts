/**
 * Window geometry shared by the convolution and pooling rules (JAX keeps it in one place for
 * `conv_general_dilated` and the windowed reductions alike): the attributes that place a
 * kernel's windows on each spatial axis, the dilated kernel's extent, SAME_* padding as
 * onnxruntime computes it, and the number of windows along an axis.
 *
 * @module
 */

import type { Dim, Node } from "../../onnx/types.ts";
import { unsupported, z } from "../rule.ts";

/** The attributes every windowed op has (each adds its own kernel_shape and extras). */
export const windowFields = {
  auto_pad: z.enum(["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]).default("NOTSET"),
  dilations: z.array(z.number()).optional(),
  pads: z.array(z.number()).optional(),
  strides: z.array(z.number()).optional(),
};

export type AutoPad = z.infer<typeof windowFields.auto_pad>;

/** Where the windows of a node sit, per spatial axis, with auto_pad resolved to pads. */
export interface Window<D extends Dim = Dim> {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Padding before/after each axis as the runtime applies it. */
  begin: number[];
  end: number[];
  /** Output spatial sizes. */
  out: D[];
}

/** The extent of the dilated kernel on axis i: (k − 1)·d + 1. */
export function extent(w: Pick<Window, "kernel" | "dilations">, i: number): number {
  return (w.kernel[i] - 1) * w.dilations[i] + 1;
}

/** A per-axis attribute, `dflt` on every axis when absent or empty; the wrong length fails. */
export function perAxis(
  node: Node,
  name: string,
  v: number[] | undefined,
  r: number,
  dflt: number,
) {
  if (v === undefined || v.length === 0) return new Array<number>(r).fill(dflt);
  if (v.length !== r) throw unsupported(node, name, `has ${v.length} values, expected ${r}`);
  return v;
}

/**
 * SAME_UPPER / SAME_LOWER on an axis of static `size`, as onnxruntime's CPU kernels compute
 * it: `out` = ceil(size/stride) windows need a total pad of
 * `needed` = (out − 1)·stride + extent − size (negative when the kernel is smaller than the
 * stride), of which `head` goes in front, halved with C++ integer division (the odd pixel at
 * the end for UPPER, at the start for LOWER).
 */
export function samePads(
  mode: AutoPad,
  size: number,
  stride: number,
  extent: number,
): { out: number; needed: number; head: number } {
  const out = Math.ceil(size / stride);
  const needed = (out - 1) * stride + extent - size;
  const head = Math.trunc((mode === "SAME_LOWER" ? needed + 1 : needed) / 2);
  return { out, needed, head };
}

/** Windows along an axis whose padded length minus the kernel extent is `span`. */
export function windowCount(span: number, stride: number, ceil = false): number {
  return (ceil ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
}
