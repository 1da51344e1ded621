/**
 * What the forward and backprop workers expose over comlink, as factories: each worker file
 * in workers/ is one `Comlink.expose(...)` of these, and a test worker can wrap them. Every
 * argument is parsed with its schema (messages.ts) on arrival.
 *
 * @module
 */
import { ActivityEngine } from "./activity_engine.ts";
import { BackpropEngine } from "./backprop_engine.ts";
import { WorkerEvaluation } from "./evaluator.ts";
import { ForwardEngine } from "./forward_engine.ts";
import {
  ActivityInitSchema,
  BackpropInitSchema,
  type EngineInit,
  type Evaluation,
  ForwardInitSchema,
  RebuildSchema,
  type Shard,
  ShardSchema,
} from "./messages.ts";

/** What every kind of worker exposes, whatever its engine. */
export interface EngineWorkerApi {
  init(raw: unknown): Promise<void>;
  evaluate(split: string): Promise<Evaluation>;
  release(): Promise<void>;
}

/** How one kind of worker parses its setup, makes its engine and runs a step on it. */
interface EngineKind<S extends EngineInit, E extends { release(): Promise<void> }, R> {
  parse: (raw: unknown) => S;
  create: (setup: S) => Promise<E>;
  run: (engine: E, shard: Shard) => Promise<R>;
}

/**
 * init (parse the setup, create the engine, and the evaluator when this worker evaluates),
 * step (parse the shard, run the engine), evaluate and release: the same for every kind.
 * `engine` gives the engine to a kind's own extra methods; it is not exposed.
 */
function engineWorkerApi<S extends EngineInit, E extends { release(): Promise<void> }, R>(
  kind: EngineKind<S, E, R>,
) {
  let engine: E | undefined;
  let evaluation: WorkerEvaluation | undefined;
  const current = (): E => {
    if (!engine) throw new Error("this worker was not initialised");
    return engine;
  };
  const api = {
    async init(raw: unknown): Promise<void> {
      const setup = kind.parse(raw);
      engine = await kind.create(setup);
      if (setup.eval) evaluation = await WorkerEvaluation.create({ ...setup, eval: setup.eval });
    },
    step(raw: unknown): Promise<R> {
      return kind.run(current(), ShardSchema.parse(raw));
    },
    evaluate(split: string): Promise<Evaluation> {
      return evaluation!.evaluate(split);
    },
    async release(): Promise<void> {
      await engine?.release();
      await evaluation?.release();
    },
  };
  return { api, engine: current };
}

/** The forward-gradient worker: K tangents and one JVP run on its shard per step. */
export function forwardWorkerApi() {
  const { api, engine } = engineWorkerApi({
    parse: (raw) => ForwardInitSchema.parse(raw),
    create: (setup) => ForwardEngine.create(setup),
    // The estimate lives in shared memory: the reply shares it with the coordinator, no copy.
    run: (engine, shard) => engine.step(shard),
  });
  return {
    ...api,
    /** Shared-tangent mode: rebuild a slice of the estimate into the coordinator's vector. */
    rebuild(raw: unknown): void {
      const { step, sums, start, end, scale } = RebuildSchema.parse(raw);
      engine().rebuild(step, sums, { start, end }, scale);
    },
  };
}

/** The backprop worker: the exact gradient of its batch per step. */
export function backpropWorkerApi() {
  return engineWorkerApi({
    parse: (raw) => BackpropInitSchema.parse(raw),
    create: (setup) => BackpropEngine.create(setup),
    run: (engine, shard) => engine.step(shard),
  }).api;
}

/** The activity-perturbation worker: per-example tangents at every layer, its shard's estimate. */
export function activityWorkerApi() {
  return engineWorkerApi({
    parse: (raw) => ActivityInitSchema.parse(raw),
    create: (setup) => ActivityEngine.create(setup),
    run: (engine, shard) => engine.step(shard),
  }).api;
}

export type ForwardWorkerApi = ReturnType<typeof forwardWorkerApi>;
export type ActivityWorkerApi = ReturnType<typeof activityWorkerApi>;
export type BackpropWorkerApi = ReturnType<typeof backpropWorkerApi>;
