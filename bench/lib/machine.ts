/** A description of the machine and software a result was measured on. */
import * as ort from "onnxruntime-web";

export interface MachineInfo {
  cpuModel: string;
  /** Logical cores the OS reports (navigator.hardwareConcurrency). */
  cores: number;
  memoryGiB: number | null;
  os: string;
  deno: string;
  v8: string;
  typescript: string;
  onnxruntimeWeb: string;
  /** Commit of the working tree, with "+dirty" when it had uncommitted changes. */
  commit: string | null;
}

async function readText(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return null;
  }
}

async function gitCommit(): Promise<string | null> {
  try {
    const git = (args: string[]) =>
      new Deno.Command("git", { args, stdout: "piped", stderr: "null" }).output();
    const head = await git(["rev-parse", "--short=12", "HEAD"]);
    if (!head.success) return null;
    const status = await git(["status", "--porcelain", "--untracked-files=no"]);
    const dirty = new TextDecoder().decode(status.stdout).trim().length > 0;
    return new TextDecoder().decode(head.stdout).trim() + (dirty ? "+dirty" : "");
  } catch {
    return null;
  }
}

export async function machineInfo(): Promise<MachineInfo> {
  const cpuinfo = await readText("/proc/cpuinfo");
  const meminfo = await readText("/proc/meminfo");
  const cpuModel = cpuinfo?.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? Deno.build.arch;
  const memKb = meminfo?.match(/^MemTotal:\s*(\d+) kB/m)?.[1];
  return {
    cpuModel,
    cores: navigator.hardwareConcurrency,
    memoryGiB: memKb ? Math.round(Number(memKb) / 1024 / 1024 * 10) / 10 : null,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    onnxruntimeWeb: ort.env.versions.web ?? "unknown",
    commit: await gitCommit(),
  };
}

/** 1-, 5- and 15-minute load averages: other processes competing for the cores. */
export async function loadAverage(): Promise<number[] | null> {
  const text = await readText("/proc/loadavg");
  return text ? text.trim().split(/\s+/).slice(0, 3).map(Number) : null;
}

/** One line for the top of a results table. */
export function describeMachine(m: MachineInfo): string {
  const mem = m.memoryGiB === null ? "" : `, ${m.memoryGiB} GiB`;
  return `${m.cpuModel}, ${m.cores} cores${mem}; Deno ${m.deno} (V8 ${m.v8}), ` +
    `onnxruntime-web ${m.onnxruntimeWeb} (WASM, 1 thread per worker)`;
}

/** CPU time of the whole machine and of this process (with waited-for children), in ticks. */
export interface CpuSnapshot {
  busy: number;
  self: number;
  wallMs: number;
}

/** Clock ticks per second of /proc/stat and /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const HZ = 100;

export async function cpuSnapshot(): Promise<CpuSnapshot | null> {
  const stat = await readText("/proc/stat");
  const self = await readText("/proc/self/stat");
  if (!stat || !self) return null;
  const cpu = stat.split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: everything but idle and iowait is busy.
  const busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + (cpu[7] ?? 0);
  // Fields after the ")" of the command name: utime is field 14, stime 15, cutime 16, cstime 17.
  const rest = self.slice(self.lastIndexOf(")") + 2).split(" ").map(Number);
  const mine = rest[11] + rest[12] + rest[13] + rest[14];
  return { busy, self: mine, wallMs: performance.now() };
}

/** Cores' worth of CPU that other processes used between two snapshots. */
export function otherCores(a: CpuSnapshot | null, b: CpuSnapshot | null): number | null {
  if (!a || !b || b.wallMs <= a.wallMs) return null;
  const seconds = (b.wallMs - a.wallMs) / 1000;
  return Math.max(0, (b.busy - a.busy) - (b.self - a.self)) / HZ / seconds;
}

/**
 * Waits until other processes use less than `threshold` cores over a `windowSeconds` window,
 * for at most `maxSeconds`. Returns the last measured figure.
 */
export async function waitForQuiet(
  { threshold = 0.3, windowSeconds = 5, maxSeconds = 180 } = {},
  log: (m: string) => void = () => {},
): Promise<number | null> {
  const deadline = performance.now() + maxSeconds * 1000;
  let other: number | null = null;
  let told = false;
  do {
    const a = await cpuSnapshot();
    await new Promise((r) => setTimeout(r, windowSeconds * 1000));
    other = otherCores(a, await cpuSnapshot());
    if (other === null || other < threshold) return other;
    if (!told) {
      log(`   waiting for a quieter machine (other processes use ${other.toFixed(1)} cores)...`);
    }
    told = true;
  } while (performance.now() < deadline);
  log(
    `   still busy after ${maxSeconds} s (other processes use ${
      other.toFixed(1)
    } cores); measuring anyway`,
  );
  return other;
}
