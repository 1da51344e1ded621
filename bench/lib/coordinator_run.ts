/**
 * Runs the real coordinator (src/train/coordinator.ts runMethod: real workers, comlink,
 * shared parameters) on a preloaded dataset, recording the wall time of every step.
 */
import { trainableParameters } from "../../src/onnx/models/parameters.ts";
import { createModel, type ModelName } from "../../src/onnx/models/registry.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { type Method, type TrainConfig, TrainConfigSchema } from "../../src/train/config.ts";
import { runMethod } from "../../src/train/coordinator.ts";
import type { MethodResult } from "../../src/train/summary.ts";
import { type TrainingGraphs, trainingGraphs } from "../../src/model/graphs.ts";
import { type ParamLayout, paramLayout, sharedParams } from "../../src/model/params.ts";
import { defaultDataset } from "../../src/train/defaults.ts";
import { benchDataset } from "./fixtures.ts";

/** A model on its default dataset (the study's KMNIST re-split, or penguins) with its graphs per K. */
export interface Setup {
  model: ModelName;
  dataset: Dataset;
  layout: ParamLayout;
  initial: Float32Array;
  graphs(K: number): TrainingGraphs;
}

export async function setup(model: ModelName): Promise<Setup> {
  const dataset = await benchDataset(defaultDataset(model));
  const m = createModel(model, {
    inputShape: dataset.featureShape,
    classes: dataset.classes.length,
    seed: 0,
  });
  const names = trainableParameters(m).map((p) => p.name);
  const layout = paramLayout(m, names);
  const cache = new Map<number, TrainingGraphs>();
  return {
    model,
    dataset,
    layout,
    initial: sharedParams(m, layout),
    graphs: (K) => {
      let g = cache.get(K);
      if (!g) {
        g = trainingGraphs(m, names, K);
        cache.set(K, g);
      }
      return g;
    },
  };
}

/** A full TrainConfig: plain SGD, constant rate, batch 64, seed 0, unless `over` says otherwise. */
export function benchConfig(s: Setup, over: Partial<TrainConfig>): TrainConfig {
  return TrainConfigSchema.parse({
    model: s.model,
    dataset: s.dataset.name,
    method: "forward",
    workers: 1,
    tangents: 1,
    tangentMode: "independent",
    tangentDist: "normal",
    batchSize: 64,
    optimizer: "sgd",
    lrForward: 1e-3,
    lrBackprop: 1e-2,
    lrSchedule: "constant",
    lrDecay: 0,
    seed: 0,
    evalEvery: 0,
    json: true,
    ...over,
  });
}

export interface TimedRun {
  result: MethodResult;
  /** Wall ms of each step (from one progress report to the next; evaluations excluded). */
  stepMs: number[];
}

/** One runMethod call; steps during which an evaluation ran are left out of stepMs. */
export async function timedRun(s: Setup, method: Method, config: TrainConfig): Promise<TimedRun> {
  const stepMs: number[] = [];
  let last = performance.now();
  let first = true; // the first report also covers spawning the workers
  const result = await runMethod({
    method,
    config,
    dataset: s.dataset,
    graphs: s.graphs(config.tangents),
    layout: s.layout,
    initial: s.initial,
    onProgress: (p) => {
      const now = performance.now();
      if (!first && !p.evaluated) stepMs.push(now - last);
      last = now;
      first = false;
    },
  });
  return { result, stepMs };
}
