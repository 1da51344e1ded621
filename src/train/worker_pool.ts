import * as Comlink from "comlink";

/**
 * The web Worker constructor, captured when this module loads: creating an onnxruntime-web
 * session in a thread replaces globalThis.Worker with Node's worker_threads Worker, which
 * comlink cannot drive (DESIGN.md, "Known facts").
 */
const WebWorker = globalThis.Worker;

export type WorkerKind = "forward_worker" | "backprop_worker";

export interface Spawned<T> {
  api: Comlink.Remote<T>;
  terminate(): void;
}

export function spawnWorker<T>(kind: WorkerKind): Spawned<T> {
  const url = new URL(`../../workers/${kind}.ts`, import.meta.url);
  const worker = new WebWorker(url.href, { type: "module" });
  const api = Comlink.wrap<T>(worker);
  return {
    api,
    terminate: () => {
      api[Comlink.releaseProxy]();
      worker.terminate();
    },
  };
}
