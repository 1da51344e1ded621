/**
 * Shape arithmetic on possibly symbolic dims (numpy broadcasting, axis normalisation), shared
 * by the rules, the drivers and the host reference code.
 *
 * @module
 */

import type { Dim } from "../onnx/types.ts";

/** Numpy-style broadcast of two shapes; symbolic dims broadcast with 1 and with themselves. */
export function broadcastShapes(a: Dim[], b: Dim[], where = "broadcast"): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === 1) out.push(db);
    else if (db === 1 || da === db) out.push(da);
    else if (typeof da === "string" || typeof db === "string") {
      out.push(typeof da === "number" ? da : db);
    } else throw new Error(`${where}: shapes [${a}] and [${b}] do not broadcast`);
  }
  return out;
}

export function sameShape(a: Dim[] | undefined, b: Dim[] | undefined): boolean {
  return !!a && !!b && a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Normalises a possibly negative axis against a rank. */
export function normAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

export function isStatic(shape: Dim[]): shape is number[] {
  return shape.every((d) => typeof d === "number");
}

/** Product of dims when all are concrete, else undefined. */
export function staticSize(shape: Dim[]): number | undefined {
  return isStatic(shape) ? shape.reduce((a, b) => a * b, 1) : undefined;
}
