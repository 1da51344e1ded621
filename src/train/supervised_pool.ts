/**
 * Worker supervision: every call into a worker races the worker's death (its `error` event)
 * and a timeout. A worker that throws, crashes or does not answer in time is terminated and
 * replaced by a fresh one initialised with the same setup, and the call is made again. A
 * training step's result is a pure function of (parameters, batch, seed, step, stream), so the
 * recomputed answer is bit-identical to what the lost worker would have sent.
 *
 * After `maxRetries` recomputations of one operation (a training step, or one evaluation),
 * the next failure stops the run with a WorkerFailureError. An error the worker raises as a
 * UserError (for example onnxruntime rejecting a model) is bad input, not bad luck: it is
 * re-thrown at once as a UserError, without retries.
 */
import type * as Comlink from "comlink";
import { RunError, UserError } from "../errors.ts";
import type { Method } from "./config.ts";
import { type Spawned, type SpawnFn, WorkerCrashError, type WorkerKind } from "./spawn.ts";

/** Defaults of `--max-retries` and of the adaptive timeout. */
export const SUPERVISION_DEFAULTS = {
  maxRetries: 3,
  /** Floor of the adaptive call timeout. */
  minTimeoutMs: 30_000,
  /** The adaptive timeout is this many times the median duration of the same call. */
  medianFactor: 20,
  /** Timeout before any call of a kind has been timed (the first step warms the runtime up). */
  firstCallTimeoutMs: 120_000,
  /** Starting a worker (creating its onnxruntime sessions) may take long for big graphs. */
  initTimeoutMs: 300_000,
  /** How long `close` waits for a worker to release its sessions before terminating it. */
  releaseTimeoutMs: 2_000,
} as const;

export interface SupervisionOptions {
  /** Recomputations allowed per operation; one more failure stops the run. */
  maxRetries: number;
  /** Fixed timeout for steps and evaluations; default adaptive (see SUPERVISION_DEFAULTS). */
  callTimeoutMs?: number;
}

export type CallKind = "init" | "step" | "evaluate";
export type FailureKind = "error" | "crash" | "timeout";

/** One worker failure, as written to metrics.jsonl (a line with an `event` field). */
export interface WorkerFailureEvent {
  event: "worker-failure";
  method: Method;
  /** The step being computed (= steps completed before it); for evaluations, steps done. */
  step: number;
  /** What the worker was asked to do. */
  during: CallKind;
  /** Worker index (0 also evaluates). */
  worker: number;
  kind: FailureKind;
  reason: string;
  /** Failures of this operation so far, this one included. */
  attempt: number;
  /** "restarted": a fresh worker recomputes; "stopped": retries exhausted, the run stops. */
  action: "restarted" | "stopped";
}

/** Retries exhausted: the run stops (with a checkpoint) instead of looping forever. */
export class WorkerFailureError extends RunError {
  override name = "WorkerFailureError";
  constructor(message: string, readonly event: WorkerFailureEvent) {
    super(message, 1);
  }
}

/** The failures counted against one operation: a training step or one evaluation. */
export class FailureBudget {
  count = 0;
  constructor(readonly step: number, readonly what: string) {}
}

class CallTimeoutError extends Error {
  override name = "CallTimeoutError";
}

class PoolClosedError extends Error {
  override name = "PoolClosedError";
}

/** Median of the last `size` durations of one call kind. */
class Durations {
  private readonly values: number[] = [];
  constructor(private readonly size = 63) {}

  push(ms: number): void {
    this.values.push(ms);
    if (this.values.length > this.size) this.values.shift();
  }

  median(): number | undefined {
    if (this.values.length === 0) return undefined;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)];
  }
}

interface Slot<T> {
  worker?: Spawned<T>;
}

export interface PoolOptions {
  kind: WorkerKind;
  method: Method;
  size: number;
  spawn: SpawnFn;
  /** Worker w's init argument; a replacement gets the same. */
  initArgs: (w: number) => unknown;
  supervision: SupervisionOptions;
  onFailure: (event: WorkerFailureEvent) => void;
}

/** A fixed number of supervised workers of one kind. */
export class SupervisedPool<
  T extends { init(raw: unknown): Promise<void>; release(): Promise<void> },
> {
  private readonly slots: Slot<T>[];
  private readonly waiting = new Set<() => void>();
  private closed = false;
  private readonly durations: Record<CallKind, Durations> = {
    init: new Durations(),
    step: new Durations(),
    evaluate: new Durations(),
  };

  constructor(private readonly options: PoolOptions) {
    this.slots = Array.from({ length: options.size }, () => ({}));
  }

  get size(): number {
    return this.slots.length;
  }

  /** The timeout of the next call of `kind`, in milliseconds. */
  timeoutMs(kind: CallKind): number {
    const d = SUPERVISION_DEFAULTS;
    const fixed = this.options.supervision.callTimeoutMs;
    if (kind === "init") return Math.max(d.initTimeoutMs, fixed ?? 0);
    if (fixed !== undefined) return fixed;
    const median = this.durations[kind].median();
    return median === undefined
      ? d.firstCallTimeoutMs
      : Math.max(d.minTimeoutMs, d.medianFactor * median);
  }

  /** Starts every worker (in parallel), counting failures against `budget`. */
  async startAll(budget: FailureBudget): Promise<void> {
    await settleAll(this.slots.map((_, w) => this.ensureStarted(w, budget)));
  }

  /**
   * Calls worker `w`: `fn` makes the call, `parse` checks the reply (a malformed reply is a
   * failure too). Replaces the worker and calls again until it succeeds or `budget` runs out.
   */
  async call<R>(
    w: number,
    budget: FailureBudget,
    kind: "step" | "evaluate",
    fn: (api: Comlink.Remote<T>) => Promise<unknown>,
    parse: (raw: unknown) => R,
  ): Promise<R> {
    for (;;) {
      await this.ensureStarted(w, budget);
      const worker = this.slots[w].worker!;
      const t0 = performance.now();
      try {
        const raw = await this.guard(fn(worker.api), worker, this.timeoutMs(kind));
        const result = parse(raw);
        this.durations[kind].push(performance.now() - t0);
        return result;
      } catch (e) {
        this.fail(w, budget, kind, e);
      }
    }
  }

  /** Releases every live worker's sessions (briefly) and terminates it. */
  async close(): Promise<void> {
    this.closed = true;
    // Calls still waiting (on a worker that will never answer) end now, timers included.
    for (const cancel of this.waiting) cancel();
    await Promise.all(this.slots.map(async (slot) => {
      const worker = slot.worker;
      slot.worker = undefined;
      if (!worker) return;
      await race(worker.api.release(), worker, SUPERVISION_DEFAULTS.releaseTimeoutMs).catch(
        () => {},
      );
      worker.terminate();
    }));
  }

  /** Races a call against the worker's crash and a timeout; `close` cancels it. */
  private async guard<R>(call: Promise<R>, worker: Spawned<unknown>, ms: number): Promise<R> {
    let cancel = () => {};
    const cancelled = new Promise<never>((_, reject) => {
      cancel = () => reject(new PoolClosedError("the worker pool was closed"));
    });
    this.waiting.add(cancel);
    try {
      return await race(call, worker, ms, cancelled);
    } finally {
      this.waiting.delete(cancel);
    }
  }

  private async ensureStarted(w: number, budget: FailureBudget): Promise<void> {
    while (!this.slots[w].worker) {
      if (this.closed) throw new PoolClosedError("the worker pool was closed");
      const worker = this.options.spawn<T>(this.options.kind);
      this.slots[w].worker = worker;
      const t0 = performance.now();
      try {
        await this.guard(
          worker.api.init(this.options.initArgs(w)),
          worker,
          this.timeoutMs("init"),
        );
        this.durations.init.push(performance.now() - t0);
      } catch (e) {
        this.fail(w, budget, "init", e);
      }
    }
  }

  /** Terminates worker w, records the failure, and throws when the budget is spent. */
  private fail(w: number, budget: FailureBudget, during: CallKind, error: unknown): void {
    this.slots[w].worker?.terminate();
    this.slots[w].worker = undefined;
    if (this.closed || error instanceof PoolClosedError) throw error;
    if (error instanceof Error && error.name === "UserError") {
      // Raised on purpose inside the worker (comlink keeps the name, not the class).
      throw new UserError(error.message);
    }
    const { kind, reason } = describeFailure(error);
    budget.count++;
    const stop = budget.count > this.options.supervision.maxRetries;
    const event: WorkerFailureEvent = {
      event: "worker-failure",
      method: this.options.method,
      step: budget.step,
      during,
      worker: w,
      kind,
      reason,
      attempt: budget.count,
      action: stop ? "stopped" : "restarted",
    };
    this.options.onFailure(event);
    if (stop) {
      const times = budget.count === 1 ? "once" : `${budget.count} times`;
      const retries = this.options.supervision.maxRetries;
      throw new WorkerFailureError(
        `${budget.what} failed ${times} (last: ${this.options.method} worker ${w} ` +
          `${during === "init" ? "starting: " : ""}${reason}); stopped after ${retries} ` +
          `retr${retries === 1 ? "y" : "ies"} (--max-retries)`,
        event,
      );
    }
  }
}

/**
 * Waits for every one of `calls`, then throws the first failure, if any: when one worker's
 * retries run out, the others must not be left mid-start or mid-restart.
 */
export async function settleAll<T>(calls: readonly (T | PromiseLike<T>)[]): Promise<Awaited<T>[]> {
  const settled = await Promise.allSettled(calls);
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<Awaited<T>>).value);
}

/** Races a call against the worker's crash and a timeout. */
function race<R>(
  call: Promise<R>,
  worker: Spawned<unknown>,
  ms: number,
  cancelled?: Promise<never>,
): Promise<R> {
  // A call that loses the race may still reject later; that must not be an unhandled rejection.
  call.catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new CallTimeoutError(`gave no answer within ${formatSeconds(ms)}`)),
      ms,
    );
  });
  const racers: Promise<R>[] = [call, timeout];
  if (worker.crashed) racers.push(worker.crashed);
  if (cancelled) racers.push(cancelled);
  return Promise.race(racers).finally(() => clearTimeout(timer));
}

function describeFailure(error: unknown): { kind: FailureKind; reason: string } {
  if (error instanceof CallTimeoutError) return { kind: "timeout", reason: error.message };
  if (error instanceof WorkerCrashError) {
    return { kind: "crash", reason: `crashed: ${oneLine(error.message)}` };
  }
  if (error instanceof Error) {
    const what = error.name === "ZodError" ? "sent a malformed reply" : "threw";
    return { kind: "error", reason: `${what}: ${oneLine(error.message)}` };
  }
  return { kind: "error", reason: `threw: ${oneLine(String(error))}` };
}

function oneLine(text: string): string {
  const line = text.replace(/\s*\n\s*/g, " ").trim();
  return line.length > 200 ? line.slice(0, 199) + "…" : line;
}

function formatSeconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}
