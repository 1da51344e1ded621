/**
 * Experiment 3, tangent count: K ∈ {1, 2, 4, …, 64} tangents per step on mlp/penguins and
 * cnn/KMNIST at fixed parameters and a fixed batch of 64. Each draw is one forward-gradient
 * step (new tangents); its estimate is compared with the true gradient of the same batch from
 * the VJP graph. Mean cosine similarity against theory sqrt(K/(n+K+1)) (normal tangents), and
 * time per step and tangents per second, in both tangent modes:
 *   independent — the worker forms (1/K)Σ s_k v_k from the tangents it sampled;
 *   shared      — the worker returns the K scalars and the coordinator regenerates the
 *                 tangents from the seed (combineEstimates' shared path).
 * With one worker both modes use the same tangents, so their estimates agree (checked).
 */
import { jvpTransform } from "../../src/ad/jvp.ts";
import { vjpTransform } from "../../src/ad/vjp.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import type { ModelName } from "../../src/onnx/models/registry.ts";
import type { TangentDist } from "../../src/random/tangents.ts";
import { combineEstimates } from "../../src/train/steps/combine.ts";
import type { ForwardEngine } from "../../src/engine/forward_engine.ts";
import { lossOnly } from "../../src/model/graphs.ts";
import { cosine, relativeError } from "../lib/check.ts";
import { type Fixture, fixture } from "../lib/fixtures.ts";
import { backpropEngine, forwardEngine } from "../lib/kit.ts";
import { begin, type BenchContext, type ResultFile, writeResult, writeSvg } from "../lib/output.ts";
import { renderPlot, type Row } from "../lib/plot.ts";
import { mean, stddev, summarize, type Summary } from "../lib/stats.ts";
import { interleaved, type TimedCase } from "../lib/timing.ts";

export const NAME = "tangents";
export const TITLE = "Tangent count K: cosine to the true gradient, time per step, tangents/s";

const MODELS: ModelName[] = ["mlp", "cnn"];
const DISTS: TangentDist[] = ["normal", "rademacher"];
const MODES = ["independent", "shared"] as const;
type Mode = typeof MODES[number];

export interface TangentPoint {
  K: number;
  draws: number;
  /** Per distribution: cosine of the estimate to the true gradient over the draws. */
  cosine: Record<string, { mean: number; stderr: number }>;
  theory: number;
  /** Per case "<dist> <mode>": step time (ms) and its parts. */
  time: Record<string, { step: Summary; parts: Record<string, number> }>;
  /** Tangents per second of the normal/independent and normal/shared steps. */
  tangentsPerSecond: Record<string, number>;
  /** Largest relative difference between the independent and shared estimates (same step). */
  modeAgreement: number;
}

export interface TangentModel {
  model: ModelName;
  dataset: string;
  parameters: number;
  batch: number;
  points: TangentPoint[];
  /** Least-squares slope of step time over K (ms per extra tangent), per case. */
  msPerTangent: Record<string, number>;
}

export interface TangentData {
  models: TangentModel[];
}

function draws(ctx: BenchContext, model: ModelName, K: number): number {
  if (ctx.quick) return model === "mlp" ? 40 : (K >= 16 ? 6 : 12);
  if (model === "mlp") return 200;
  return K <= 8 ? 60 : K <= 16 ? 32 : 16;
}

function slope(xs: number[], ys: number[]): number {
  const mx = mean(xs);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  xs.forEach((x, i) => {
    num += (x - mx) * (ys[i] - my);
    den += (x - mx) ** 2;
  });
  return num / den;
}

async function measurePoint(
  ctx: BenchContext,
  f: Fixture,
  K: number,
  gradient: Float32Array,
): Promise<TangentPoint> {
  const jvp = encodeModel(jvpTransform(lossOnly(f.model), { wrt: f.wrt, tangents: K }));
  const engines: Record<string, ForwardEngine> = {};
  for (const d of DISTS) engines[d] = await forwardEngine(f, jvp, K, d);
  const n = f.layout.total;
  const cos: Record<string, number[]> = Object.fromEntries(DISTS.map((d) => [d, []]));
  let agreement = 0;
  let step = 0;
  const grad = new Float32Array(n);
  const shadow = new Float32Array(n);
  /** One step as the coordinator takes it: worker step, then combineEstimates. */
  const takeStep = async (dist: TangentDist, mode: Mode, s: number, out: Float32Array) => {
    const t0 = performance.now();
    const r = await engines[dist].step({
      step: s,
      x: f.batch.x,
      labels: f.batch.labels,
      count: f.batch.count,
      wantEstimate: mode === "independent",
    });
    const t1 = performance.now();
    combineEstimates(
      [{ weight: 1, loss: r.loss, scalars: r.scalars, estimate: r.estimate }],
      out,
      mode === "shared" ? { seed: 1, step: s, dist } : null,
    );
    const t2 = performance.now();
    return { step: t2 - t0, ...r.timings, combine: t2 - t1 };
  };
  const cases: TimedCase[] = [];
  for (const dist of DISTS) {
    for (const mode of MODES) {
      cases.push({
        name: `${dist} ${mode}`,
        run: async () => {
          const s = step++;
          const parts = await takeStep(dist, mode, s, grad);
          cos[dist].push(cosine(grad, gradient));
          if (mode === "shared" && cos[dist].length <= 2) {
            // Same step in the other mode: the two estimates must agree.
            await takeStep(dist, "independent", s, shadow);
            agreement = Math.max(agreement, relativeError(grad, shadow));
          }
          return parts;
        },
      });
    }
  }
  try {
    const D = draws(ctx, f.name, K);
    const t = await interleaved(cases, { warmup: 1, reps: Math.ceil(D / MODES.length) });
    // Warm-up draws are in cos too; drop them.
    for (const d of DISTS) cos[d] = cos[d].slice(MODES.length);
    const time: TangentPoint["time"] = {};
    for (const c of cases) {
      const parts = Object.fromEntries(
        Object.entries(t[c.name].parts).map(([k, v]) => [k, v.median]),
      );
      time[c.name] = { step: t[c.name].parts.step, parts };
    }
    const point: TangentPoint = {
      K,
      draws: cos.normal.length,
      cosine: Object.fromEntries(
        DISTS.map((
          d,
        ) => [d, { mean: mean(cos[d]), stderr: stddev(cos[d]) / Math.sqrt(cos[d].length) }]),
      ),
      theory: Math.sqrt(K / (n + K + 1)),
      time,
      tangentsPerSecond: Object.fromEntries(
        MODES.map((m) => [`normal ${m}`, K / (time[`normal ${m}`].step.median / 1000)]),
      ),
      modeAgreement: agreement,
    };
    ctx.log(
      `  ${f.name} K=${K}: cos ${point.cosine.normal.mean.toFixed(4)} (theory ${
        point.theory.toFixed(4)
      }), step ${time["normal independent"].step.median.toFixed(2)} ms independent / ${
        time["normal shared"].step.median.toFixed(2)
      } ms shared`,
    );
    void summarize;
    return point;
  } finally {
    for (const e of Object.values(engines)) await e.release();
  }
}

export async function run(ctx: BenchContext): Promise<ResultFile<TangentData>> {
  const started = await begin();
  const Ks = ctx.quick ? [1, 4, 16, 64] : [1, 2, 4, 8, 16, 32, 64];
  const models: TangentModel[] = [];
  const plots: string[] = [];
  for (const name of MODELS) {
    const f = await fixture(name);
    const back = await backpropEngine(
      f,
      encodeModel(vjpTransform(lossOnly(f.model), { wrt: f.wrt })),
    );
    const { gradient } = await back.step(f.batch);
    await back.release();
    const points: TangentPoint[] = [];
    for (const K of Ks) points.push(await measurePoint(ctx, f, K, gradient));
    const msPerTangent = Object.fromEntries(
      Object.keys(points[0].time).map((
        c,
      ) => [c, slope(Ks, points.map((p) => p.time[c].step.median))]),
    );
    models.push({
      model: name,
      dataset: f.dataset.name,
      parameters: f.layout.total,
      batch: f.batch.count,
      points,
      msPerTangent,
    });

    const rows: Row[] = points.flatMap((p) => [
      { K: p.K, cosine: p.cosine.normal.mean, series: "normal tangents (measured)" },
      { K: p.K, cosine: p.cosine.rademacher.mean, series: "Rademacher tangents (measured)" },
      { K: p.K, cosine: p.theory, series: "theory sqrt(K/(n+K+1))" },
    ]);
    plots.push(
      await writeSvg(
        ctx,
        `tangents_cosine_${name}.svg`,
        await renderPlot({
          title: `${name} (${f.dataset.name}, n = ${f.layout.total}): cosine to the true gradient`,
          rows,
          x: { field: "K", title: "tangents K", log: true, base: 2 },
          y: { field: "cosine", title: "mean cosine similarity", log: true },
          series: "series",
          dashed: ["theory sqrt(K/(n+K+1))"],
        }),
      ),
    );
  }
  const timeRows: Row[] = models.flatMap((m) =>
    m.points.flatMap((p) =>
      MODES.map((mode) => ({
        K: p.K,
        ms: p.time[`normal ${mode}`].step.median,
        series: `${m.model}, ${mode}`,
      }))
    )
  );
  plots.push(
    await writeSvg(
      ctx,
      "tangents_time.svg",
      await renderPlot({
        title: "Forward-gradient step time vs tangents (batch 64, one worker)",
        rows: timeRows,
        x: { field: "K", title: "tangents K", log: true, base: 2 },
        y: { field: "ms", title: "ms per step (median)", log: true },
        series: "series",
      }),
    ),
  );
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      models: MODELS,
      K: Ks,
      batch: 64,
      parameters: "initial (seed 0), fixed",
      draws: Object.fromEntries(
        MODELS.map((m) => [m, Object.fromEntries(Ks.map((K) => [K, draws(ctx, m, K)]))]),
      ),
      distributions: DISTS,
      modes: MODES,
      step:
        "ForwardEngine.step + combineEstimates (the coordinator's combine), one worker, in-process",
    },
    data: { models },
    plots,
  });
}
