import type { StepCostData } from "../experiments/step_cost.ts";
import type { ResultFile } from "../lib/output.ts";
import { fmt, fmtMs } from "../lib/stats.ts";
import { gflops, mflop, provenance, table, times } from "./common.ts";

export function renderStepCost(r: ResultFile<StepCostData>): string {
  const d = r.data;
  const out: string[] = [`## 1. Step cost at K = 1\n`, provenance(r)];
  out.push(
    "T_F: plain forward pass (model + loss; parameters fed as inputs, as both steps feed them). " +
      "T_f: forward-gradient step = sample the tangent + JVP run + form the estimate (parts in " +
      "brackets). T_b: backprop step = VJP run + copy of the gradient out. Batch 64, one thread, " +
      "medians of interleaved repetitions (ms).\n",
  );
  out.push(table(
    [
      "model",
      "params",
      "T_F",
      "T_f [sample / JVP / estimate]",
      "T_b",
      "R_f",
      "R_b",
      "T_f/T_b",
      "R_f (Rademacher)",
      "paper R_f / R_b",
    ],
    d.models.map((m) => {
      const t = m.timings;
      const p = t.forwardGradient.parts;
      const paper = d.paper.figures[m.model];
      return [
        `${m.model} (${m.dataset})`,
        m.parameters.toLocaleString("en-US"),
        fmtMs(t.forward.total.median),
        `${fmtMs(t.forwardGradient.total.median)} [${fmtMs(p.sample.median)} / ${
          fmtMs(p.jvp.median)
        } / ${fmtMs(p.estimate.median)}]`,
        fmtMs(t.backprop.total.median),
        fmt(m.ratios.Rf),
        fmt(m.ratios.Rb),
        fmt(m.ratios.fOverB),
        fmt(m.ratiosRademacher.Rf),
        paper ? `${paper.Rf} / ${paper.Rb}` : "not available here",
      ];
    }),
  ));
  out.push(
    `\nPaper figures: ${d.paper.source} (its MNIST MLP, 784-1024-1024-10, is our paper-mlp). ${d.paper.note}\n`,
  );
  out.push(
    "\nFLOPs counted from each graph (bench/lib/flops.ts; MFLOP per step) and the rate each run achieved:\n",
  );
  out.push(table(
    [
      "model",
      "forward MFLOP",
      "JVP MFLOP",
      "VJP MFLOP",
      "JVP/F",
      "VJP/F",
      "GFLOP/s F",
      "GFLOP/s JVP run",
      "GFLOP/s VJP step",
      "copied elements JVP / VJP",
    ],
    d.models.map((m) => [
      m.model,
      mflop(m.flops.forward.flops),
      mflop(m.flops.jvp.flops),
      mflop(m.flops.vjp.flops),
      fmt(m.flops.jvp.flops / m.flops.forward.flops),
      fmt(m.flops.vjp.flops / m.flops.forward.flops),
      gflops(m.flops.forward.flops, m.timings.forward.total.median),
      gflops(m.flops.jvp.flops, m.timings.forwardGradient.parts.jvp.median),
      gflops(m.flops.vjp.flops, m.timings.backprop.total.median),
      `${m.flops.jvp.copiedElements.toLocaleString("en-US")} / ${
        m.flops.vjp.copiedElements.toLocaleString("en-US")
      }`,
    ]),
  ));
  if (d.hand && d.profile) {
    const gen = d.models.find((m) => m.model === "paper-mlp")!;
    const h = d.hand;
    const p = d.profile;
    out.push("\n### Hand-written yardstick (paper-mlp)\n");
    out.push(
      "bench/lib/hand_mlp.ts writes the forward, JVP (K = 1) and VJP graphs of paper-mlp directly " +
        "(Gemm with transB/transA instead of transposes, tangents laid out [B, K, width], the " +
        "softmax–cross-entropy derivative as softmax − labels). Before timing, the bench checks " +
        `they give the generated graphs' numbers: max relative error loss ${
          h.check.loss.toExponential(1)
        }, ` +
        `loss tangent ${h.check.lossTangent.toExponential(1)}, gradient ${
          h.check.gradient.toExponential(1)
        } ` +
        `(tolerance ${h.check.tolerance}). Both run in the same engines, interleaved with the rows above.\n`,
    );
    const row = (
      label: string,
      g: number,
      hand: number,
    ) => [label, fmtMs(g), fmtMs(hand), times(g / hand)];
    out.push(table(
      ["ms (median)", "generated", "hand-written", "generated / hand"],
      [
        row("T_F", gen.timings.forward.total.median, h.timings.forward.total.median),
        row(
          "T_f (step)",
          gen.timings.forwardGradient.total.median,
          h.timings.forwardGradient.total.median,
        ),
        row("  JVP run", p.generated.jvpRunMs, p.hand.jvpRunMs),
        row("T_b (step)", gen.timings.backprop.total.median, h.timings.backprop.total.median),
        row("  VJP run", p.generated.vjpRunMs, p.hand.vjpRunMs),
        ["R_f", fmt(gen.ratios.Rf), fmt(h.ratios.Rf), times(gen.ratios.Rf / h.ratios.Rf)],
        ["R_b", fmt(gen.ratios.Rb), fmt(h.ratios.Rb), times(gen.ratios.Rb / h.ratios.Rb)],
        [
          "T_f/T_b",
          fmt(gen.ratios.fOverB),
          fmt(h.ratios.fOverB),
          times(gen.ratios.fOverB / h.ratios.fOverB),
        ],
        [
          "JVP graph nodes / MFLOP",
          `${gen.flops.jvp.nodes} / ${mflop(gen.flops.jvp.flops)}`,
          `${h.flops.jvp.nodes} / ${mflop(h.flops.jvp.flops)}`,
          "",
        ],
        [
          "VJP graph nodes / MFLOP",
          `${gen.flops.vjp.nodes} / ${mflop(gen.flops.vjp.flops)}`,
          `${h.flops.vjp.nodes} / ${mflop(h.flops.vjp.flops)}`,
          "",
        ],
      ],
    ));
    out.push("\n### Where the time of a paper-mlp step goes\n");
    out.push(table(
      ["piece", "ms (median)", "share of T_f", "share of T_b"],
      [
        ["session.run fixed overhead (1-node graph)", fmtMs(p.sessionOverheadMs), "", ""],
        [
          `forward pass, the ${p.parameterMB.toFixed(1)} MB of parameters fed as inputs (T_F)`,
          fmtMs(p.forwardFedMs),
          "",
          "",
        ],
        [
          "forward pass, parameters baked into the graph as initializers",
          fmtMs(p.forwardBakedMs),
          "",
          "",
        ],
        [
          "tangent sampling (normal, counter hash + WASM SIMD)",
          fmtMs(p.generated.sampleMs),
          share(p.generated.sampleMs, gen.timings.forwardGradient.total.median),
          "",
        ],
        [
          "JVP session.run (the rule graph, incl. copying params + tangent in)",
          fmtMs(p.generated.jvpRunMs),
          share(p.generated.jvpRunMs, gen.timings.forwardGradient.total.median),
          "",
        ],
        [
          "estimate (1/K)Σ s_k v_k in JavaScript (into a reused shared buffer; fastest " +
          `${fmtMs(gen.timings.forwardGradient.parts.estimate.min)} ms)`,
          fmtMs(p.generated.estimateMs),
          share(p.generated.estimateMs, gen.timings.forwardGradient.total.median),
          "",
        ],
        [
          "VJP session.run (the rule graph)",
          fmtMs(p.generated.vjpRunMs),
          "",
          share(p.generated.vjpRunMs, p.generated.backpropStepMs),
        ],
        [
          "copying the gradient out into a reused shared buffer (T_b − VJP run)",
          fmtMs(p.generated.backpropStepMs - p.generated.vjpRunMs),
          "",
          share(p.generated.backpropStepMs - p.generated.vjpRunMs, p.generated.backpropStepMs),
        ],
      ],
    ));
  }
  if (d.profile?.perExtraTangent) {
    const e = d.profile.perExtraTangent;
    out.push(
      `\nOne more tangent (from K = 1 to K = 4, divided by 3) costs ${
        fmtMs(e.generatedStepMs)
      } ms per step ` +
        `with the generated graph (${fmtMs(e.generatedJvpRunMs)} ms of it in the JVP run) and ` +
        `${fmtMs(e.handStepMs)} ms with the hand-written one (${
          fmtMs(e.handJvpRunMs)
        } ms JVP run); ` +
        "the issue's hand-written reference measured about 17 ms.\n",
    );
  }
  out.push(renderConvProbe(d));
  return out.join("\n") + "\n";
}

function share(part: number, total: number): string {
  return `${((100 * part) / total).toFixed(0)}%`;
}

export function renderConvProbe(d: StepCostData): string {
  if (!d.conv || d.conv.length === 0) return "";
  const names = Object.keys(d.conv[0].timings);
  const out = [
    "\n### paper-cnn's conv layer in isolation\n",
    "One 3×3 Conv, 64 → 64 channels, batch 64, each graph built by the transforms from a one-node " +
    "model (so it also runs the primal Conv), except the last row: a prototype weight-gradient " +
    "emission written in the bench (im2col by 9 shifted slices, then one Gemm), checked against the " +
    "rule's output before timing (bench/lib/conv_probe.ts). ms, medians.\n",
    table(
      ["graph", ...d.conv.map((c) => `${c.shape.H}×${c.shape.H}`)],
      names.map((n) => [n, ...d.conv.map((c) => fmtMs(c.timings[n].total.median))]),
    ),
    `\nWeight gradients of the rule and of the prototype agree to ${
      Math.max(...d.conv.map((c) => c.agreement)).toExponential(1)
    } (relative).\n`,
  ];
  return out.join("\n");
}
