/**
 * Experiment 5, time to target: forward gradient vs backprop on each built-in model through
 * the real coordinator (runMethod, as `deno task train` uses it), until the original study's
 * stopping rule (training loss, smoothed over the last epoch or 50 steps, below a threshold)
 * or a time cap. Each method gets its own learning rate from a small sweep (plain SGD,
 * constant rate); the forward gradient also runs with K = 4 tangents and with K = 4 on W = 2
 * workers (independent mode) at the rate its K = 1 sweep chose.
 */
import type { ModelName } from "../../src/onnx/models/registry.ts";
import { DivergenceError } from "../../src/train/stopping.ts";
import type { Method } from "../../src/train/config.ts";
import { DEFAULT_BACKPROP_LR, defaultForwardLr } from "../../src/train/defaults.ts";
import { benchConfig, type Setup, setup, timedRun } from "../lib/coordinator_run.ts";
import { begin, type BenchContext, type ResultFile, writeResult, writeSvg } from "../lib/output.ts";
import { renderPlot, type Row } from "../lib/plot.ts";

export const NAME = "time_to_target";
export const TITLE = "Time to target training loss: forward gradient vs backprop";

interface Plan {
  model: ModelName;
  /** Training-loss threshold of the stopping rule. */
  target: number;
  /** Multiples of the default rate (src/train/defaults.ts) tried in the sweep. */
  factors: number[];
  sweepSeconds: number;
  maxSeconds: number;
  evalEvery: number;
}

function plans(quick: boolean): Plan[] {
  if (quick) {
    return [
      {
        model: "logreg",
        target: 0.15,
        factors: [1, 3],
        sweepSeconds: 2,
        maxSeconds: 5,
        evalEvery: 50,
      },
      { model: "mlp", target: 0.1, factors: [1, 3], sweepSeconds: 2, maxSeconds: 5, evalEvery: 50 },
      { model: "cnn", target: 1.0, factors: [1, 3], sweepSeconds: 3, maxSeconds: 6, evalEvery: 25 },
    ];
  }
  return [
    {
      model: "logreg",
      target: 0.1,
      factors: [1 / 3, 1, 3],
      sweepSeconds: 4,
      maxSeconds: 15,
      evalEvery: 50,
    },
    {
      model: "mlp",
      target: 0.05,
      factors: [1 / 3, 1, 3],
      sweepSeconds: 4,
      maxSeconds: 15,
      evalEvery: 50,
    },
    {
      model: "cnn",
      target: 1.0,
      factors: [1 / 3, 1, 3],
      sweepSeconds: 6,
      maxSeconds: 20,
      evalEvery: 25,
    },
    {
      model: "paper-mlp",
      target: 1.0,
      factors: [1 / 3, 1, 3],
      sweepSeconds: 10,
      maxSeconds: 30,
      evalEvery: 10,
    },
    {
      model: "paper-cnn",
      target: 1.5,
      factors: [1, 3],
      sweepSeconds: 15,
      maxSeconds: 30,
      evalEvery: 5,
    },
  ];
}

export interface SweepEntry {
  method: Method;
  lr: number;
  steps: number;
  seconds: number;
  reachedTarget: boolean;
  secondsToTarget: number | null;
  finalTrainLoss: number;
  diverged: boolean;
}

export interface Variant {
  label: string;
  method: Method;
  K: number;
  W: number;
  lr: number;
  steps: number;
  wallSeconds: number;
  stepsPerSecond: number;
  reachedTarget: boolean;
  secondsToTarget: number | null;
  stepsToTarget: number | null;
  finalTrainLoss: number;
  testAccuracy: number;
  diverged: boolean;
  /** Smoothed training loss and test accuracy at each evaluation. */
  curve: { seconds: number; step: number; trainLoss: number; testAccuracy: number }[];
}

export interface TargetModel {
  model: ModelName;
  dataset: string;
  train: number;
  test: number;
  parameters: number;
  plan: Plan;
  sweep: SweepEntry[];
  chosen: Record<Method, number>;
  variants: Variant[];
}

export interface TargetData {
  models: TargetModel[];
}

async function attempt(
  s: Setup,
  p: Plan,
  method: Method,
  lr: number,
  K: number,
  W: number,
  seconds: number,
) {
  const config = benchConfig(s, {
    method,
    workers: W,
    tangents: K,
    lrForward: lr,
    lrBackprop: lr,
    steps: 1_000_000,
    maxSeconds: seconds,
    targetLoss: p.target,
    evalEvery: p.evalEvery,
  });
  const run = await timedRun(s, method, config);
  if (run.result.cause instanceof DivergenceError) return { run: null, diverged: true };
  if (run.result.cause) throw run.result.cause;
  return { run, diverged: false };
}

/** Lower is better: reached the target sooner, else a lower final training loss. */
function score(e: SweepEntry): [number, number] {
  if (e.diverged) return [2, Infinity];
  return e.reachedTarget ? [0, e.secondsToTarget!] : [1, e.finalTrainLoss];
}

async function measureModel(ctx: BenchContext, p: Plan): Promise<TargetModel> {
  const s = await setup(p.model);
  const sweep: SweepEntry[] = [];
  const chosen = { forward: NaN, backprop: NaN } as Record<Method, number>;
  for (const method of ["backprop", "forward"] as Method[]) {
    for (const factor of p.factors) {
      const backprop = DEFAULT_BACKPROP_LR[p.model];
      const base = method === "backprop"
        ? backprop
        : defaultForwardLr({ lrBackprop: backprop, optimizer: "sgd", tangents: 1 }, s.layout.total);
      const lr = base * factor;
      const { run, diverged } = await attempt(s, p, method, lr, 1, 1, p.sweepSeconds);
      const r = run?.result;
      sweep.push({
        method,
        lr,
        steps: r?.steps ?? 0,
        seconds: r?.wallSeconds ?? 0,
        reachedTarget: r?.reachedTarget ?? false,
        secondsToTarget: r?.secondsToTarget ?? null,
        finalTrainLoss: r?.final.trainLoss ?? NaN,
        // A run that ends with a non-finite loss diverged too, even if no step saw it.
        diverged: diverged || !Number.isFinite(r?.final.trainLoss ?? NaN),
      });
    }
    const mine = sweep.filter((e) => e.method === method);
    mine.sort((a, b) => score(a)[0] - score(b)[0] || score(a)[1] - score(b)[1]);
    chosen[method] = mine[0].lr;
    ctx.log(
      `  ${p.model} sweep ${method}: ${
        mine.map((e) =>
          `${e.lr.toPrecision(2)}→${e.diverged ? "diverged" : e.finalTrainLoss.toFixed(3)}`
        ).join(", ")
      }; chose ${chosen[method].toPrecision(2)}`,
    );
  }
  const variants: Variant[] = [];
  const specs: { label: string; method: Method; K: number; W: number }[] = [
    { label: "backprop", method: "backprop", K: 1, W: 1 },
    { label: "forward K=1", method: "forward", K: 1, W: 1 },
    { label: "forward K=4", method: "forward", K: 4, W: 1 },
    { label: "forward K=4, W=2", method: "forward", K: 4, W: 2 },
  ];
  for (const v of specs) {
    const lr = chosen[v.method];
    const { run, diverged } = await attempt(s, p, v.method, lr, v.K, v.W, p.maxSeconds);
    const r = run?.result;
    const variant: Variant = {
      ...v,
      lr,
      steps: r?.steps ?? 0,
      wallSeconds: r?.wallSeconds ?? 0,
      stepsPerSecond: r?.stepsPerSecond ?? 0,
      reachedTarget: r?.reachedTarget ?? false,
      secondsToTarget: r?.secondsToTarget ?? null,
      stepsToTarget: r?.stepsToTarget ?? null,
      finalTrainLoss: r?.final.trainLoss ?? NaN,
      testAccuracy: r?.final.testAccuracy ?? NaN,
      diverged: diverged || !Number.isFinite(r?.final.trainLoss ?? NaN),
      curve: (r?.metrics ?? []).map((m) => ({
        seconds: m.wallSeconds,
        step: m.step,
        trainLoss: m.trainLoss,
        testAccuracy: m.testAccuracy,
      })),
    };
    variants.push(variant);
    ctx.log(
      `  ${p.model} ${v.label}: ${
        variant.reachedTarget
          ? `target in ${variant.secondsToTarget!.toFixed(1)} s / ${variant.stepsToTarget} steps`
          : `no target in ${variant.wallSeconds.toFixed(1)} s (${variant.steps} steps)`
      }, train loss ${variant.finalTrainLoss.toFixed(3)}, test acc ${
        (100 * variant.testAccuracy).toFixed(1)
      }%`,
    );
  }
  return {
    model: p.model,
    dataset: s.dataset.name,
    train: s.dataset.train.count,
    test: s.dataset.test.count,
    parameters: s.layout.total,
    plan: p,
    sweep,
    chosen,
    variants,
  };
}

export async function run(ctx: BenchContext): Promise<ResultFile<TargetData>> {
  const started = await begin();
  const models: TargetModel[] = [];
  const plots: string[] = [];
  for (const p of plans(ctx.quick)) {
    const m = await measureModel(ctx, p);
    models.push(m);
    const rows: Row[] = m.variants.flatMap((v) =>
      v.curve.map((c) => ({ seconds: c.seconds, loss: c.trainLoss, series: v.label }))
    );
    plots.push(
      await writeSvg(
        ctx,
        `time_to_target_${m.model}.svg`,
        await renderPlot({
          title:
            `${m.model} (${m.dataset}): smoothed training loss vs training time (target ${p.target})`,
          rows,
          x: { field: "seconds", title: "training seconds (evaluations excluded)" },
          y: { field: "loss", title: "training loss (log scale)", log: true },
          series: "series",
        }),
      ),
    );
  }
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      plans: plans(ctx.quick),
      optimizer:
        "SGD, constant learning rate, batch 64, seed 0, same initial weights and data order",
      sweep:
        "each method at K = 1, W = 1 for sweepSeconds per rate; rates = factors × the default rate (src/train/defaults.ts)",
      choice: "reached the target soonest, else lowest final training loss (full train split)",
      variants:
        "backprop; forward K=1; forward K=4; forward K=4 on 2 workers (independent mode); forward variants use the forward K=1 rate",
      stoppingRule:
        "runMethod's targetLoss: training loss smoothed over the last epoch or 50 steps below the target",
      caps: "maxSeconds counts training time only (evaluations excluded)",
    },
    data: { models },
    plots,
  });
}
