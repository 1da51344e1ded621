import { loadDataset } from "../data/load.ts";
import type { Dataset } from "../data/dataset.ts";
import { UserError } from "../errors.ts";
import { writeFileAtomic, writeJsonAtomic } from "../fs/atomic.ts";
import { encodeModel } from "../onnx/encode.ts";
import { trainableParameters } from "../onnx/models/parameters.ts";
import { createModel } from "../onnx/models/registry.ts";
import type { Model } from "../onnx/types.ts";
import { writeTrainingPlots } from "../report/plots.ts";
import type { Method, TrainConfig } from "./config.ts";
import { type MethodProgress, type MethodResult, runMethod } from "./coordinator.ts";
import { trainingGraphs } from "./graphs.ts";
import type { MetricRow } from "./metrics.ts";
import { paramLayout, sharedParams, withParams } from "./params.ts";

export interface RunSummary {
  config: TrainConfig;
  dataset: { name: string; split: string; train: number; test: number; notes: string[] };
  model: { name: string; parameters: number };
  runs: Omit<MethodResult, "metrics" | "params">[];
}

export interface RunHooks {
  onStart?: (info: { dataset: Dataset; parameters: number; methods: Method[] }) => void;
  onProgress?: (method: Method, p: MethodProgress) => void;
  onEvaluation?: (row: MetricRow) => void;
}

export function methodsOf(config: TrainConfig): Method[] {
  return config.method === "both" ? ["forward", "backprop"] : [config.method];
}

export function buildModel(config: TrainConfig, dataset: Dataset): Model {
  return createModel(config.model, {
    inputShape: dataset.featureShape,
    classes: dataset.classes.length,
    seed: config.seed,
    ...(config.hidden ? { hidden: config.hidden } : {}),
  });
}

/** Default output directory: runs/<timestamp>-<model>-<dataset>. */
export function defaultOutDir(config: TrainConfig): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const data = config.dataset.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "");
  return `runs/${stamp}-${config.model}-${data}`;
}

/**
 * Trains the configured model with each method from the same initial weights and data order,
 * then writes summary.json, metrics.jsonl, the plots and the trained models into a fresh
 * directory (built under a temporary name and renamed, so no half-written run is left).
 */
export async function train(config: TrainConfig, hooks: RunHooks = {}): Promise<{ summary: RunSummary; outDir: string }> {
  const outDir = config.out ?? defaultOutDir(config);
  if (await exists(outDir)) throw new UserError(`--out: ${outDir} already exists; choose another directory`);
  const dataset = await loadDataset(config.dataset, {
    labelColumn: config.labelColumn,
    trainCount: config.trainCount,
    testCount: config.testCount,
    seed: config.seed,
  });
  const model = buildModel(config, dataset);
  const names = trainableParameters(model).map((p) => p.name);
  const layout = paramLayout(model, names);
  const methods = methodsOf(config);
  hooks.onStart?.({ dataset, parameters: layout.total, methods });

  const graphs = trainingGraphs(model, names, config.tangents, {
    jvp: methods.includes("forward"),
    vjp: methods.includes("backprop"),
  });
  const initial = sharedParams(model, layout);
  const results: MethodResult[] = [];
  for (const method of methods) {
    results.push(
      await runMethod({
        method,
        config,
        dataset,
        graphs,
        layout,
        initial,
        onProgress: (p) => hooks.onProgress?.(method, p),
        onEvaluation: hooks.onEvaluation,
      }),
    );
  }

  const summary: RunSummary = {
    config,
    dataset: {
      name: dataset.name,
      split: dataset.split,
      train: dataset.train.count,
      test: dataset.test.count,
      notes: dataset.notes,
    },
    model: { name: config.model, parameters: layout.total },
    runs: results.map(({ metrics: _m, params: _p, ...rest }) => rest),
  };
  await writeOutputs(outDir, summary, results, model, layout);
  return { summary, outDir };
}

async function writeOutputs(
  outDir: string,
  summary: RunSummary,
  results: MethodResult[],
  model: Model,
  layout: ReturnType<typeof paramLayout>,
): Promise<void> {
  const parent = outDir.includes("/") ? outDir.slice(0, outDir.lastIndexOf("/")) : ".";
  await Deno.mkdir(parent, { recursive: true });
  const tmp = `${outDir}.partial-${Deno.pid}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    const rows = results.flatMap((r) => r.metrics);
    await writeJsonAtomic(`${tmp}/summary.json`, summary);
    await writeFileAtomic(`${tmp}/metrics.jsonl`, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
    await writeTrainingPlots(tmp, rows);
    for (const r of results) {
      await writeFileAtomic(`${tmp}/model-${r.method}.onnx`, encodeModel(withParams(model, layout, r.params)));
    }
    await Deno.rename(tmp, outDir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
