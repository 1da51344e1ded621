/** Where results go and what every result file holds. */
import { writeFileAtomic, writeJsonAtomic } from "../../src/fs/atomic.ts";
import {
  type CpuSnapshot,
  cpuSnapshot,
  loadAverage,
  type MachineInfo,
  machineInfo,
  otherCores,
} from "./machine.ts";

/** What an experiment gets from the runner. */
export interface BenchContext {
  quick: boolean;
  /** Directory of the result files (bench/results, or bench/quick for --quick). */
  outDir: string;
  /** The exact command line that started this run. */
  command: string;
  log: (message: string) => void;
}

export interface ResultFile<D = unknown> {
  experiment: string;
  title: string;
  command: string;
  /** ISO date and time the experiment started. */
  date: string;
  quick: boolean;
  seconds: number;
  machine: MachineInfo;
  /**
   * Other work on the machine: load averages (1, 5, 15 min) at start and end, and the mean
   * number of cores that other processes kept busy while the experiment ran.
   */
  load: { start: number[] | null; end: number[] | null; otherCores: number | null };
  settings: Record<string, unknown>;
  data: D;
  /** SVG files written next to the JSON (names relative to outDir). */
  plots: string[];
}

export interface Started {
  date: string;
  t0: number;
  load: number[] | null;
  cpu: CpuSnapshot | null;
}

/** Starts the clock and records the load before an experiment. */
export async function begin(): Promise<Started> {
  return {
    date: new Date().toISOString(),
    t0: performance.now(),
    load: await loadAverage(),
    cpu: await cpuSnapshot(),
  };
}

export async function writeResult<D>(
  ctx: BenchContext,
  started: Started,
  body: Pick<ResultFile<D>, "experiment" | "title" | "settings" | "data" | "plots">,
): Promise<ResultFile<D>> {
  const file: ResultFile<D> = {
    experiment: body.experiment,
    title: body.title,
    command: ctx.command,
    date: started.date,
    quick: ctx.quick,
    seconds: Math.round((performance.now() - started.t0) / 100) / 10,
    machine: await machineInfo(),
    load: {
      start: started.load,
      end: await loadAverage(),
      otherCores: otherCores(started.cpu, await cpuSnapshot()),
    },
    settings: body.settings,
    data: body.data,
    plots: body.plots,
  };
  await Deno.mkdir(ctx.outDir, { recursive: true });
  await writeJsonAtomic(`${ctx.outDir}/${body.experiment}.json`, file);
  return file;
}

export async function writeSvg(ctx: BenchContext, name: string, svg: string): Promise<string> {
  await Deno.mkdir(ctx.outDir, { recursive: true });
  await writeFileAtomic(`${ctx.outDir}/${name}`, svg);
  return name;
}

/** Every result file in `dir`, by experiment name. */
export async function readResults(dir: string): Promise<Map<string, ResultFile>> {
  const out = new Map<string, ResultFile>();
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return out;
  }
  for (
    const e of entries.filter((e) => e.isFile && e.name.endsWith(".json")).sort((a, b) =>
      a.name.localeCompare(b.name)
    )
  ) {
    const parsed: unknown = JSON.parse(await Deno.readTextFile(`${dir}/${e.name}`));
    if (isResultFile(parsed)) out.set(parsed.experiment, parsed);
  }
  return out;
}

function isResultFile(v: unknown): v is ResultFile {
  if (typeof v !== "object" || v === null) return false;
  const r = v as Record<string, unknown>;
  return typeof r.experiment === "string" && typeof r.command === "string" &&
    typeof r.date === "string" && typeof r.data === "object" && r.data !== null;
}
