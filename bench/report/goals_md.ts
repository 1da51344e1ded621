/** The issue's performance goals, each with the measured figure and, when missed, what limits it. */
import type { PeerData } from "../experiments/peer.ts";
import type { StepCostData } from "../experiments/step_cost.ts";
import type { WorkerData } from "../experiments/workers.ts";
import type { ResultFile } from "../lib/output.ts";
import { fmt, fmtMs } from "../lib/stats.ts";
import { table, times, yesNo } from "./common.ts";

export interface Goal {
  goal: string;
  measured: string;
  /** null: the goal cannot be measured (the peer cannot take the step). */
  met: boolean | null;
  limits: string;
}

const n = (v: number) => v.toLocaleString("en-US");

function stepGoals(step: ResultFile<StepCostData>): Goal[] {
  const mlp = step.data.models.find((m) => m.model === "paper-mlp");
  const p = step.data.profile;
  const hand = step.data.hand;
  if (!mlp || !p || !hand) return [];
  const t = mlp.timings;
  const parts = t.forwardGradient.parts;
  const [Tf, TF, Tb] = [
    t.forwardGradient.total.median,
    t.forward.total.median,
    t.backprop.total.median,
  ];
  const [sample, est, jvp] = [parts.sample.median, parts.estimate.median, parts.jvp.median];
  const vjp = p.generated.vjpRunMs;
  const radSample = t.forwardGradientRademacher.parts.sample.median;
  const flopRatio = (f: number) => fmt(f / mlp.flops.forward.flops);
  const estMin = parts.estimate.min;
  const tangentText =
    `sampling ${(mlp.parameters / 1e6).toFixed(2)} M normals (${fmtMs(sample)} ms; ` +
    `src/random, WASM SIMD) and the estimate (${fmtMs(est)} ms median, ${
      fmtMs(estMin)
    } ms at best: ` +
    `a scalar JavaScript loop in src/engine/forward_engine.ts into a shared buffer it reuses)`;
  const handF = hand.timings.forwardGradient.total.median;
  const handB = hand.timings.backprop.total.median;
  return [
    {
      goal: "R_f ≤ 2.75 on paper-mlp (K = 1)",
      measured: `R_f = ${fmt(mlp.ratios.Rf)} (T_f ${fmtMs(Tf)} ms / T_F ${fmtMs(TF)} ms); ` +
        `hand-written ${fmt(hand.ratios.Rf)}; with Rademacher tangents ${
          fmt(mlp.ratiosRademacher.Rf)
        }`,
      met: mlp.ratios.Rf <= 2.75,
      limits:
        `T_f = sampling ${fmtMs(sample)} + JVP run ${fmtMs(jvp)} + estimate ${fmtMs(est)} ms. ` +
        `The JVP run alone is ${fmt(jvp / TF)}× T_F (hand-written ${fmt(p.hand.jvpRunMs / TF)}×; ` +
        `${
          flopRatio(mlp.flops.jvp.flops)
        }× the forward FLOPs), so the rule graph does not limit it; ` +
        `the tangent does: ${tangentText}. Rademacher tangents take ${
          fmtMs(radSample)
        } ms to sample.`,
    },
    {
      goal: "R_b ≤ 3.0 on paper-mlp",
      measured: `R_b = ${fmt(mlp.ratios.Rb)} (T_b ${fmtMs(Tb)} ms); hand-written ${
        fmt(hand.ratios.Rb)
      }`,
      met: mlp.ratios.Rb <= 3.0,
      limits:
        `VJP run ${fmtMs(vjp)} ms (hand-written ${fmtMs(p.hand.vjpRunMs)} ms) + gradient copy ` +
        `${fmtMs(Tb - vjp)} ms; ${flopRatio(mlp.flops.vjp.flops)}× the forward FLOPs.`,
    },
    {
      goal: "T_f/T_b ≤ 0.95 at K = 1 (paper-mlp)",
      measured: `${fmt(mlp.ratios.fOverB)} (hand-written graphs in the same engines: ` +
        `${fmt(hand.ratios.fOverB)}); JVP run / VJP run alone = ${fmt(jvp / vjp)}`,
      met: mlp.ratios.fOverB <= 0.95,
      limits:
        `At K = 1 the two graphs do the same arithmetic (${
          (mlp.flops.jvp.flops / 1e6).toFixed(0)
        } ` +
        `vs ${
          (mlp.flops.vjp.flops / 1e6).toFixed(0)
        } MFLOP; REFERENCES.md: "roughly FLOP-equal") and ` +
        `run in ${fmtMs(jvp)} vs ${fmtMs(vjp)} ms. The forward step adds ${tangentText}, against ` +
        `${fmtMs(Tb - vjp)} ms of gradient copy on the backprop side.`,
    },
    {
      goal: "generated graphs within 15% of the hand-written ones (paper-mlp)",
      measured: `T_f ${times(Tf / handF)}, T_b ${times(Tb / handB)}, T_F ` +
        `${times(TF / hand.timings.forward.total.median)} of hand-written; JVP run ` +
        `${times(jvp / p.hand.jvpRunMs)}, VJP run ${times(vjp / p.hand.vjpRunMs)}`,
      met: Tf / handF <= 1.15 && Tb / handB <= 1.15,
      limits:
        `Generated JVP graph: ${mlp.flops.jvp.nodes} nodes, ${n(mlp.flops.jvp.copiedElements)} ` +
        `elements copied by layout ops (hand-written: ${hand.flops.jvp.nodes} nodes, ` +
        `${
          n(hand.flops.jvp.copiedElements)
        }); VJP ${mlp.flops.vjp.nodes} vs ${hand.flops.vjp.nodes} nodes.`,
    },
  ];
}

function peerGoals(peer: ResultFile<PeerData>): Goal[] {
  const out: Goal[] = [];
  const pm = peer.data.models.find((m) => m.model === "paper-mlp");
  const tfStep = pm?.timings["tfjs backprop"];
  if (pm && tfStep) {
    const tf = tfStep.total.median;
    const fp = pm.timings.forwardGradient.parts;
    out.push({
      goal: "both steps ≥ 15× faster than the TF.js WASM backprop step (paper-mlp)",
      measured: `TF.js ${fmtMs(tf)} ms: ${times(pm.speedups.backprop)} fwdgrad's backprop step, ` +
        `${times(pm.speedups.forwardGradient)} its forward-gradient step (hand-written graphs: ` +
        `${times(pm.speedups["hand backprop"])} / ${times(pm.speedups["hand forwardGradient"])})`,
      met: pm.speedups.backprop >= 15 && pm.speedups.forwardGradient >= 15,
      limits: `15× needs steps of at most ${fmtMs(tf / 15)} ms. Backprop step: ` +
        `${fmtMs(pm.timings.backprop.total.median)} ms; forward-gradient step: ` +
        `${fmtMs(pm.timings.forwardGradient.total.median)} ms = sampling ${
          fmtMs(fp.sample?.median)
        } + ` +
        `JVP run ${fmtMs(fp.jvp?.median)} + estimate ${
          fmtMs(fp.estimate?.median)
        } ms (as in goal 1).`,
    });
  }
  const pc = peer.data.models.find((m) => m.model === "paper-cnn");
  if (pc?.wasmBackpropError) {
    const cpu = pc.cpuBackend;
    out.push({
      goal: "the same comparison on paper-cnn",
      measured: `TF.js WASM cannot take the step (${pc.wasmBackpropError})`,
      met: null,
      limits: cpu
        ? `TF.js's cpu backend instead: ${cpu.note}${
          cpu.stepMs ? ` (${fmtMs(cpu.stepMs)} ms)` : ""
        }.`
        : "",
    });
  }
  return out;
}

function workerGoals(workers: ResultFile<WorkerData>): Goal[] {
  const wm = workers.data.models.find((m) => m.model === "paper-mlp");
  if (!wm) return [];
  const out: Goal[] = [];
  for (const series of ["shared", "independent", "independent, fixed work"] as const) {
    const two = wm.points.find((p) => p.series === series && p.W === 2);
    if (!two) continue;
    const baseSeries = series === "independent, fixed work" ? "independent" : series;
    const one = wm.points.find((p) => p.W === 1 && p.series === baseSeries);
    const why = series === "shared"
      ? "Every worker samples all T tangents in full for its JVP (ForwardEngine.sample does not " +
        "depend on the shard), work that W does not divide; only the rebuild of the estimate from " +
        "the seed is split across the workers (ForwardEngine.rebuild, one slice each)."
      : "Each worker sends an n-float estimate that the coordinator sums (combineEstimates) and " +
        "applies (optimizer) on its own thread; with 2 cores that work competes with the workers.";
    out.push({
      goal: `2 workers ≥ 1.8× the tangents/s of 1 (paper-mlp, ${series}, T = ${wm.T})`,
      measured:
        `${times(two.speedup)} (${fmtMs(one?.stepMs.median)} → ${
          fmtMs(two.stepMs.median)
        } ms per step)` +
        (series === "independent" ? "; each tangent covers half the batch at W = 2" : ""),
      met: two.speedup >= 1.8,
      limits: two.speedup >= 1.8 ? "" : why,
    });
  }
  return out;
}

export function goals(
  step: ResultFile<StepCostData> | undefined,
  peer: ResultFile<PeerData> | undefined,
  workers: ResultFile<WorkerData> | undefined,
): Goal[] {
  return [
    ...(step ? stepGoals(step) : []),
    ...(peer ? peerGoals(peer) : []),
    ...(workers ? workerGoals(workers) : []),
  ];
}

export function renderGoals(list: Goal[]): string {
  if (list.length === 0) return "";
  return "## Performance goals (issue #5)\n\n" +
    "Benchmarks report the goals; tests never time anything.\n\n" +
    table(
      ["goal", "measured", "status", "what limits it"],
      list.map((g) => [g.goal, g.measured, g.met === null ? "n/a" : yesNo(g.met), g.limits]),
    ) + "\n";
}
