import type { WorkerData } from "../experiments/workers.ts";
import type { ResultFile } from "../lib/output.ts";
import { fmtMs } from "../lib/stats.ts";
import { img, provenance, table, times } from "./common.ts";

export function renderWorkers(r: ResultFile<WorkerData>): string {
  const out: string[] = [`## 4. Workers\n`, provenance(r)];
  out.push(
    `The real coordinator and workers (\`runMethod\`), batch 64 split over W workers, T tangents per ` +
      `step in all. shared: every worker evaluates the same T tangents on its shard and sends T ` +
      `scalars, the coordinator regenerates the tangents. independent: each worker evaluates its own ` +
      `T/W tangents on its shard and sends its estimate vector — so at W = 2 each tangent covers 32 ` +
      `examples and costs about half as much; "independent, fixed work" keeps T tangents per worker ` +
      `instead (the same arithmetic as W = 1). Machine: ${r.data.cores} cores. Step times are medians ` +
      `over the measured steps of every run (warm-up steps and evaluations excluded).\n`,
  );
  for (const m of r.data.models) {
    out.push(`\n### ${m.model} (n = ${m.parameters.toLocaleString("en-US")}), T = ${m.T}\n`);
    out.push(table(
      [
        "mode",
        "W",
        "K per worker",
        "tangents/step",
        "examples per tangent",
        "ms/step",
        "tangents/s",
        "tangent·examples/s",
        "speedup (tangents/s)",
      ],
      m.points.map((p) => [
        p.series,
        p.W,
        p.K,
        p.tangentsPerStep,
        p.examplesPerTangent,
        fmtMs(p.stepMs.median),
        p.tangentsPerSecond.toFixed(1),
        p.tangentExamplesPerSecond.toFixed(0),
        times(p.speedup),
      ]),
    ));
  }
  out.push(`\n${img("workers.svg", "tangents per second vs workers")}\n`);
  return out.join("\n") + "\n";
}
