/**
 * Training progress for people watching a run. On a terminal, one status line per method is
 * redrawn in place (both methods stay visible while they race); in a log file or CI, where
 * escape codes are garbage and a line per step is noise, plain lines are written only every
 * few seconds and at evaluations.
 */
// A type only: the report takes training's updates by shape and loads nothing of src/train.
import type { ProgressUpdate } from "../train/summary.ts";

export type { ProgressUpdate };

/** Anything with a synchronous byte writer: `Deno.stdout`, `Deno.stderr`, or a test double. */
export interface ProgressStream {
  writeSync(bytes: Uint8Array): number;
  isTerminal?(): boolean;
}

export interface ProgressOptions {
  methods: string[];
  totalSteps?: number;
  /** Defaults to `Deno.stdout`. */
  stream?: ProgressStream;
  /** Overrides `stream.isTerminal()` (tests, or forcing plain output). */
  isTerminal?: boolean;
  /** Seconds between plain lines for one method when not on a terminal (default 10). */
  logIntervalSeconds?: number;
  /** Terminal width; status lines are cut to fit so the cursor-up arithmetic stays right. */
  columns?: number;
  /** Clock in seconds (injectable for tests). */
  now?: () => number;
}

export interface Progress {
  update(method: string, update: ProgressUpdate): void;
  /** Prints a line above the live status lines (or plainly when not on a terminal). */
  log(line: string): void;
  /** Draws the final state; later calls to update are ignored. */
  done(): void;
}

/** Redraws on a terminal are capped at this rate; updates can arrive thousands per second. */
const REDRAW_SECONDS = 0.1;

export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? Deno.stdout;
  const tty = options.isTerminal ?? stream.isTerminal?.() ?? false;
  const now = options.now ?? (() => performance.now() / 1000);
  const interval = options.logIntervalSeconds ?? 10;
  const columns = options.columns ?? (tty ? terminalColumns() : Infinity);
  const methods = [...options.methods];
  const nameWidth = Math.max(0, ...methods.map((m) => m.length));
  const latest = new Map<string, ProgressUpdate>();
  const lastLogged = new Map<string, { at: number; update: ProgressUpdate }>();
  const lastAccuracy = new Map<string, number | undefined>();
  const encoder = new TextEncoder();
  const start = now();
  let drawnLines = 0;
  let lastDraw = -Infinity;
  let finished = false;

  const write = (text: string) => {
    const bytes = encoder.encode(text);
    let offset = 0;
    while (offset < bytes.length) offset += stream.writeSync(bytes.subarray(offset));
  };

  const statusLine = (method: string): string => {
    const u = latest.get(method);
    const name = method.padEnd(nameWidth);
    return u === undefined ? `${name}  waiting…` : `${name}  ${describe(u, options.totalSteps)}`;
  };

  // Moves the cursor back to the first status line and erases everything below it.
  const eraseStatus = () => {
    if (drawnLines > 0) write(`\x1b[${drawnLines}A\r\x1b[J`);
    drawnLines = 0;
  };

  const drawStatus = () => {
    const limit = Number.isFinite(columns) ? Math.max(10, columns - 1) : Infinity;
    const lines = methods.map((m) => truncate(statusLine(m), limit));
    eraseStatus();
    write(lines.map((l) => `\x1b[2K${l}\n`).join(""));
    drawnLines = lines.length;
    lastDraw = now();
  };

  const logPlain = (method: string, u: ProgressUpdate) => {
    write(`[${formatDuration(now() - start)}] ${statusLine(method)}\n`);
    lastLogged.set(method, { at: now(), update: u });
  };

  return {
    update(method, u) {
      if (finished) return;
      if (!methods.includes(method)) {
        throw new Error(`progress: unknown method "${method}" (expected ${methods.join(", ")})`);
      }
      const evaluated = u.evaluated ??
        (u.testAccuracy !== undefined && u.testAccuracy !== lastAccuracy.get(method));
      lastAccuracy.set(method, u.testAccuracy);
      latest.set(method, u);
      if (tty) {
        if (evaluated || now() - lastDraw >= REDRAW_SECONDS) drawStatus();
        return;
      }
      const previous = lastLogged.get(method);
      if (previous === undefined || evaluated || now() - previous.at >= interval) {
        logPlain(method, u);
      }
    },
    log(line) {
      if (!tty) {
        write(line + "\n");
        return;
      }
      const hadStatus = drawnLines > 0;
      eraseStatus();
      write(line + "\n");
      if (hadStatus) drawStatus();
    },
    done() {
      if (finished) return;
      finished = true;
      if (tty) {
        if (latest.size > 0) drawStatus();
        return;
      }
      // The last state of each method, unless it was already the last line logged for it.
      for (const method of methods) {
        const u = latest.get(method);
        if (u !== undefined && lastLogged.get(method)?.update !== u) logPlain(method, u);
      }
    },
  };
}

function describe(u: ProgressUpdate, totalSteps: number | undefined): string {
  const parts: string[] = [];
  if (totalSteps !== undefined && totalSteps > 0) {
    const pct = Math.floor((100 * u.step) / totalSteps);
    parts.push(`step ${u.step}/${totalSteps} (${pct}%)`);
  } else {
    parts.push(`step ${u.step}`);
  }
  parts.push(`epoch ${u.epoch}`);
  parts.push(`loss ${formatLoss(u.loss)}`);
  if (u.testAccuracy !== undefined) parts.push(`acc ${(100 * u.testAccuracy).toFixed(2)}%`);
  parts.push(`${formatRate(u.stepsPerSecond)} steps/s`);
  const eta = u.etaSeconds ??
    (totalSteps !== undefined && u.stepsPerSecond > 0
      ? Math.max(0, totalSteps - u.step) / u.stepsPerSecond
      : undefined);
  if (eta !== undefined && Number.isFinite(eta)) parts.push(`ETA ${formatDuration(eta)}`);
  return parts.join("  ");
}

function formatLoss(loss: number): string {
  if (!Number.isFinite(loss)) return String(loss);
  return Math.abs(loss) >= 1e4 || (loss !== 0 && Math.abs(loss) < 1e-3)
    ? loss.toExponential(3)
    : loss.toFixed(4);
}

function formatRate(rate: number): string {
  return rate >= 100 ? rate.toFixed(0) : rate.toFixed(1);
}

/** 7s, 3m05s, 1h02m: compact enough for a status line, precise enough to plan around. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function truncate(line: string, limit: number): string {
  const chars = [...line];
  return chars.length <= limit ? line : chars.slice(0, limit - 1).join("") + "…";
}

function terminalColumns(): number {
  try {
    // A pseudo-terminal without a size set reports 0 columns: treat as unknown.
    const { columns } = Deno.consoleSize();
    return columns > 0 ? columns : Infinity;
  } catch {
    // No console attached (or not a terminal): do not cut lines.
    return Infinity;
  }
}
