/** Shared by the reliability tests: fault-injecting worker factories and run comparisons. */
import assert from "node:assert/strict";
import type { Method } from "../src/train/config.ts";
import type { TrainOptions } from "../src/train/run.ts";
import { type SpawnFn, spawnWorker, spawnWorkerAt, type WorkerKind } from "../src/train/spawn.ts";

export interface Fault {
  /** Which kind of worker misbehaves. */
  kind: WorkerKind;
  /** See tests/fixtures/faulty_worker.ts. */
  fault: string;
  /** The step (or evaluation number) it misbehaves at. */
  at?: number;
  /** Which spawns of that kind get the fault (0 = the first made); "all": every one. */
  spawns: number[] | "all";
}

/**
 * A worker factory for MethodRunInput.spawn / TrainOptions.spawn: real workers, except the
 * spawns named in a fault, which run tests/fixtures/faulty_worker.ts. Replacements are later
 * spawns, so a fault on spawn 1 hits worker 1 once and its replacement is healthy.
 */
export function faultySpawn(...faults: Fault[]): SpawnFn & { count: Record<string, number> } {
  const count: Record<string, number> = { forward_worker: 0, backprop_worker: 0 };
  const spawn = <T>(kind: WorkerKind) => {
    const index = count[kind]++;
    const f = faults.find((f) =>
      f.kind === kind && (f.spawns === "all" || f.spawns.includes(index))
    );
    if (!f) return spawnWorker<T>(kind);
    const url = new URL("./fixtures/faulty_worker.ts", import.meta.url);
    url.searchParams.set("kind", kind === "forward_worker" ? "forward" : "backprop");
    url.searchParams.set("fault", f.fault);
    url.searchParams.set("at", String(f.at ?? -1));
    return spawnWorkerAt<T>(url);
  };
  return Object.assign(spawn, { count });
}

/** Asserts two runs ended with the same parameters, bit for bit (their ONNX files are equal). */
export async function assertSameModels(a: string, b: string, methods: string[]): Promise<void> {
  for (const method of methods) {
    const pa = await Deno.readFile(`${a}/model-${method}.onnx`);
    const pb = await Deno.readFile(`${b}/model-${method}.onnx`);
    assert.ok(pa.length > 0);
    assert.deepEqual(pa, pb, `${method} parameters differ between ${a} and ${b}`);
  }
}

/** metrics.jsonl as objects. */
export async function readLog(dir: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(`${dir}/metrics.jsonl`);
  return text.trim().split("\n").filter((l) => l).map((l) => JSON.parse(l));
}

/** The evaluation rows without their timings (which differ between runs). */
export async function evaluations(dir: string): Promise<Record<string, unknown>[]> {
  return (await readLog(dir)).filter((r) => !("event" in r)).map(({ wallSeconds: _w, ...r }) => r);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs a CLI entry point as users do. */
export async function runCli(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Stops the run (as Ctrl-C does) once `method` has done `step` steps. */
export function stopAt(method: Method, step: number): TrainOptions {
  const controller = new AbortController();
  return {
    signal: controller.signal,
    onProgress: (m, p) => {
      if (m === method && p.step === step) controller.abort();
    },
  };
}
