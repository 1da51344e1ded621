/**
 * Per-example predictions of a model on a split, as CSV (`model,index,label,predicted,p_<class>…`)
 * or JSON lines (`{model, index, label, predicted, probabilities: {class: p}}`), chosen by the
 * file's extension.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { roundSignificant } from "./round.ts";

export interface Prediction {
  model: string;
  index: number;
  label: string;
  predicted: string;
  probabilities: number[];
}

/** Softmax rows of `[n, classes]` logits, with the argmax of each. */
export function predictionsOf(
  model: string,
  start: number,
  logits: Float32Array,
  labels: ArrayLike<number>,
  classes: readonly string[],
): Prediction[] {
  const c = classes.length;
  const out: Prediction[] = [];
  for (let i = 0; i * c < logits.length; i++) {
    const row = logits.subarray(i * c, (i + 1) * c);
    const max = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const best = e.indexOf(Math.max(...e));
    out.push({
      model,
      index: start + i,
      label: classes[labels[start + i]],
      predicted: classes[best],
      probabilities: e.map((v) => roundSignificant(v / sum)),
    });
  }
  return out;
}

/** The text of a predictions file: CSV for `.csv`, JSON lines for `.jsonl`. */
export function formatPredictions(
  path: string,
  rows: readonly Prediction[],
  classes: readonly string[],
): string {
  if (/\.jsonl$/i.test(path)) {
    return rows.map((r) =>
      JSON.stringify({
        ...r,
        probabilities: Object.fromEntries(classes.map((c, j) => [c, r.probabilities[j]])),
      }) + "\n"
    ).join("");
  }
  if (!/\.csv$/i.test(path)) {
    throw new UserError(`--predictions: ${path}: expected a .csv or .jsonl file name`);
  }
  const cell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const header = ["model", "index", "label", "predicted", ...classes.map((c) => `p_${c}`)];
  return [header, ...rows.map((r) => [r.model, r.index, r.label, r.predicted, ...r.probabilities])]
    .map((cols) => cols.map((v) => cell(String(v))).join(",") + "\n").join("");
}
