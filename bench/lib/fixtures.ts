/** The models, data and batches every experiment uses, built the way training builds them. */
import { gatherBatch } from "../../src/data/batches.ts";
import type { Dataset } from "../../src/data/dataset.ts";
import { loadDataset } from "../../src/data/load.ts";
import { trainableParameters } from "../../src/onnx/models/parameters.ts";
import { createModel, type ModelName } from "../../src/onnx/models/registry.ts";
import type { Model, Tensor } from "../../src/onnx/types.ts";
import { defaultDataset } from "../../src/train/defaults.ts";
import { type ParamLayout, paramLayout, sharedParams } from "../../src/model/params.ts";

export const BATCH = 64;

const datasets = new Map<string, Promise<Dataset>>();

/** Penguins, or KMNIST as the original study re-split it (500 train / 100 test of t10k). */
export function benchDataset(name: string): Promise<Dataset> {
  let d = datasets.get(name);
  if (!d) {
    d = loadDataset(name, { seed: 0 });
    datasets.set(name, d);
  }
  return d;
}

export interface Fixture {
  name: ModelName;
  dataset: Dataset;
  model: Model;
  wrt: string[];
  layout: ParamLayout;
  /** Initial parameters in a SharedArrayBuffer, as the coordinator holds them. */
  params: Float32Array;
  featureShape: number[];
  classes: number;
  batch: { x: Float32Array; labels: Float32Array; count: number };
}

/** Model `name` on its default dataset with a fixed batch of the first BATCH train examples. */
export async function fixture(
  name: ModelName,
  options: { hidden?: number[] } = {},
): Promise<Fixture> {
  const dataset = await benchDataset(defaultDataset(name));
  const classes = dataset.classes.length;
  const model = createModel(name, {
    inputShape: dataset.featureShape,
    classes,
    seed: 0,
    ...(options.hidden ? { hidden: options.hidden } : {}),
  });
  const wrt = trainableParameters(model).map((p) => p.name);
  const layout = paramLayout(model, wrt);
  const count = Math.min(BATCH, dataset.train.count);
  const b = gatherBatch(
    dataset.train,
    Int32Array.from({ length: count }, (_, i) => i),
    dataset.featureShape,
  );
  return {
    name,
    dataset,
    model,
    wrt,
    layout,
    params: sharedParams(model, layout),
    featureShape: dataset.featureShape,
    classes,
    batch: { x: b.x, labels: b.oneHot(classes), count },
  };
}

/** Feeds x and labels of the fixture's batch. */
export function batchFeeds(f: Fixture): Record<string, Tensor> {
  return {
    x: { dtype: "float32", dims: [f.batch.count, ...f.featureShape], data: f.batch.x },
    labels: { dtype: "float32", dims: [f.batch.count, f.classes], data: f.batch.labels },
  };
}

/** Static input shapes for FLOP counting. */
export function inputShapes(f: Fixture): Record<string, number[]> {
  return { x: [f.batch.count, ...f.featureShape], labels: [f.batch.count, f.classes] };
}
