/**
 * What one method's run gives back: its summary (as summary.json records it), its metrics and
 * failure events, its final parameters and state, and how it ended (`status`, and the `cause`
 * when it stopped early). Also the progress update a method reports after each step.
 *
 * @module
 */
import {
  isEvaluation,
  type MethodState,
  type MethodSummary,
  type RunStatus,
} from "./checkpoint.ts";
import type { MetricRow } from "./metrics.ts";
import type { Stopped } from "./stopping.ts";
import type { WorkerFailureEvent } from "./supervised_pool.ts";
import type { TrainingState } from "./training_state.ts";

/** What a method reports after each step (the progress display takes it as it is). */
export interface ProgressUpdate {
  step: number;
  epoch: number;
  loss: number;
  /** Fraction in [0, 1], shown as a percentage. */
  testAccuracy?: number;
  stepsPerSecond: number;
  /** Estimated seconds left; derived from `totalSteps` and `stepsPerSecond` when omitted. */
  etaSeconds?: number;
  /**
   * True on the step an evaluation finished. When omitted, an update whose testAccuracy
   * differs from the method's previous one counts as an evaluation.
   */
  evaluated?: boolean;
}

/** A method's summary plus what the outputs and the checkpoint need. */
export interface MethodResult extends MethodSummary {
  /** The evaluations (metrics.jsonl lines without an `event` field). */
  metrics: MetricRow[];
  /** Worker failures, in order. */
  events: WorkerFailureEvent[];
  /** The parameters at the end (the last good ones when the run stopped early). */
  params: Float32Array;
  /** Everything a checkpoint needs to continue (or, when complete, to rewrite the outputs). */
  state: MethodState;
  /** What stopped the run early (status "diverged": a DivergenceError; "failed": a WorkerFailureError). */
  cause?: Stopped["cause"];
}

/** How the run ended: complete or interrupted, or stopped early with its cause. */
export type Ending =
  | { status: Extract<RunStatus, "complete" | "interrupted">; cause?: never }
  | Stopped;

/** The result of a run that ended as `ending`, from its training state. */
export function methodResult(
  state: TrainingState,
  ending: Ending,
  final: MethodSummary["final"],
): MethodResult {
  const { status, cause } = ending;
  const { step, perEpoch, trainSeconds, reachedAt } = state;
  const snapshot = state.snapshot(status);
  const events = eventsOf(state.log);
  const summary: MethodSummary = {
    method: state.method,
    status,
    ...(cause ? { error: cause.message } : {}),
    steps: step,
    epochs: step / perEpoch,
    wallSeconds: trainSeconds,
    stepsPerSecond: step / Math.max(trainSeconds, 1e-9),
    reachedTarget: reachedAt !== null,
    secondsToTarget: reachedAt?.seconds ?? null,
    stepsToTarget: reachedAt?.step ?? null,
    final,
    workerFailures: summarizeFailures(events),
  };
  snapshot.summary = summary;
  if (cause) snapshot.error = cause.message;
  return {
    ...summary,
    metrics: state.log.filter(isEvaluation),
    events,
    params: snapshot.params,
    state: snapshot,
    ...(cause ? { cause } : {}),
  };
}

/** A finished method's result rebuilt from its checkpointed state (no training). */
export function resultFromState(state: MethodState): MethodResult {
  if (!state.summary) throw new Error(`${state.method}: state has no summary`);
  return {
    ...state.summary,
    metrics: state.log.filter(isEvaluation),
    events: eventsOf(state.log),
    params: state.params,
    state,
  };
}

export function summarizeFailures(
  events: readonly WorkerFailureEvent[],
): MethodSummary["workerFailures"] {
  const byKind = { error: 0, crash: 0, timeout: 0 };
  for (const e of events) byKind[e.kind]++;
  return { count: events.length, byKind, steps: [...new Set(events.map((e) => e.step))] };
}

function eventsOf(log: MethodState["log"]): WorkerFailureEvent[] {
  return log.filter((r): r is WorkerFailureEvent => !isEvaluation(r));
}
