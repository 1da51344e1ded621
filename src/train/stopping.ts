/**
 * The stopping rules of a method's run: the step and time budgets, an interruption, the
 * target loss, divergence (a non-finite loss or gradient, caught before it reaches the
 * parameters), and which errors stop a run with a status instead of failing it.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { Method, TrainConfig } from "./config.ts";
import type { RunningLoss } from "./metrics.ts";
import { WorkerFailureError } from "./supervised_pool.ts";
import type { TrainingState } from "./training_state.ts";

/** A non-finite loss or gradient, caught before it reaches the parameters. */
export class DivergenceError extends UserError {}

/** How a run that stopped early ended: its status and the error that stopped it. */
export interface Stopped {
  status: "diverged" | "failed";
  cause: DivergenceError | WorkerFailureError;
}

/**
 * What stopping the run on `error` means: a divergence or exhausted worker retries end the
 * run with a status (and outputs so far); anything else is re-thrown.
 */
export function stoppedBy(error: unknown): Stopped {
  if (error instanceof DivergenceError) return { status: "diverged", cause: error };
  if (error instanceof WorkerFailureError) return { status: "failed", cause: error };
  throw error;
}

/**
 * Why the run takes no further step, checked before each one: "done" (the step budget, the
 * target loss or --max-seconds), "interrupted" (the signal), or null to go on.
 */
export function stopBeforeStep(
  state: TrainingState,
  budget: number,
  config: TrainConfig,
  signal?: AbortSignal,
): "done" | "interrupted" | null {
  if (state.step >= budget || state.reachedAt) return "done";
  if (config.maxSeconds && state.trainSeconds >= config.maxSeconds) return "done";
  if (signal?.aborted) return "interrupted";
  return null;
}

/** The stopping rule: the smoothed training loss fell below --target-loss. */
export function targetMet(config: TrainConfig, running: RunningLoss): boolean {
  return config.targetLoss !== undefined && running.full && running.mean < config.targetLoss;
}

/** Throws a DivergenceError when the step's loss or gradient is not finite. */
export function checkFinite(loss: number, grad: Float32Array, step: number, method: Method): void {
  let ok = Number.isFinite(loss);
  for (let i = 0; ok && i < grad.length; i++) ok = Number.isFinite(grad[i]);
  if (!ok) {
    const flag = method === "forward" ? "--lr-forward" : "--lr-backprop";
    const more = method === "forward"
      ? `, more tangents (--tangents), a lower-variance estimator (--perturb activations) ` +
        `or --clip-grad-norm`
      : " or --clip-grad-norm";
    throw new DivergenceError(
      `${method} training diverged at step ${step} (non-finite loss or gradient); the ` +
        `parameters were not updated. Try a smaller learning rate (--lr or ${flag})${more}.`,
    );
  }
}
