/**
 * What the forward and backprop workers expose over comlink, as factories: each worker file
 * in workers/ is one `Comlink.expose(...)` of these, and a test worker can wrap them.
 */
import * as Comlink from "comlink";
import { BackpropEngine } from "./backprop_engine.ts";
import { ForwardEngine } from "./forward_engine.ts";
import { BackpropInitSchema, ForwardInitSchema, ShardSchema } from "./messages.ts";
import { WorkerEvaluation } from "./worker_side.ts";

/** The forward-gradient worker's methods: init, step, evaluate, release. */
export function forwardWorkerApi() {
  let engine: ForwardEngine | undefined;
  let evaluation: WorkerEvaluation | undefined;
  return {
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
}

/** The backprop worker's methods: init, step, evaluate, release. */
export function backpropWorkerApi() {
  let engine: BackpropEngine | undefined;
  let evaluation: WorkerEvaluation | undefined;
  return {
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
}

export type ForwardWorkerApi = ReturnType<typeof forwardWorkerApi>;
export type BackpropWorkerApi = ReturnType<typeof backpropWorkerApi>;
