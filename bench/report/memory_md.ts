import type { MemoryData } from "../experiments/memory.ts";
import type { ResultFile } from "../lib/output.ts";
import { fmtMs } from "../lib/stats.ts";
import { img, provenance, table } from "./common.ts";

const MiB = 2 ** 20;

export function renderMemory(r: ResultFile<MemoryData>): string {
  const d = r.data;
  const out: string[] = [`## 6. Memory with depth\n`, provenance(r)];
  out.push(
    `MLPs with 2 … 32 hidden layers of width ${d.width}, batch ${d.batch} (one activation tensor is ` +
      `${
        (d.activationBytes / MiB).toFixed(1)
      } MiB, so stored activations would show), each point a fresh ` +
      `process taking 3 steps. Peak RSS of the whole process (${d.points[0]?.peakSource ?? ""}); ` +
      `"during steps" is VmHWM reset after setup. forward-gradient-interleaved is the same JVP graph ` +
      `with each tangent node moved next to the primal node it needs (bench/lib/reorder.ts).\n`,
  );
  const kinds = [...new Set(d.points.map((p) => p.kind))];
  const depths = [...new Set(d.points.map((p) => p.depth))];
  out.push(table(
    [
      "depth",
      "parameters",
      ...kinds.map((k) => `${k} peak MiB (during steps)`),
      ...kinds.map((k) => `${k} ms/step`),
    ],
    depths.map((depth) => {
      const at = (k: string) => d.points.find((p) => p.depth === depth && p.kind === k)!;
      return [
        depth,
        at(kinds[0]).parameters.toLocaleString("en-US"),
        ...kinds.map((k) =>
          `${(at(k).peakRss / MiB).toFixed(0)} (${(at(k).peakDuringSteps / MiB).toFixed(0)})`
        ),
        ...kinds.map((k) => fmtMs(at(k).stepMs)),
      ];
    }),
  ));
  out.push(
    `\nGrowth of the peak per added layer (least squares): ${
      kinds.map((k) => `${k} ${(d.bytesPerLayer[k] / MiB).toFixed(2)} MiB`).join(", ")
    } — against ${(d.activationBytes / MiB).toFixed(1)} MiB per activation tensor and ` +
      `${((d.width * d.width + d.width) * 4 / MiB).toFixed(2)} MiB of parameters per layer.\n`,
  );
  out.push(`\n${img("memory_depth.svg", "peak memory vs depth")}\n`);
  return out.join("\n") + "\n";
}
