/**
 * Training metrics: the evaluation rows of metrics.jsonl and the running (smoothed) training
 * loss the stopping rule reads.
 *
 * @module
 */
import type { Method } from "./config.ts";

/** One evaluation, as written to metrics.jsonl. */
export interface MetricRow {
  method: Method;
  step: number;
  epoch: number;
  /** Training seconds so far (evaluation time excluded, so both methods compare fairly). */
  wallSeconds: number;
  trainLoss: number;
  testLoss: number;
  testAccuracy: number;
  misclassified: number;
}

/** Mean of the last `window` values: the smoothed training loss of the stopping rule. */
export class RunningLoss {
  private readonly values: number[] = [];
  constructor(readonly window: number) {}

  push(v: number): void {
    this.values.push(v);
    if (this.values.length > this.window) this.values.shift();
  }

  /** The window's values, oldest first (for checkpoints). */
  snapshot(): number[] {
    return [...this.values];
  }

  /** Replaces the window with saved values (a resumed run continues the same mean). */
  restore(values: readonly number[]): void {
    this.values.splice(0, this.values.length, ...values.slice(-this.window));
  }

  get full(): boolean {
    return this.values.length >= this.window;
  }

  get mean(): number {
    return this.values.reduce((a, b) => a + b, 0) / Math.max(1, this.values.length);
  }
}
