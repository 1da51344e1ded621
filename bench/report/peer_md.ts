import type { PeerData } from "../experiments/peer.ts";
import type { ResultFile } from "../lib/output.ts";
import { fmtMs } from "../lib/stats.ts";
import { provenance, table, times } from "./common.ts";

export function renderPeer(r: ResultFile<PeerData>): string {
  const out: string[] = [
    `## 2. JavaScript peer: TensorFlow.js ${r.data.tfjs} (WASM backend)\n`,
    provenance(r),
  ];
  out.push(
    "A TF.js user's backprop step: `tf.variableGrads(loss)` and every gradient read back " +
      "(`dataSync`), WASM backend with one thread, the same weights and batch of 64 as fwdgrad " +
      "(checked: same loss and gradients before timing). Timed interleaved with fwdgrad's steps (ms, medians).\n",
  );
  const rows = r.data.models.map((m) => {
    const t = (k: string) => m.timings[k]?.total.median;
    return [
      m.model,
      m.wasmBackpropError ? `cannot: ${m.wasmBackpropError}` : fmtMs(t("tfjs backprop")),
      fmtMs(t("tfjs forward")),
      fmtMs(t("backprop")),
      fmtMs(t("forwardGradient")),
      times(m.speedups.backprop),
      times(m.speedups.forwardGradient),
      m.speedups["hand backprop"]
        ? `${times(m.speedups["hand backprop"])} / ${times(m.speedups["hand forwardGradient"])}`
        : "—",
      m.check.gradient === null
        ? `loss ${m.check.loss.toExponential(1)}`
        : `loss ${m.check.loss.toExponential(1)}, grad ${m.check.gradient.toExponential(1)}`,
    ];
  });
  out.push(table(
    [
      "model",
      "TF.js backprop step",
      "TF.js forward",
      "fwdgrad backprop",
      "fwdgrad forward gradient",
      "TF.js / fwdgrad backprop",
      "TF.js / fwdgrad forward gradient",
      "TF.js / hand-written (backprop / fwd grad)",
      "agreement (rel. error)",
    ],
    rows,
  ));
  for (const m of r.data.models.filter((m) => m.cpuBackend)) {
    const c = m.cpuBackend!;
    out.push(
      `\n${m.model}: TF.js's WASM backend has no kernel for the convolution's filter gradient, so a ` +
        `TF.js user would have to fall back to the pure-JavaScript "cpu" backend: ${
          c.finished ? `one step took ${fmtMs(c.stepMs)} ms.` : `${c.note}.`
        }\n`,
    );
  }
  return out.join("\n") + "\n";
}
