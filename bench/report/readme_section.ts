/**
 * The README's "Results" section: a short headline table whose every number is read from the
 * result files, with links to RESULTS.md and two plots. Written to README_SECTION.md.
 */
import { fmt, fmtMs } from "../lib/stats.ts";
import { table, times } from "./common.ts";
import type { AllResults } from "./results_md.ts";

const MiB = 2 ** 20;

/** Seconds with two decimals below 1 s (the penguin runs take tens of ms). */
const secs = (v: number) => v.toFixed(v < 1 ? 2 : 1);

/** `base`: the report directory relative to the repository root ("bench" for full runs). */
export function renderReadmeSection(all: AllResults, base = "bench"): string | null {
  const rows: string[][] = [];
  const s = all.stepCost?.data;
  const mlp = s?.models.find((m) => m.model === "paper-mlp");
  if (s && mlp) {
    const t = mlp.timings;
    const paper = s.paper.figures["paper-mlp"];
    const paperText = paper ? `R_f ${paper.Rf}, R_b ${paper.Rb}` : "not available here";
    rows.push([
      `Step cost, paper-mlp (${(mlp.parameters / 1e6).toFixed(2)} M params), batch 64, K = 1`,
      `forward pass ${fmtMs(t.forward.total.median)} ms; forward-gradient step ${
        fmtMs(t.forwardGradient.total.median)
      } ms ` +
      `(R_f ${fmt(mlp.ratios.Rf)}); backprop step ${fmtMs(t.backprop.total.median)} ms (R_b ${
        fmt(mlp.ratios.Rb)
      }); ` +
      `T_f/T_b ${fmt(mlp.ratios.fOverB)}. Paper (Baydin et al. 2022, MNIST MLP): ${paperText}`,
    ]);
    if (s.hand && s.profile) {
      rows.push([
        "Generated vs hand-written graphs (paper-mlp)",
        `JVP run ${fmtMs(s.profile.generated.jvpRunMs)} vs ${
          fmtMs(s.profile.hand.jvpRunMs)
        } ms, VJP run ` +
        `${fmtMs(s.profile.generated.vjpRunMs)} vs ${fmtMs(s.profile.hand.vjpRunMs)} ms`,
      ]);
    }
    const cnn = s.models.find((m) => m.model === "paper-cnn");
    if (cnn) {
      rows.push([
        `Step cost, paper-cnn (${(cnn.parameters / 1e6).toFixed(2)} M params), batch 64, K = 1`,
        `forward ${fmtMs(cnn.timings.forward.total.median)} ms; forward-gradient step ${
          fmtMs(cnn.timings.forwardGradient.total.median)
        } ms ` +
        `(R_f ${fmt(cnn.ratios.Rf)}); backprop step ${
          fmtMs(cnn.timings.backprop.total.median)
        } ms (R_b ${fmt(cnn.ratios.Rb)})`,
      ]);
    }
  }
  const pm = all.peer?.data.models.find((m) => m.model === "paper-mlp");
  if (pm && pm.timings["tfjs backprop"]) {
    rows.push([
      "TensorFlow.js WASM backprop step, paper-mlp",
      `${fmtMs(pm.timings["tfjs backprop"].total.median)} ms: fwdgrad's backprop step is ${
        times(pm.speedups.backprop)
      } ` +
      `faster, its forward-gradient step ${times(pm.speedups.forwardGradient)}`,
    ]);
  }
  const pc = all.peer?.data.models.find((m) => m.model === "paper-cnn");
  if (pc?.wasmBackpropError) {
    rows.push(["TensorFlow.js WASM, paper-cnn", `cannot backprop: ${pc.wasmBackpropError}`]);
  }
  const tc = all.tangents?.data.models.find((m) => m.model === "cnn");
  if (tc) {
    const last = tc.points[tc.points.length - 1];
    const first = tc.points[0];
    rows.push([
      `Tangent count, cnn (n = ${tc.parameters.toLocaleString("en-US")})`,
      `cosine to the true gradient ${first.cosine.normal.mean.toFixed(4)} at K = ${first.K}, ${
        last.cosine.normal.mean.toFixed(4)
      } at K = ${last.K} ` +
      `(theory sqrt(K/(n+K+1)): ${last.theory.toFixed(4)}); ${
        fmtMs(tc.msPerTangent["normal independent"])
      } ms per extra tangent`,
    ]);
  }
  const wm = all.workers?.data.models.find((m) => m.model === "paper-mlp");
  if (wm) {
    const sp = (series: string) => wm.points.find((p) => p.series === series && p.W === 2)?.speedup;
    rows.push([
      `2 workers vs 1, paper-mlp, ${wm.T} tangents per step`,
      `tangents/s ${times(sp("shared"))} (shared mode), ${
        times(sp("independent"))
      } (independent), ` +
      `${times(sp("independent, fixed work"))} (independent, same arithmetic per worker)`,
    ]);
  }
  for (const m of all.timeToTarget?.data.models ?? []) {
    const v = (label: string) => m.variants.find((x) => x.label === label);
    const say = (label: string) => {
      const x = v(label);
      if (!x) return "—";
      if (x.diverged) return "diverged";
      return x.reachedTarget
        ? `${secs(x.secondsToTarget!)} s (${x.stepsToTarget} steps)`
        : `not within ${m.plan.maxSeconds} s`;
    };
    rows.push([
      `Time to training loss < ${m.plan.target}, ${m.model} (${m.dataset})`,
      `backprop ${say("backprop")}; forward gradient K = 1 ${say("forward K=1")}, K = 4 ${
        say("forward K=4")
      }, K = 4 on 2 workers ${say("forward K=4, W=2")}`,
    ]);
  }
  const mem = all.memory?.data;
  if (mem) {
    const per = (k: string) => (mem.bytesPerLayer[k] / MiB).toFixed(2);
    rows.push([
      `Peak memory per added layer (width ${mem.width}, batch ${mem.batch})`,
      `forward-gradient step +${per("forward-gradient")} MiB, backprop step +${
        per("backprop")
      } MiB, forward pass +${per("forward")} MiB ` +
      `(one activation: ${(mem.activationBytes / MiB).toFixed(1)} MiB)`,
    ]);
  }
  if (rows.length === 0) return null;
  const any = Object.values(all).find((r) => r !== undefined)!;
  return [
    "## Results\n",
    `Headline numbers from \`${any.command}\` (${
      any.date.slice(0, 10)
    }, ${any.machine.cpuModel}, ${any.machine.cores} cores, ` +
    `onnxruntime-web ${any.machine.onnxruntimeWeb}, one WASM thread per worker). Full tables, the performance goals ` +
    `(met and missed) and how each number was measured: [${base}/RESULTS.md](${base}/RESULTS.md); raw numbers in ` +
    `[${base}/results/](${base}/results/).\n`,
    table(["experiment", "result"], rows),
    `![Cosine similarity of the forward gradient to the true gradient vs K](${base}/results/tangents_cosine_cnn.svg)\n`,
    `![Peak memory vs depth](${base}/results/memory_depth.svg)\n`,
  ].join("\n");
}
