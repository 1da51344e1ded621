/**
 * Forward-gradient worker: a thin comlink adapter over ForwardEngine. Exposed before any
 * await (a worker that awaits first loses the first messages); sessions are created in init.
 */
import * as Comlink from "comlink";
import { ForwardEngine } from "../src/train/forward_engine.ts";
import { ForwardInitSchema, ShardSchema } from "../src/train/messages.ts";
import { WorkerEvaluation } from "../src/train/worker_side.ts";

let engine: ForwardEngine | undefined;
let evaluation: WorkerEvaluation | undefined;

const api = {
  async init(raw: unknown): Promise<void> {
    const setup = ForwardInitSchema.parse(raw);
    engine = await ForwardEngine.create(setup);
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
    const result = await engine!.step(s.step, s.x, s.labels, s.count, s.wantEstimate);
    return Comlink.transfer(result, result.estimate ? [result.estimate.buffer] : []);
  },
  evaluate(split: string) {
    return evaluation!.evaluate(split);
  },
  async release(): Promise<void> {
    await engine?.release();
    await evaluation?.release();
  },
};

export type ForwardWorkerApi = typeof api;
Comlink.expose(api);
