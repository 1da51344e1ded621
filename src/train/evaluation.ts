/**
 * A method's evaluations, run on the evaluating worker (worker 0): the test split every few
 * steps (a metrics row), and the final numbers when the run ends, however it ends.
 *
 * @module
 */
import type { Evaluation } from "../engine/messages.ts";
import { isEvaluation, type MethodSummary, type RunStatus } from "./checkpoint.ts";
import type { MetricRow } from "./metrics.ts";
import { type Stopped, stoppedBy } from "./stopping.ts";
import { FailureBudget, WorkerFailureError } from "./supervised_pool.ts";
import type { TrainingState } from "./training_state.ts";

export interface EvaluationsOptions {
  /** Evaluates `split` on the evaluating worker, counting failures against `budget`. */
  call: (split: "train" | "test", budget: FailureBudget) => Promise<Evaluation>;
  state: TrainingState;
  onEvaluation?: (row: MetricRow) => void;
}

type Final = MethodSummary["final"];

export class Evaluations {
  constructor(private readonly options: EvaluationsOptions) {}

  /** One split at the current step, as an operation of its own (its own failure budget). */
  split(split: "train" | "test"): Promise<Evaluation> {
    const { step } = this.options.state;
    return this.options.call(
      split,
      new FailureBudget(step, `the ${split}-split evaluation after step ${step}`),
    );
  }

  /** The test split at the current step as a metrics row; `record` logs it. */
  async test(record: boolean): Promise<MetricRow> {
    const { state, onEvaluation } = this.options;
    const test = await this.split("test");
    const row: MetricRow = {
      method: state.method,
      step: state.step,
      epoch: state.step / state.perEpoch,
      wallSeconds: state.trainSeconds,
      trainLoss: state.running.mean,
      testLoss: test.loss,
      testAccuracy: test.accuracy,
      misclassified: test.misclassified,
    };
    if (record) {
      state.log.push(row);
      onEvaluation?.(row);
    }
    return row;
  }

  /** The latest logged evaluation. */
  last(): MetricRow | undefined {
    return this.options.state.log.filter(isEvaluation).at(-1);
  }

  /**
   * The summary's final numbers for a run ending with `status`. A complete run evaluates the
   * test split at its last step (unless logged already) and the train split; when that fails,
   * the run is stopped after all (`stopped`) and reports its latest evaluation. A failed run
   * reports its latest evaluation. An interrupted or diverged run's workers are healthy: it
   * reports the test split at this step without adding a metrics row (a resumed run must log
   * exactly what an uninterrupted one does).
   */
  async final(status: RunStatus): Promise<{ final: Final; stopped?: Stopped }> {
    const { step } = this.options.state;
    const none: Final = { trainLoss: NaN, testLoss: NaN, testAccuracy: NaN, misclassified: NaN };
    const fromRow = (row: MetricRow | undefined): Final =>
      row
        ? {
          ...none,
          testLoss: row.testLoss,
          testAccuracy: row.testAccuracy,
          misclassified: row.misclassified,
        }
        : none;
    const latest = this.last();
    if (status === "complete") {
      try {
        const last = latest?.step === step ? latest : await this.test(true);
        const train = await this.split("train");
        return {
          final: {
            trainLoss: train.loss,
            testLoss: last.testLoss,
            testAccuracy: last.testAccuracy,
            misclassified: last.misclassified,
          },
        };
      } catch (e) {
        const stopped = stoppedBy(e);
        return { final: fromRow(this.last()), stopped };
      }
    }
    if (status === "failed") return { final: fromRow(latest) };
    if (latest?.step === step) return { final: fromRow(latest) };
    try {
      return { final: fromRow(await this.test(false)) };
    } catch (e) {
      if (!(e instanceof WorkerFailureError)) throw e;
      return { final: fromRow(latest) };
    }
  }
}
