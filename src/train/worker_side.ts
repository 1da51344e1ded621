import { Evaluator } from "./evaluator.ts";
import type { z } from "zod";
import type { EvalSetupSchema, LayoutSchema } from "./messages.ts";
import { paramViews } from "./params.ts";
import type { Evaluation } from "./evaluator.ts";

/** Evaluation as a worker holds it: its data splits and the shared parameters. */
export class WorkerEvaluation {
  private constructor(
    private readonly evaluator: Evaluator,
    private readonly splits: z.infer<typeof EvalSetupSchema>["splits"],
    private readonly params: Float32Array,
    private readonly layout: z.infer<typeof LayoutSchema>,
  ) {}

  static async create(
    setup: z.infer<typeof EvalSetupSchema>,
    params: Float32Array,
    layout: z.infer<typeof LayoutSchema>,
    featureShape: number[],
    classes: number,
  ): Promise<WorkerEvaluation> {
    return new WorkerEvaluation(
      await Evaluator.create(setup.evaluation, featureShape, classes),
      setup.splits,
      params,
      layout,
    );
  }

  evaluate(split: string): Promise<Evaluation> {
    const data = this.splits[split];
    if (!data) throw new Error(`no split "${split}" in this worker`);
    return this.evaluator.evaluate(paramViews(this.params, this.layout), data);
  }

  release(): Promise<void> {
    return this.evaluator.release();
  }
}
