/** Shared pieces of the Markdown reports. */
import { formatMarkdownTable } from "../../src/report/table.ts";
import { describeMachine } from "../lib/machine.ts";
import type { ResultFile } from "../lib/output.ts";

export { formatMarkdownTable as table };

/** "ran `command` on DATE in N s; machine; other load" line under each section title. */
export function provenance(r: ResultFile): string {
  const other = r.load.otherCores === null || r.load.otherCores === undefined
    ? ""
    : `; other processes kept ${r.load.otherCores.toFixed(2)} cores busy on average meanwhile`;
  return `_Measured by \`${r.command}\` on ${
    r.date.slice(0, 16).replace("T", " ")
  } UTC in ${r.seconds} s` +
    `${r.quick ? " (quick mode: reduced sizes)" : ""}; ${describeMachine(r.machine)}, commit ` +
    `${
      r.machine.commit ?? "unknown"
    }${other}. Raw numbers: [results/${r.experiment}.json](results/${r.experiment}.json)._\n`;
}

export function img(file: string, alt: string): string {
  return `![${alt}](results/${file})`;
}

export function pct(v: number): string {
  return Number.isFinite(v) ? `${(100 * v).toFixed(1)}%` : "—";
}

export function times(v: number | undefined): string {
  return v !== undefined && Number.isFinite(v) ? `${v.toFixed(2)}×` : "—";
}

export function mflop(v: number): string {
  return (v / 1e6).toFixed(v >= 1e8 ? 0 : 2);
}

/** GFLOP/s achieved: flops / ms. */
export function gflops(flops: number, ms: number): string {
  return ms > 0 ? (flops / ms / 1e6).toFixed(1) : "—";
}

export function yesNo(ok: boolean): string {
  return ok ? "**met**" : "**missed**";
}
