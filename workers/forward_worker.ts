/**
 * Forward-gradient worker: a thin comlink adapter over ForwardEngine (src/engine/worker_api.ts).
 * Exposed before any await (a worker that awaits first loses the first messages); sessions are
 * created in init.
 */
import * as Comlink from "comlink";
import { forwardWorkerApi } from "../src/engine/worker_api.ts";

export type { ForwardWorkerApi } from "../src/engine/worker_api.ts";
Comlink.expose(forwardWorkerApi());
