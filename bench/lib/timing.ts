/**
 * Side-by-side timing: every case runs once per round, rounds repeat, and the order of the
 * cases rotates from round to round, so slow drifts of the machine (other processes, thermal
 * state) hit every case alike. Each case may also report named parts of its own time (for
 * example sampling / JVP / estimate); those are collected per round too.
 */
import { summarize, type Summary } from "./stats.ts";

export interface TimedCase {
  name: string;
  /** One repetition. May return named sub-timings in milliseconds. */
  run: () => Promise<Record<string, number> | void> | Record<string, number> | void;
}

export interface CaseTiming {
  total: Summary;
  parts: Record<string, Summary>;
}

export interface InterleaveOptions {
  /** Untimed rounds first (JIT, WASM heap growth, first-run allocations). */
  warmup: number;
  reps: number;
  /** Called after each timed round (progress output). */
  onRound?: (round: number) => void;
}

export async function interleaved(
  cases: readonly TimedCase[],
  { warmup, reps, onRound }: InterleaveOptions,
): Promise<Record<string, CaseTiming>> {
  const totals = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  const parts = new Map<string, Map<string, number[]>>(cases.map((c) => [c.name, new Map()]));
  for (let round = 0; round < warmup + reps; round++) {
    const shift = round % cases.length;
    const order = [...cases.slice(shift), ...cases.slice(0, shift)];
    for (const c of order) {
      const t0 = performance.now();
      const sub = await c.run();
      const ms = performance.now() - t0;
      if (round < warmup) continue;
      totals.get(c.name)!.push(ms);
      for (const [k, v] of Object.entries(sub ?? {})) {
        const list = parts.get(c.name)!.get(k) ?? [];
        list.push(v);
        parts.get(c.name)!.set(k, list);
      }
    }
    if (round >= warmup) onRound?.(round - warmup + 1);
  }
  const out: Record<string, CaseTiming> = {};
  for (const c of cases) {
    const p: Record<string, Summary> = {};
    for (const [k, v] of parts.get(c.name)!) p[k] = summarize(v);
    out[c.name] = { total: summarize(totals.get(c.name)!), parts: p };
  }
  return out;
}
