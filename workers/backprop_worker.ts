/**
 * Reverse-mode worker: a thin comlink adapter over BackpropEngine, the exact-gradient baseline
 * (src/train/worker_apis.ts). Exposed before any await; sessions are created in init.
 */
import * as Comlink from "comlink";
import { backpropWorkerApi } from "../src/train/worker_apis.ts";

export type { BackpropWorkerApi } from "../src/train/worker_apis.ts";
Comlink.expose(backpropWorkerApi());
