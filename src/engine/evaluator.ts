/**
 * Evaluation: loss, accuracy and misclassified count of a model on a split, run in chunks on
 * the evaluation graph (Evaluator), and the evaluating worker's view of it over its data splits
 * and the shared parameters (WorkerEvaluation).
 *
 * @module
 */
import { oneHot } from "../data/batches.ts";
import type { Split } from "../data/dataset.ts";
import { type ParamLayout, paramViews } from "../model/params.ts";
import { Session } from "../onnx/session.ts";
import type { Tensor } from "../onnx/types.ts";
import type { EvalSetup, Evaluation } from "./messages.ts";

export type { Evaluation } from "./messages.ts";

/** Loss, accuracy and misclassified count of a model on a split, in chunks. */
export class Evaluator {
  private constructor(
    private readonly session: Session,
    private readonly featureShape: number[],
    private readonly classes: number,
  ) {}

  static async create(
    bytes: Uint8Array,
    featureShape: number[],
    classes: number,
  ): Promise<Evaluator> {
    return new Evaluator(await Session.create(bytes, "evaluation graph"), featureShape, classes);
  }

  /** `onLogits` (optional) sees each chunk's logits, `[n, classes]`, from example `start`. */
  async evaluate(
    params: Record<string, Tensor>,
    split: Split,
    chunk = 1000,
    onLogits?: (start: number, logits: Float32Array) => void,
  ): Promise<Evaluation> {
    const width = this.featureShape.reduce((a, b) => a * b, 1);
    // The plain model's parameters only: training-only ones (local heads) are not in this graph.
    const inputs = new Set(this.session.inputNames);
    const used = Object.fromEntries(Object.entries(params).filter(([name]) => inputs.has(name)));
    let lossSum = 0;
    let wrong = 0;
    for (let start = 0; start < split.count; start += chunk) {
      const n = Math.min(chunk, split.count - start);
      const y = split.y.subarray(start, start + n);
      const out = await this.session.run({
        ...used,
        x: {
          dtype: "float32",
          dims: [n, ...this.featureShape],
          data: split.x.subarray(start * width, (start + n) * width),
        },
        labels: { dtype: "float32", dims: [n, this.classes], data: oneHot(y, this.classes) },
      });
      lossSum += Number(out.loss.data[0]) * n;
      const logits = out.logits.data as Float32Array;
      onLogits?.(start, logits);
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let c = 1; c < this.classes; c++) {
          if (logits[i * this.classes + c] > logits[i * this.classes + best]) best = c;
        }
        if (best !== y[i]) wrong++;
      }
    }
    return { loss: lossSum / split.count, accuracy: 1 - wrong / split.count, misclassified: wrong };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** What the evaluating worker needs: its evaluation setup and the engine's shared parameters. */
export interface WorkerEvaluationSetup {
  eval: EvalSetup;
  params: Float32Array;
  layout: ParamLayout;
  featureShape: number[];
  classes: number;
}

/** Evaluation as a worker holds it: its data splits and the shared parameters. */
export class WorkerEvaluation {
  private constructor(
    private readonly evaluator: Evaluator,
    private readonly setup: WorkerEvaluationSetup,
  ) {}

  static async create(setup: WorkerEvaluationSetup): Promise<WorkerEvaluation> {
    const { eval: { evaluation }, featureShape, classes } = setup;
    return new WorkerEvaluation(await Evaluator.create(evaluation, featureShape, classes), setup);
  }

  evaluate(split: string): Promise<Evaluation> {
    const data = this.setup.eval.splits[split];
    if (!data) throw new Error(`no split "${split}" in this worker`);
    return this.evaluator.evaluate(paramViews(this.setup.params, this.setup.layout), data);
  }

  release(): Promise<void> {
    return this.evaluator.release();
  }
}
