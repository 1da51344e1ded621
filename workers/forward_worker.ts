/**
 * Forward-gradient worker: a thin comlink adapter over ForwardEngine (src/train/worker_apis.ts).
 * Exposed before any await (a worker that awaits first loses the first messages); sessions are
 * created in init.
 */
import * as Comlink from "comlink";
import { forwardWorkerApi } from "../src/train/worker_apis.ts";

export type { ForwardWorkerApi } from "../src/train/worker_apis.ts";
Comlink.expose(forwardWorkerApi());
