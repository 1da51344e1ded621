/**
 * What the forward and backprop workers expose over comlink, as factories: each worker file
 * in workers/ is one `Comlink.expose(...)` of these, and a test worker can wrap them.
 */
import type { z } from "zod";
import { BackpropEngine } from "./backprop_engine.ts";
import { ForwardEngine } from "./forward_engine.ts";
import {
  BackpropInitSchema,
  type EvalSetupSchema,
  ForwardInitSchema,
  type LayoutSchema,
  RebuildSchema,
  type Shard,
  ShardSchema,
} from "./messages.ts";
import { WorkerEvaluation } from "./worker_side.ts";

/** What both kinds of worker are initialised with, besides their graph. */
interface CommonSetup {
  params: Float32Array;
  layout: z.infer<typeof LayoutSchema>;
  featureShape: number[];
  classes: number;
  eval?: z.infer<typeof EvalSetupSchema>;
}

/**
 * init (parse the setup, create the engine, and the evaluator when this worker evaluates),
 * step (parse the shard, run the engine), evaluate and release: the same for both kinds.
 */
function engineWorkerApi<S extends CommonSetup, E extends { release(): Promise<void> }, R>(
  parse: (raw: unknown) => S,
  create: (setup: S) => Promise<E>,
  run: (engine: E, shard: Shard) => Promise<R>,
  rebuild?: (engine: E, raw: unknown) => void,
) {
  let engine: E | undefined;
  let evaluation: WorkerEvaluation | undefined;
  return {
    async init(raw: unknown): Promise<void> {
      const setup = parse(raw);
      engine = await create(setup);
      if (setup.eval) {
        const { params, layout, featureShape, classes } = setup;
        evaluation = await WorkerEvaluation.create(
          setup.eval,
          params,
          layout,
          featureShape,
          classes,
        );
      }
    },
    step(raw: unknown): Promise<R> {
      return run(engine!, ShardSchema.parse(raw));
    },
    evaluate(split: string) {
      return evaluation!.evaluate(split);
    },
    /** Shared-tangent mode (forward workers): rebuild a slice of the estimate. */
    rebuild(raw: unknown): void {
      if (!rebuild) throw new Error("this worker does not rebuild estimates");
      rebuild(engine!, raw);
    },
    async release(): Promise<void> {
      await engine?.release();
      await evaluation?.release();
    },
  };
}

/** The forward-gradient worker: K tangents and one JVP run on its shard per step. */
export function forwardWorkerApi() {
  return engineWorkerApi(
    (raw) => ForwardInitSchema.parse(raw),
    (setup) => ForwardEngine.create(setup),
    // The estimate lives in shared memory: the reply shares it with the coordinator, no copy.
    (engine, s) => engine.step(s.step, s.x, s.labels, s.count, s.wantEstimate),
    (engine, raw) => {
      const r = RebuildSchema.parse(raw);
      engine.rebuild(r.step, r.sums, r.start, r.end);
    },
  );
}

/** The backprop worker: the exact gradient of its batch per step. */
export function backpropWorkerApi() {
  return engineWorkerApi(
    (raw) => BackpropInitSchema.parse(raw),
    (setup) => BackpropEngine.create(setup),
    (engine, s) => engine.step(s.x, s.labels, s.count),
  );
}

export type ForwardWorkerApi = ReturnType<typeof forwardWorkerApi>;
export type BackpropWorkerApi = ReturnType<typeof backpropWorkerApi>;
