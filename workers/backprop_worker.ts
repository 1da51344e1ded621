/**
 * Reverse-mode worker: a thin comlink adapter over BackpropEngine, the exact-gradient
 * baseline. Exposed before any await; sessions are created in init.
 */
import * as Comlink from "comlink";
import { BackpropEngine } from "../src/train/backprop_engine.ts";
import { BackpropInitSchema, ShardSchema } from "../src/train/messages.ts";
import { WorkerEvaluation } from "../src/train/worker_side.ts";

let engine: BackpropEngine | undefined;
let evaluation: WorkerEvaluation | undefined;

const api = {
  async init(raw: unknown): Promise<void> {
    const setup = BackpropInitSchema.parse(raw);
    engine = await BackpropEngine.create(setup);
    if (setup.eval) {
      evaluation = await WorkerEvaluation.create(
        setup.eval,
        setup.params,
        setup.layout,
        setup.featureShape,
        setup.classes,
      );
    }
  },
  async step(raw: unknown) {
    const s = ShardSchema.parse(raw);
    const result = await engine!.step(s.x, s.labels, s.count);
    return Comlink.transfer(result, [result.gradient.buffer]);
  },
  evaluate(split: string) {
    return evaluation!.evaluate(split);
  },
  async release(): Promise<void> {
    await engine?.release();
    await evaluation?.release();
  },
};

export type BackpropWorkerApi = typeof api;
Comlink.expose(api);
