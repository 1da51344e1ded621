/**
 * Activity-perturbation worker: a thin comlink adapter over ActivityEngine
 * (src/engine/worker_api.ts). Exposed before any await; sessions are created in init.
 */
import * as Comlink from "comlink";
import { activityWorkerApi } from "../src/engine/worker_api.ts";

export type { ActivityWorkerApi } from "../src/engine/worker_api.ts";
Comlink.expose(activityWorkerApi());
