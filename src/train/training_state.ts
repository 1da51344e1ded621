/**
 * One method's training state as the coordinator advances it: the step counter, the training
 * clock, the running loss, the optimizer, the log and the parameters. It restores from a
 * checkpoint's MethodState and snapshots back into one, so a resumed run continues exactly.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { LogRow, MethodState, RunStatus } from "./checkpoint.ts";
import type { Method } from "./config.ts";
import { RunningLoss } from "./metrics.ts";
import {
  createOptimizer,
  type Optimizer,
  type OptimizerName,
  type OptimizerState,
} from "./optimizers.ts";

export interface TrainingStateOptions {
  method: Method;
  /** The shared parameter vector the workers read. */
  params: Float32Array;
  /** The log (evaluations and worker failures), shared with the pool's failure hook. */
  log: LogRow[];
  perEpoch: number;
  optimizer: OptimizerName;
}

export class TrainingState {
  readonly method: Method;
  readonly params: Float32Array;
  readonly log: LogRow[];
  readonly perEpoch: number;
  readonly optimizer: Optimizer;
  readonly running: RunningLoss;
  /** Steps completed. */
  step = 0;
  /** Seconds spent in steps (evaluations excluded). */
  trainSeconds = 0;
  /** When the stopping rule's target was met, if it was. */
  reachedAt: { step: number; seconds: number } | null = null;

  constructor(options: TrainingStateOptions) {
    this.method = options.method;
    this.params = options.params;
    this.log = options.log;
    this.perEpoch = options.perEpoch;
    this.optimizer = createOptimizer(options.optimizer, options.params.length);
    this.running = new RunningLoss(Math.min(50, options.perEpoch));
  }

  /** Continues from `saved` (its parameters are already in `params`). */
  restore(saved: MethodState): void {
    const { perEpoch } = this;
    if (
      saved.epoch !== Math.floor(saved.step / perEpoch) || saved.batch !== saved.step % perEpoch
    ) {
      throw new UserError(
        `checkpoint: ${saved.method} is at step ${saved.step}, epoch ${saved.epoch}, batch ` +
          `${saved.batch}, which does not fit ${perEpoch} batches per epoch (data changed?)`,
      );
    }
    try {
      this.optimizer.load(saved.optimizer);
    } catch (e) {
      throw new UserError(`checkpoint: ${saved.method}: ${(e as Error).message}`);
    }
    this.running.restore(saved.running);
    this.step = saved.step;
    this.trainSeconds = saved.trainSeconds;
    this.reachedAt = saved.reachedAt;
  }

  /** Everything a checkpoint needs to continue from here (copies, not views). */
  snapshot(status: RunStatus): MethodState {
    const { step, perEpoch } = this;
    return {
      method: this.method,
      status,
      step,
      epoch: Math.floor(step / perEpoch),
      batch: step % perEpoch,
      trainSeconds: this.trainSeconds,
      running: this.running.snapshot(),
      reachedAt: this.reachedAt,
      log: [...this.log],
      params: Float32Array.from(this.params),
      optimizer: copyState(this.optimizer.state()),
    };
  }
}

function copyState(state: OptimizerState): OptimizerState {
  const out: OptimizerState = {};
  for (const [k, v] of Object.entries(state)) {
    out[k] = typeof v === "number" ? v : Float32Array.from(v);
  }
  return out;
}
