/**
 * The run directory's life. It appears whole (built as `<out>.partial-<pid>` holding the first
 * checkpoint, then renamed), so there is never a directory without a loadable checkpoint in
 * it. While the run has not finished it holds an `INCOMPLETE` file saying how to continue.
 * Every file in it is written atomically (temp file + rename): a reader, or a crash at any
 * moment, sees the previous version of a file or the new one, never half of one.
 *
 * ```
 * <out>/
 *   checkpoint.bin        every --checkpoint-every steps, when a method ends, and at the end
 *   metrics.jsonl         evaluations and worker-failure events so far (with each checkpoint)
 *   INCOMPLETE            while unfinished (running, interrupted, failed); says how to resume
 *   summary.json, *.svg, model-<method>.onnx    when the run ends or stops
 * ```
 */
import { dirname, resolve } from "node:path";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { roundAccuracies } from "../report/round.ts";
import { CHECKPOINT_FILE, type LogRow, type RunStatus } from "./checkpoint.ts";

export const INCOMPLETE_FILE = "INCOMPLETE";

/**
 * Refuses an output path that exists, or that cannot be created (a file where a directory
 * must be, a place the user may not write), before any work starts.
 */
export async function assertFreshOutDir(outDir: string): Promise<void> {
  if (await exists(outDir)) {
    const isRun = await exists(`${outDir}/${CHECKPOINT_FILE}`);
    throw new UserError(
      `--out: ${outDir} already exists; choose another directory` +
        (isRun ? ` (or continue that run with --resume ${outDir})` : ""),
    );
  }
  // The nearest existing ancestor must be a directory we can create entries in.
  let parent = resolve(dirname(resolve(outDir)));
  while (!(await exists(parent)) && dirname(parent) !== parent) parent = dirname(parent);
  const info = await Deno.stat(parent).catch(() => null);
  if (info && !info.isDirectory) {
    throw new UserError(`--out: cannot create ${outDir}: ${parent} is a file, not a directory`);
  }
  try {
    await Deno.remove(await Deno.makeTempDir({ dir: parent, prefix: ".fwdgrad-probe-" }));
  } catch (e) {
    const why = e instanceof Error ? e.message.replace(/\s*\(os error \d+\).*$/, "") : String(e);
    throw new UserError(`--out: cannot create ${outDir} (in ${parent}: ${why})`);
  }
}

/** Creates `outDir` holding the first checkpoint and the INCOMPLETE marker, atomically. */
export async function createRunDir(outDir: string, checkpoint: Uint8Array): Promise<void> {
  await assertFreshOutDir(outDir);
  await Deno.mkdir(dirname(outDir), { recursive: true });
  const tmp = `${outDir}.partial-${Deno.pid}`;
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await writeFileAtomic(`${tmp}/${CHECKPOINT_FILE}`, checkpoint);
    await writeIncomplete(tmp, outDir, "running");
    await Deno.rename(tmp, outDir);
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}

/** The INCOMPLETE marker: why the run is unfinished and the command that continues it. */
export async function writeIncomplete(
  dir: string,
  runDir: string,
  status: RunStatus,
  detail = "",
): Promise<void> {
  const why: Record<RunStatus, string> = {
    running: "is running (or its process ended without stopping cleanly)",
    interrupted: "was interrupted",
    failed: "stopped because a worker kept failing",
    diverged: "diverged",
    complete: "is complete",
  };
  await writeFileAtomic(
    `${dir}/${INCOMPLETE_FILE}`,
    `This run ${why[status]}${detail ? ` (${detail})` : ""}; it has not finished.\n` +
      `Every file here is valid; ${CHECKPOINT_FILE} holds the state to continue from:\n\n` +
      `  deno task train --resume ${runDir}\n`,
  );
}

export async function removeIncomplete(dir: string): Promise<void> {
  await Deno.remove(`${dir}/${INCOMPLETE_FILE}`).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
}

/** metrics.jsonl: one JSON object per line, evaluations and events in order. */
export async function writeMetricsLog(dir: string, rows: readonly LogRow[]): Promise<void> {
  await writeFileAtomic(
    `${dir}/metrics.jsonl`,
    rows.map((r) => JSON.stringify(r, roundAccuracies)).join("\n") + (rows.length > 0 ? "\n" : ""),
  );
}

export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
