/**
 * Experiment `learning`: which forward-gradient estimator learns, against backprop, on the
 * built-in cnn, through the real pipeline (`train` from src/train/run.ts, as the CLI runs it):
 *
 * - methods: backprop (BP), local-loss backprop (LBP), weight perturbation (FG-W, K = 4),
 *   FG-W with the projection of its 4 tangents, activity perturbation (FG-A, K = 1) and FG-A
 *   with local losses (LG-FG-A, K = 1); Adam for all, forward on 2 workers, batch 64;
 * - a learning-rate sweep per method (short budget, KMNIST re-split), the best by test
 *   accuracy kept;
 * - test accuracy against training wall time at equal budgets on KMNIST (re-split of the
 *   official test split, 8,000 / 2,000) and on the full Fashion-MNIST (60,000 / 10,000), and
 *   the time to test loss < 1 on KMNIST;
 * - the cosine of each estimator to the exact gradient of its own objective at K = 1, 4, 16.
 */
import { activitySites, activityTransform } from "../../src/ad/activity.ts";
import { jvpTransform } from "../../src/ad/jvp.ts";
import { vjpTransform } from "../../src/ad/vjp.ts";
import { gatherBatch } from "../../src/data/batches.ts";
import { loadDataset } from "../../src/data/load.ts";
import { buildObjective, lossOutputOnly, type Objective } from "../../src/model/objective.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import { trainableParameters } from "../../src/onnx/models/parameters.ts";
import { createModel } from "../../src/onnx/models/registry.ts";
import { Session } from "../../src/onnx/session.ts";
import type { Tensor } from "../../src/onnx/types.ts";
import { addGram, projectionCoefficients } from "../../src/random/projection.ts";
import { sampleTangents } from "../../src/random/tangents.ts";
import { type TrainConfig, TrainConfigSchema } from "../../src/train/config.ts";
import { RunDivergedError, train } from "../../src/train/run.ts";
import { begin, type BenchContext, type ResultFile, writeResult, writeSvg } from "../lib/output.ts";
import { renderPlot, type Row } from "../lib/plot.ts";

export const NAME = "learning";
export const TITLE = "Forward-gradient estimators that learn: accuracy at equal wall time";

/** The estimators compared, as training options. */
const METHODS: Record<string, Partial<TrainConfig>> = {
  "BP": { method: "backprop" },
  "LBP": { method: "backprop", localLosses: true },
  "FG-W": { method: "forward", tangents: 4 },
  "FG-W + projection": { method: "forward", tangents: 4, combine: "projection" },
  "FG-A": { method: "forward", perturb: "activations" },
  "LG-FG-A": { method: "forward", perturb: "activations", localLosses: true },
};
type MethodName = keyof typeof METHODS;

const SWEEP: Record<MethodName, number[]> = {
  "BP": [3e-4, 1e-3, 3e-3],
  "LBP": [3e-4, 1e-3, 3e-3],
  "FG-W": [3e-5, 1e-4, 3e-4],
  "FG-W + projection": [3e-5, 1e-4, 3e-4],
  "FG-A": [3e-4, 1e-3, 3e-3],
  "LG-FG-A": [3e-4, 1e-3, 3e-3],
};

interface Data {
  name: string;
  dataset: string;
  trainCount?: number;
  testCount?: number;
  split: string;
}

export interface CurvePoint {
  seconds: number;
  step: number;
  testAccuracy: number;
  testLoss: number;
}

export interface LearningRun {
  method: MethodName;
  dataset: string;
  budget: number;
  lr: number;
  status: string;
  steps: number;
  finalTestAccuracy: number;
  finalTestLoss: number;
  /** Training seconds at the first evaluation with test loss < 1 (null: not reached). */
  secondsToTestLoss1: number | null;
  curve: CurvePoint[];
}

export interface SweepRun {
  method: MethodName;
  lr: number;
  status: string;
  testAccuracy: number;
}

export interface CosineRow {
  method: string;
  K: number;
  cosine: number;
  sd: number;
}

export interface LearningData {
  sweep: { budget: number; runs: SweepRun[]; chosen: Record<string, number> };
  runs: LearningRun[];
  cosines: CosineRow[];
  splits: Record<string, string>;
}

async function trainOnce(
  method: MethodName,
  data: Data,
  lr: number,
  budget: number,
  evaluations: number,
): Promise<LearningRun> {
  const config = TrainConfigSchema.parse({
    model: "cnn",
    dataset: data.dataset,
    trainCount: data.trainCount,
    testCount: data.testCount,
    workers: 2,
    tangents: 1,
    tangentMode: "independent",
    tangentDist: "normal",
    batchSize: 64,
    optimizer: "adam",
    lrForward: lr,
    lrBackprop: lr,
    lrSchedule: "constant",
    lrDecay: 0,
    steps: 1_000_000,
    maxSeconds: budget,
    seed: 0,
    // About `evaluations` evaluations in the budget, from a first guess of the step rate.
    evalEvery: Math.max(10, Math.round(budget * 40 / evaluations)),
    json: true,
    checkpointEvery: 0,
    out: `${await Deno.makeTempDir({ prefix: "fwdgrad-learning-" })}/run`,
    ...METHODS[method],
  });
  let outcome;
  try {
    outcome = await train(config);
  } catch (e) {
    if (!(e instanceof RunDivergedError)) throw e;
    outcome = { summary: e.summary, outDir: e.outDir };
  }
  const r = outcome.summary.runs[0];
  const log = (await Deno.readTextFile(`${outcome.outDir}/metrics.jsonl`)).trim().split("\n")
    .map((l) => JSON.parse(l)).filter((row) => !("event" in row));
  const curve: CurvePoint[] = log.map((row) => ({
    seconds: row.wallSeconds,
    step: row.step,
    testAccuracy: row.testAccuracy,
    testLoss: row.testLoss,
  }));
  return {
    method,
    dataset: data.name,
    budget,
    lr,
    status: r.status,
    steps: r.steps,
    finalTestAccuracy: r.final.testAccuracy,
    finalTestLoss: r.final.testLoss,
    secondsToTestLoss1: curve.find((p) => p.testLoss < 1)?.seconds ?? null,
    curve,
  };
}

/** Mean and spread of the cosine of each estimator to its objective's gradient. */
async function cosines(quick: boolean): Promise<CosineRow[]> {
  const ds = await loadDataset("kmnist", { seed: 0, trainCount: 8000, testCount: 2000 });
  const B = 64;
  const batch = gatherBatch(ds.train, Int32Array.from({ length: B }, (_, i) => i), ds.featureShape);
  const feeds: Record<string, Tensor> = {
    x: { dtype: "float32", dims: [B, ...ds.featureShape], data: batch.x },
    labels: { dtype: "float32", dims: [B, 10], data: batch.oneHot(10) },
  };
  const model = createModel("cnn", { inputShape: ds.featureShape, classes: 10, seed: 0 });
  const parameters = trainableParameters(model).map((p) => p.name);
  const objective = (local: boolean, perExample: boolean) =>
    buildObjective(model, {
      parameters,
      localLosses: local ? "layers" : undefined,
      seed: 0,
      source: "cnn",
      perExample,
    });
  const R = quick ? 4 : 12;
  const rows: CosineRow[] = [];
  for (const K of quick ? [1, 4] : [1, 4, 16]) {
    const plain = objective(false, false);
    const g = await exact(plain, feeds);
    for (const projection of [false, true]) {
      const c = await weightCosines(plain, feeds, g, K, R, projection);
      rows.push({ method: projection ? "FG-W + projection" : "FG-W", K, ...c });
    }
    for (const local of [false, true]) {
      const o = objective(local, true);
      const c = await activityCosines(o, feeds, await exact(o, feeds), K, R, B);
      rows.push({ method: local ? "LG-FG-A" : "FG-A", K, ...c });
    }
  }
  return rows;
}

async function exact(o: Objective, feeds: Record<string, Tensor>): Promise<Float32Array[]> {
  const s = await Session.create(encodeModel(vjpTransform(lossOutputOnly(o.model), o)));
  const out = await s.run({
    ...feeds,
    loss__cotangent: { dtype: "float32", dims: [], data: Float32Array.of(1) },
  });
  await s.release();
  return o.wrt.map((w) => out[`${w}__grad`].data as Float32Array);
}

function cosine(a: Float32Array[], b: Float32Array[]): number {
  let dot = 0, na = 0, nb = 0;
  a.forEach((x, i) =>
    x.forEach((v, j) => {
      dot += v * b[i][j];
      na += v * v;
      nb += b[i][j] ** 2;
    })
  );
  return dot / Math.sqrt(na * nb);
}

/** K normal tangents of `size` values each, from stream (seed, step r) at `offset`. */
function draw(K: number, size: number, seed: number, r: number, offset: number): Float32Array {
  const t = new Float32Array(K * size);
  sampleTangents(t, size, { seed, step: r, worker: 0, firstTangent: 0, K, dist: "normal", offset });
  return t;
}

function stats(xs: number[]): { cosine: number; sd: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return { cosine: m, sd };
}

async function weightCosines(
  o: Objective,
  feeds: Record<string, Tensor>,
  g: Float32Array[],
  K: number,
  R: number,
  projection: boolean,
) {
  const jvp = await Session.create(
    encodeModel(jvpTransform(lossOutputOnly(o.model), { wrt: o.wrt, tangents: K })),
  );
  const dims = o.wrt.map((w) => o.model.graph.initializers.get(w)!.dims);
  const sizes = g.map((t) => t.length);
  const n = sizes.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  for (let r = 0; r < R; r++) {
    let offset = 0;
    const v = sizes.map((size) => {
      const t = draw(K, size, 1, r, offset);
      offset += size;
      return t;
    });
    const tangents = Object.fromEntries(o.wrt.map((w, i) => [
      `${w}__tangent`,
      { dtype: "float32", dims: [K, ...dims[i]], data: v[i] } as Tensor,
    ]));
    const s = (await jvp.run({ ...feeds, ...tangents })).loss__tangent.data as Float32Array;
    let c = Array.from(s, (x) => x / K);
    if (projection) {
      const gram = new Float64Array(K * K);
      v.forEach((t, i) => addGram(gram, t, K, sizes[i]));
      c = Array.from(projectionCoefficients(gram, s, n));
    }
    const est = v.map((t, i) => {
      const e = new Float32Array(sizes[i]);
      for (let k = 0; k < K; k++) {
        for (let j = 0; j < sizes[i]; j++) e[j] += c[k] * t[k * sizes[i] + j];
      }
      return e;
    });
    out.push(cosine(est, g));
  }
  await jvp.release();
  return stats(out);
}

async function activityCosines(
  o: Objective,
  feeds: Record<string, Tensor>,
  g: Float32Array[],
  K: number,
  R: number,
  B: number,
) {
  const options = { ...o, tangents: K };
  const sites = activitySites(o.model, options);
  const s = await Session.create(encodeModel(activityTransform(o.model, options)));
  const out: number[] = [];
  for (let r = 0; r < R; r++) {
    const tangents: Record<string, Tensor> = {};
    let offset = 0;
    for (const site of sites) {
      const size = B * site.dims.reduce((a, b) => a * b, 1);
      const v = draw(K, size, 2, r, offset);
      offset += size;
      tangents[site.input] = { dtype: "float32", dims: [K, B, ...site.dims], data: v };
    }
    const res = await s.run({ ...feeds, ...tangents });
    out.push(cosine(o.wrt.map((w) => res[`${w}__grad`].data as Float32Array), g));
  }
  await s.release();
  return stats(out);
}

export async function run(ctx: BenchContext): Promise<ResultFile<LearningData>> {
  const started = await begin();
  const kmnist: Data = {
    name: "kmnist",
    dataset: "kmnist",
    trainCount: ctx.quick ? 2000 : 8000,
    testCount: ctx.quick ? 500 : 2000,
    split: "",
  };
  const fashion: Data = { name: "fashion-mnist", dataset: "fashion-mnist", split: "" };
  const sweepBudget = ctx.quick ? 4 : 12;
  const budgets = ctx.quick ? [8] : [60];
  const longBudget = ctx.quick ? null : 300;
  const methods = Object.keys(METHODS) as MethodName[];

  // 1. The sweep (KMNIST, short budget).
  const sweepRuns: SweepRun[] = [];
  const chosen: Record<string, number> = {};
  for (const m of methods) {
    let best = { lr: SWEEP[m][0], accuracy: -1 };
    for (const lr of ctx.quick ? SWEEP[m].slice(1, 2) : SWEEP[m]) {
      const r = await trainOnce(m, kmnist, lr, sweepBudget, 4);
      sweepRuns.push({ method: m, lr, status: r.status, testAccuracy: r.finalTestAccuracy });
      ctx.log(`   sweep ${m} lr ${lr}: ${r.status}, ${(100 * r.finalTestAccuracy).toFixed(1)}%`);
      if (r.status === "complete" && r.finalTestAccuracy > best.accuracy) {
        best = { lr, accuracy: r.finalTestAccuracy };
      }
    }
    chosen[m] = best.lr;
  }

  // 2. Equal wall-clock budgets on both datasets, each method at its own rate.
  const runs: LearningRun[] = [];
  for (const data of [kmnist, fashion]) {
    for (const budget of budgets) {
      for (const m of methods) {
        const r = await trainOnce(m, data, chosen[m], budget, 15);
        runs.push(r);
        ctx.log(
          `   ${data.name} ${budget} s ${m} (lr ${chosen[m]}): ${r.status}, ${r.steps} steps, ` +
            `test accuracy ${(100 * r.finalTestAccuracy).toFixed(1)}%`,
        );
      }
    }
  }
  // 3. The long budget on Fashion-MNIST: backprop and the best forward-gradient method.
  if (longBudget) {
    const best = runs.filter((r) =>
      r.dataset === "fashion-mnist" && r.method !== "BP" && r.method !== "LBP"
    )
      .sort((a, b) => b.finalTestAccuracy - a.finalTestAccuracy)[0].method;
    for (const m of ["BP", best] as MethodName[]) {
      const r = await trainOnce(m, fashion, chosen[m], longBudget, 15);
      runs.push(r);
      ctx.log(`   fashion-mnist ${longBudget} s ${m}: ${(100 * r.finalTestAccuracy).toFixed(1)}%`);
    }
  }

  // 4. Cosines.
  const cos = await cosines(ctx.quick);
  for (const c of cos) ctx.log(`   cosine ${c.method} K=${c.K}: ${c.cosine.toFixed(4)}`);

  const plots: string[] = [];
  for (const data of [kmnist, fashion]) {
    for (const budget of [...budgets, ...(longBudget ? [longBudget] : [])]) {
      const rows: Row[] = runs.filter((r) => r.dataset === data.name && r.budget === budget)
        .flatMap((r) =>
          r.curve.map((p) => ({ method: r.method, seconds: p.seconds, accuracy: p.testAccuracy }))
        );
      if (rows.length === 0) continue;
      plots.push(
        await writeSvg(
          ctx,
          `learning_${data.name}_${budget}s.svg`,
          await renderPlot({
            title: `cnn on ${data.name}: test accuracy against training time (${budget} s each)`,
            rows,
            x: { field: "seconds", title: "training wall time (s)" },
            y: { field: "accuracy", title: "test accuracy" },
            series: "method",
          }),
        ),
      );
    }
  }
  const splits: Record<string, string> = {};
  for (const data of [kmnist, fashion]) {
    const d = await loadDataset(data.dataset, {
      seed: 0,
      ...(data.trainCount ? { trainCount: data.trainCount, testCount: data.testCount } : {}),
    });
    splits[data.name] = d.split;
  }
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      model: "cnn (built-in defaults)",
      optimizer: "adam, constant rate, batch 64, seed 0; forward methods on 2 workers",
      tangents: "FG-W and its projection K = 4; FG-A and LG-FG-A K = 1",
      sweep: { budgetSeconds: sweepBudget, rates: SWEEP, data: "kmnist re-split" },
      budgets: [...budgets, ...(longBudget ? [longBudget] : [])],
      wallTime: "training time only (--max-seconds); evaluations excluded",
    },
    data: { sweep: { budget: sweepBudget, runs: sweepRuns, chosen }, runs, cosines: cos, splits },
    plots,
  });
}
