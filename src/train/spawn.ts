/**
 * Spawning workers: a comlink-wrapped module worker per call, by kind (`workers/<kind>.ts`) or
 * by URL (test workers), with its crash surfaced as a rejected promise.
 *
 * @module
 */
import * as Comlink from "comlink";

/**
 * The web Worker constructor, captured when this module loads: creating an onnxruntime-web
 * session in a thread replaces globalThis.Worker with Node's worker_threads Worker (its
 * Emscripten runtime does this), which comlink cannot drive.
 */
const WebWorker = globalThis.Worker;

export type WorkerKind = "forward_worker" | "backprop_worker" | "activity_worker";

export interface Spawned<T> {
  api: Comlink.Remote<T>;
  /** Ends the worker at once, whatever it is doing (pending calls never settle). */
  terminate(): void;
  /**
   * Rejects when the worker dies of an uncaught error (its `error` event) or a message from it
   * cannot be read; never settles otherwise. Optional so that test doubles can omit it.
   */
  crashed?: Promise<never>;
}

/** How workers are made (the coordinator's test hook swaps it for a fault-injecting one). */
export type SpawnFn = <T>(kind: WorkerKind) => Spawned<T>;

/** A worker of `kind` from `workers/<kind>.ts`. */
export function spawnWorker<T>(kind: WorkerKind): Spawned<T> {
  return spawnWorkerAt<T>(new URL(`../../workers/${kind}.ts`, import.meta.url));
}

/** A comlink-wrapped module worker running the script at `url`. */
export function spawnWorkerAt<T>(url: URL | string): Spawned<T> {
  const worker = new WebWorker(String(url), { type: "module" });
  let crash: (error: Error) => void = () => {};
  const crashed = new Promise<never>((_, reject) => (crash = reject));
  // Marks the rejection handled: a crash nobody is waiting on must not end the process.
  crashed.catch(() => {});
  worker.addEventListener("error", (e) => {
    // Without preventDefault, Deno re-throws a worker's uncaught error in this thread.
    e.preventDefault();
    crash(new WorkerCrashError(e.message || "uncaught error"));
  });
  worker.addEventListener("messageerror", () => {
    crash(new WorkerCrashError("sent a message that could not be read"));
  });
  const api = Comlink.wrap<T>(worker);
  let ended = false;
  return {
    api,
    crashed,
    terminate: () => {
      if (ended) return;
      ended = true;
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}

/** A worker died (its `error` event fired). */
export class WorkerCrashError extends Error {
  override name = "WorkerCrashError";
}
