/**
 * Reverse-mode worker: a thin comlink adapter over BackpropEngine, the exact-gradient baseline
 * (src/engine/worker_api.ts). Exposed before any await; sessions are created in init.
 */
import * as Comlink from "comlink";
import { backpropWorkerApi } from "../src/engine/worker_api.ts";

export type { BackpropWorkerApi } from "../src/engine/worker_api.ts";
Comlink.expose(backpropWorkerApi());
