import type { TangentData } from "../experiments/tangents.ts";
import type { ResultFile } from "../lib/output.ts";
import { fmt, fmtMs } from "../lib/stats.ts";
import { img, provenance, table } from "./common.ts";

export function renderTangents(r: ResultFile<TangentData>): string {
  const out: string[] = [`## 3. Tangent count K\n`, provenance(r)];
  out.push(
    "At the initial parameters and a fixed batch of 64, each draw is one forward-gradient step " +
      "with fresh tangents; the cosine is taken against the batch gradient from the VJP graph. " +
      "Theory (Baydin et al.; REFERENCES.md): sqrt(K/(n+K+1)) for normal tangents — a large-K " +
      "approximation; at K = 1 the exact mean is ≈ sqrt(2/(πn)). Step = worker step + the " +
      "coordinator's combine, one worker, in-process. independent: the worker forms the estimate; " +
      "shared: the coordinator regenerates the tangents from the seed.\n",
  );
  for (const m of r.data.models) {
    out.push(
      `\n### ${m.model} on ${m.dataset}, n = ${m.parameters.toLocaleString("en-US")} parameters\n`,
    );
    out.push(table(
      [
        "K",
        "draws",
        "cos normal (± s.e.)",
        "cos Rademacher",
        "theory",
        "normal/theory",
        "ms/step independent",
        "ms/step shared",
        "tangents/s independent",
        "tangents/s shared",
        "modes agree (rel. diff)",
      ],
      m.points.map((p) => [
        p.K,
        p.draws,
        `${p.cosine.normal.mean.toFixed(4)} ± ${p.cosine.normal.stderr.toFixed(4)}`,
        p.cosine.rademacher.mean.toFixed(4),
        p.theory.toFixed(4),
        fmt(p.cosine.normal.mean / p.theory),
        fmtMs(p.time["normal independent"].step.median),
        fmtMs(p.time["normal shared"].step.median),
        p.tangentsPerSecond["normal independent"].toFixed(0),
        p.tangentsPerSecond["normal shared"].toFixed(0),
        p.modeAgreement.toExponential(1),
      ]),
    ));
    const k1 = m.points.find((p) => p.K === 1);
    if (k1) {
      out.push(
        `\nAt K = 1 the exact expectation sqrt(2/(πn)) = ${
          Math.sqrt(2 / (Math.PI * m.parameters)).toFixed(4)
        } ` +
          `(measured ${
            k1.cosine.normal.mean.toFixed(4)
          }). Cost of one more tangent (least-squares slope): ` +
          `${fmtMs(m.msPerTangent["normal independent"])} ms independent, ${
            fmtMs(m.msPerTangent["normal shared"])
          } ms shared.\n`,
      );
    }
    out.push(`\n${img(`tangents_cosine_${m.model}.svg`, `cosine vs K, ${m.model}`)}\n`);
  }
  out.push(`\n${img("tangents_time.svg", "step time vs K")}\n`);
  return out.join("\n") + "\n";
}
