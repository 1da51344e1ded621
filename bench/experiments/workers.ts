/**
 * Experiment 4, workers: forward-gradient training steps through the real coordinator and
 * workers (runMethod), W ∈ {1, 2, and the core count if larger}, at a fixed total number T
 * of tangents per step, in both tangent modes. Batch 64 is split over the workers (shards).
 *   shared      — every worker evaluates the same T tangents on its shard and returns T
 *                 scalars; the coordinator regenerates the tangents to form the estimate.
 *   independent — worker w evaluates its own T/W tangents on its shard and returns its
 *                 estimate vector; the coordinator averages the vectors.
 * In independent mode each tangent covers 64/W examples, so W = 2 at fixed T also halves the
 * arithmetic per tangent; a second independent series keeps the arithmetic fixed instead
 * (T tangents per worker, T·W per step).
 */
import type { ModelName } from "../../src/onnx/models/registry.ts";
import { benchConfig, type Setup, setup, timedRun } from "../lib/coordinator_run.ts";
import { begin, type BenchContext, type ResultFile, writeResult, writeSvg } from "../lib/output.ts";
import { renderPlot } from "../lib/plot.ts";
import { median, summarize, type Summary } from "../lib/stats.ts";

export const NAME = "workers";
export const TITLE = "Workers W: tangents per second and speedup at a fixed number of tangents";

export interface WorkerConfig {
  series: "shared" | "independent" | "independent, fixed work";
  W: number;
  /** Tangents per worker. */
  K: number;
  /** Distinct tangents per step. */
  tangentsPerStep: number;
  /** Examples each tangent's directional derivative covers. */
  examplesPerTangent: number;
}

export interface WorkerPoint extends WorkerConfig {
  stepMs: Summary;
  tangentsPerSecond: number;
  /** Tangent·example products per second (the JVP arithmetic done). */
  tangentExamplesPerSecond: number;
  /** Over W = 1 of the same series, in tangents per second. */
  speedup: number;
}

export interface WorkerModel {
  model: ModelName;
  parameters: number;
  T: number;
  points: WorkerPoint[];
}

export interface WorkerData {
  cores: number;
  models: WorkerModel[];
}

function configs(T: number, Ws: number[]): WorkerConfig[] {
  const out: WorkerConfig[] = [];
  for (const W of Ws) {
    out.push({ series: "shared", W, K: T, tangentsPerStep: T, examplesPerTangent: 64 });
    if (T % W === 0) {
      out.push({
        series: "independent",
        W,
        K: T / W,
        tangentsPerStep: T,
        examplesPerTangent: 64 / W,
      });
    }
    if (W > 1) {
      out.push({
        series: "independent, fixed work",
        W,
        K: T,
        tangentsPerStep: T * W,
        examplesPerTangent: 64 / W,
      });
    }
  }
  return out;
}

async function measureModel(
  ctx: BenchContext,
  s: Setup,
  T: number,
  Ws: number[],
): Promise<WorkerModel> {
  const list = configs(T, Ws);
  // The first steps run while V8 still tiers up the WASM kernels and JS loops: not measured.
  const warm = s.model === "mlp" ? 30 : 8;
  const steps = warm + (ctx.quick ? (s.model === "mlp" ? 40 : 6) : (s.model === "mlp" ? 200 : 24));
  const rounds = ctx.quick ? 1 : 3;
  const samples = new Map<number, number[]>(list.map((_, i) => [i, []]));
  for (let r = 0; r < rounds; r++) {
    for (let j = 0; j < list.length; j++) {
      const i = (j + r) % list.length; // rotate the order from round to round
      const c = list[i];
      const config = benchConfig(s, {
        workers: c.W,
        tangents: c.K,
        tangentMode: c.series === "shared" ? "shared" : "independent",
        steps,
        evalEvery: steps,
        lrForward: 1e-6, // tiny: the parameters hardly move, every step costs the same
      });
      const { stepMs } = await timedRun(s, "forward", config);
      samples.get(i)!.push(...stepMs.slice(warm));
    }
  }
  const points: WorkerPoint[] = list.map((c, i) => {
    const stepMs = summarize(samples.get(i)!);
    const perSecond = 1000 / stepMs.median;
    return {
      ...c,
      stepMs,
      tangentsPerSecond: c.tangentsPerStep * perSecond,
      tangentExamplesPerSecond: c.tangentsPerStep * c.examplesPerTangent * perSecond,
      speedup: NaN,
    };
  });
  for (const p of points) {
    const base = points.find((q) =>
      q.W === 1 &&
      (q.series === p.series ||
        (p.series === "independent, fixed work" && q.series === "independent"))
    );
    if (base) p.speedup = p.tangentsPerSecond / base.tangentsPerSecond;
  }
  for (const p of points) {
    ctx.log(
      `  ${s.model} ${p.series} W=${p.W} K=${p.K}: ${
        median(samples.get(points.indexOf(p))!).toFixed(1)
      } ms/step, ${p.tangentsPerSecond.toFixed(0)} tangents/s, ×${p.speedup.toFixed(2)}`,
    );
  }
  return { model: s.model, parameters: s.layout.total, T, points };
}

export async function run(ctx: BenchContext): Promise<ResultFile<WorkerData>> {
  const started = await begin();
  const cores = navigator.hardwareConcurrency;
  const Ws = [...new Set([1, 2, cores])].sort((a, b) => a - b);
  const plan: { model: ModelName; T: number }[] = [
    { model: "paper-mlp", T: ctx.quick ? 4 : 8 },
    { model: "mlp", T: 8 },
  ];
  const models: WorkerModel[] = [];
  for (const p of plan) models.push(await measureModel(ctx, await setup(p.model), p.T, Ws));
  // Speedup over W = 1 per series; "fixed work" starts from the independent W = 1 point.
  const rows = models.flatMap((m) =>
    m.points.flatMap((p) => [
      ...(p.series === "independent, fixed work"
        ? [{ W: 1, speedup: 1, series: `${m.model}, ${p.series}` }]
        : []),
      { W: p.W, speedup: p.speedup, series: `${m.model}, ${p.series}` },
    ])
  );
  rows.push(...Ws.map((W) => ({ W, speedup: W, series: "ideal (linear)" })));
  const plots = [
    await writeSvg(
      ctx,
      "workers.svg",
      await renderPlot({
        title: "Forward-gradient speedup in tangents/s over one worker (real coordinator)",
        rows,
        x: { field: "W", title: "workers W" },
        y: { field: "speedup", title: "tangents/s relative to W = 1" },
        series: "series",
        dashed: ["ideal (linear)"],
      }),
    ),
  ];
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      plan,
      W: Ws,
      batch: 64,
      tangentDist: "normal",
      steps:
        "per run: paper-mlp 8 warm-up + 24 measured (quick 6), mlp 30 + 200 (quick 40); 3 rounds (quick 1), order rotated",
      timing:
        "wall time between the coordinator's per-step progress reports; first step and evaluations excluded",
      optimizer: "SGD with lr 1e-6 (parameters barely move; only the cost matters)",
    },
    data: { cores, models },
    plots,
  });
}
