/**
 * `deno task train --resume DIR [flags]`: continue the run in DIR with its saved
 * configuration. Repeating the run's own command line with `--resume DIR` added works; a flag
 * that would change the run's result (learning rate, steps, workers, seed, ...) is refused with
 * one line naming it, because the resumed run could no longer match the uninterrupted one.
 * Settings that only change how the run survives trouble (`--checkpoint-every`,
 * `--max-retries`, `--step-timeout`) and `--json` may change.
 *
 * How a flag's effect is found: the checkpoint keeps the run's original flags. Resolving them
 * alone and then with the new flags appended (the last value of a flag wins) shows which
 * settings the new flags change; a change to anything but the operational settings is an
 * error unless it lands on the value the run already has.
 */
import { resolve as resolvePath } from "node:path";
import { parseArgs } from "node:util";
import { UserError } from "../errors.ts";
import { readCheckpoint, type RunCheckpoint } from "../train/checkpoint.ts";
import type { TrainConfig } from "../train/config.ts";
import { OPERATIONAL_KEYS, type ResumeOptions } from "../train/run.ts";

export interface ResumePlan {
  dir: string;
  checkpoint: RunCheckpoint;
  overrides: NonNullable<ResumeOptions["overrides"]>;
  /** The configuration the run continues with (saved one plus overrides). */
  config: TrainConfig;
}

type Resolve = (argv: string[]) => TrainConfig | { help: string };

/** The argv without `--resume DIR`, and DIR (undefined when the flag is absent). */
export function splitResume(argv: string[]): { dir?: string; rest: string[] } {
  const { tokens } = parseArgs({
    args: argv,
    options: { resume: { type: "string" } },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  let dir: string | undefined;
  const drop = new Set<number>();
  for (const t of tokens) {
    if (t.kind !== "option" || t.name !== "resume") continue;
    dir = t.value;
    drop.add(t.index);
    if (!t.inlineValue) drop.add(t.index + 1);
  }
  return { dir, rest: argv.filter((_, i) => !drop.has(i)) };
}

/** Reads DIR's checkpoint and checks the command's other flags against the saved run. */
export async function planResume(
  dir: string,
  argv: string[],
  resolve: Resolve,
): Promise<ResumePlan> {
  const checkpoint = await readCheckpoint(dir, "--resume");
  const given = splitResume(argv).rest;
  const asked = config(resolve(given));
  if (asked.out !== undefined && resolvePath(asked.out) !== resolvePath(dir)) {
    throw new UserError(
      `--out: a resumed run continues in its own directory (${dir}); drop --out ${asked.out}`,
    );
  }
  const saved = checkpoint.config;
  let before: TrainConfig;
  let after: TrainConfig;
  try {
    before = config(resolve(checkpoint.argv ?? []));
    after = config(resolve([...(checkpoint.argv ?? []), ...given]));
  } catch (e) {
    if (!(e instanceof UserError)) throw e;
    // The run's own flags no longer resolve (another fwdgrad version); compare to defaults.
    before = config(resolve([]));
    after = asked;
  }
  const operational = new Set<string>(OPERATIONAL_KEYS);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]) as Set<keyof TrainConfig>;
  for (const key of keys) {
    if (operational.has(key)) continue;
    if (same(after[key], before[key]) || same(after[key], saved[key])) continue;
    throw new UserError(
      `--resume: ${flagName(key)} ${show(after[key])} differs from the run in ${dir} ` +
        `(${show(saved[key])}); a resumed run keeps its configuration: drop the flag, or ` +
        `start a new run`,
    );
  }
  const overrides: ResumePlan["overrides"] = { json: asked.json };
  if (asked.checkpointEvery !== undefined) overrides.checkpointEvery = asked.checkpointEvery;
  if (asked.maxRetries !== undefined) overrides.maxRetries = asked.maxRetries;
  if (asked.stepTimeout !== undefined) overrides.stepTimeout = asked.stepTimeout;
  return { dir, checkpoint, overrides, config: { ...saved, ...overrides, out: dir } };
}

function config(c: TrainConfig | { help: string }): TrainConfig {
  if ("help" in c) throw new Error("internal: --help reached planResume");
  return c;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function show(v: unknown): string {
  return v === undefined ? "(unset)" : Array.isArray(v) ? v.join(",") : String(v);
}

/** The flag that sets a configuration key (lrForward → --lr-forward). */
function flagName(key: string): string {
  const special: Record<string, string> = {
    trainOnly: "--train",
    lrForward: "--lr/--lr-forward",
    lrBackprop: "--lr/--lr-backprop",
  };
  return special[key] ?? `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
