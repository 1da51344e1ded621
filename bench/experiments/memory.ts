/**
 * Experiment 6, memory with depth: peak resident memory of a forward-gradient step (K = 1)
 * and a backprop step, plus a plain forward pass for reference, for MLPs of depth 2 … 32 at
 * one width, each point in a fresh process (memory_child.ts). The whole process's peak comes
 * from /usr/bin/time -v when it is installed (else the child's VmHWM); the child also reports
 * the peak during its steps alone (VmHWM reset after setup) and its RSS after setup.
 */
import { begin, type BenchContext, type ResultFile, writeResult, writeSvg } from "../lib/output.ts";
import { renderPlot, type Row } from "../lib/plot.ts";
import { mean, median } from "../lib/stats.ts";

export const NAME = "memory";
export const TITLE = "Peak memory with depth: forward-gradient step vs backprop step";

const KINDS = ["forward", "forward-gradient", "forward-gradient-interleaved", "backprop"] as const;
const WIDTH = 256;
const BATCH = 1024;

export interface MemoryPoint {
  depth: number;
  kind: string;
  parameters: number;
  /** Whole-process peak RSS in bytes (median over repeats). */
  peakRss: number;
  peakSource: "/usr/bin/time -v" | "VmHWM";
  /** Peak RSS during the steps only, and RSS after building the session. */
  peakDuringSteps: number;
  rssAfterSetup: number;
  stepMs: number;
  repeats: number;
}

export interface MemoryData {
  width: number;
  batch: number;
  /** Bytes of one activation tensor [batch, width] in float32. */
  activationBytes: number;
  points: MemoryPoint[];
  /** Least-squares growth of the peak with depth, bytes per layer, per kind. */
  bytesPerLayer: Record<string, number>;
}

interface ChildOut {
  parameters: number;
  rssAfterSetup: number;
  peakDuringSteps: number;
  vmHWM: number;
  stepMs: number;
}

async function hasTime(): Promise<boolean> {
  try {
    return (await Deno.stat("/usr/bin/time")).isFile;
  } catch {
    return false;
  }
}

async function child(
  depth: number,
  kind: string,
  useTime: boolean,
): Promise<ChildOut & { peak: number }> {
  const script = new URL("./memory_child.ts", import.meta.url).pathname;
  const args = ["run", "-A", script, String(depth), String(WIDTH), String(BATCH), kind];
  const cmd = useTime
    ? new Deno.Command("/usr/bin/time", {
      args: ["-v", Deno.execPath(), ...args],
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "piped" });
  const out = await cmd.output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  if (!out.success || !line) {
    throw new Error(`memory child ${depth} ${kind} failed:\n${stderr.slice(-2000)}`);
  }
  const parsed = JSON.parse(line) as ChildOut;
  const kb = stderr.match(/Maximum resident set size \(kbytes\): (\d+)/)?.[1];
  return { ...parsed, peak: useTime && kb ? Number(kb) * 1024 : parsed.vmHWM };
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

export async function run(ctx: BenchContext): Promise<ResultFile<MemoryData>> {
  const started = await begin();
  const useTime = await hasTime();
  const depths = ctx.quick ? [2, 8, 32] : [2, 4, 8, 16, 32];
  const repeats = ctx.quick ? 1 : 2;
  const points: MemoryPoint[] = [];
  for (const depth of depths) {
    for (const kind of KINDS) {
      const runs = [];
      for (let r = 0; r < repeats; r++) runs.push(await child(depth, kind, useTime));
      const p: MemoryPoint = {
        depth,
        kind,
        parameters: runs[0].parameters,
        peakRss: median(runs.map((r) => r.peak)),
        peakSource: useTime ? "/usr/bin/time -v" : "VmHWM",
        peakDuringSteps: median(runs.map((r) => r.peakDuringSteps)),
        rssAfterSetup: median(runs.map((r) => r.rssAfterSetup)),
        stepMs: median(runs.map((r) => r.stepMs)),
        repeats,
      };
      points.push(p);
      ctx.log(
        `  depth ${depth} ${kind}: peak ${(p.peakRss / 2 ** 20).toFixed(0)} MiB (steps ${
          (p.peakDuringSteps / 2 ** 20).toFixed(0)
        } MiB, after setup ${(p.rssAfterSetup / 2 ** 20).toFixed(0)} MiB)`,
      );
    }
  }
  const bytesPerLayer = Object.fromEntries(
    KINDS.map((k) => {
      const mine = points.filter((p) => p.kind === k);
      return [k, slope(mine.map((p) => p.depth), mine.map((p) => p.peakRss))];
    }),
  );
  const rows: Row[] = points.map((p) => ({
    depth: p.depth,
    mib: p.peakRss / 2 ** 20,
    series: p.kind,
  }));
  const plots = [
    await writeSvg(
      ctx,
      "memory_depth.svg",
      await renderPlot({
        title: `Peak RSS per process vs MLP depth (width ${WIDTH}, batch ${BATCH})`,
        rows,
        x: { field: "depth", title: "hidden layers", log: true, base: 2 },
        y: { field: "mib", title: "peak resident memory (MiB)" },
        series: "series",
      }),
    ),
  ];
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      depths,
      width: WIDTH,
      batch: BATCH,
      input: `${WIDTH} features (synthetic), 10 classes`,
      K: 1,
      steps: 3,
      repeats,
      peak: useTime
        ? "/usr/bin/time -v Maximum resident set size"
        : "child's /proc/self/status VmHWM",
      kinds: {
        "forward": "plain forward pass (session.run of model + loss)",
        "forward-gradient": "ForwardEngine.step with the generated JVP graph",
        "forward-gradient-interleaved":
          "the same JVP graph with each tangent node moved right after the primal node it needs (bench/lib/reorder.ts)",
        "backprop": "BackpropEngine.step with the generated VJP graph",
      },
    },
    data: { width: WIDTH, batch: BATCH, activationBytes: WIDTH * BATCH * 4, points, bytesPerLayer },
    plots,
  });
}
