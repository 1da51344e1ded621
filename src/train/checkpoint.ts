/**
 * Checkpoints: everything needed to continue a run so that it ends bit-identical to the same
 * run done without interruption, in one file (`<run dir>/checkpoint.bin`, container format in
 * checkpoint_format.ts) replaced atomically (temp file + rename).
 *
 * Per method it holds the parameters and the optimizer's buffers (bit for bit), the step, the
 * data-order position (epoch and batch within it), the running-loss window of the stopping
 * rule, the training seconds so far and the metrics and events so far. It stores no generator
 * state: the batch order of an epoch is a pure function of (seed, epoch) and tangent k of a
 * step a pure function of (seed, step, stream, k), so the step number is the generator's
 * position. Methods already finished keep their final parameters and summary.
 *
 * Also stored: the resolved configuration, the command-line flags it came from (so a resume
 * can tell whether new flags change it), and a fingerprint of the dataset and the initial
 * weights (so a resume notices changed data or a changed model file).
 */
import { z } from "zod";
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../fs/atomic.ts";
import { type Method, type TrainConfig, TrainConfigSchema } from "./config.ts";
import { decodeCheckpointFile, encodeCheckpointFile } from "./checkpoint_format.ts";
import type { MetricRow } from "./metrics.ts";
import type { OptimizerState } from "./optimizers.ts";
import type { WorkerFailureEvent } from "./supervised_pool.ts";

export const CHECKPOINT_FILE = "checkpoint.bin";

/**
 * running: in progress (or the process died); interrupted: stopped by a signal; failed: a
 * worker kept failing; diverged: a non-finite loss or gradient; complete: done.
 */
export type RunStatus = "running" | "interrupted" | "failed" | "diverged" | "complete";

/** A line of metrics.jsonl: an evaluation, or an event (it has an `event` field). */
export type LogRow = MetricRow | WorkerFailureEvent;

export function isEvaluation(row: LogRow): row is MetricRow {
  return !("event" in row);
}

/** Per-method summary, as summary.json reports it. */
export interface MethodSummary {
  method: Method;
  status: RunStatus;
  /** Why it stopped early (diverged, failed). */
  error?: string;
  steps: number;
  epochs: number;
  wallSeconds: number;
  stepsPerSecond: number;
  reachedTarget: boolean;
  secondsToTarget: number | null;
  stepsToTarget: number | null;
  /** NaN (null in JSON) where unknown: a run that stopped early has no final train loss. */
  final: { trainLoss: number; testLoss: number; testAccuracy: number; misclassified: number };
  workerFailures: FailureSummary;
}

export interface FailureSummary {
  /** Worker failures survived or not (each logged in metrics.jsonl). */
  count: number;
  byKind: { error: number; crash: number; timeout: number };
  /** Steps that had to be recomputed (or where the run stopped). */
  steps: number[];
}

/** One method's resumable state. */
export interface MethodState {
  method: Method;
  status: RunStatus;
  error?: string;
  /** Steps done; the next step is this index (and the tangent generator's position). */
  step: number;
  /** Data-order position of the next step: epoch and batch within it. */
  epoch: number;
  batch: number;
  trainSeconds: number;
  /** The running-loss window (stopping rule), oldest first. */
  running: number[];
  reachedAt: { step: number; seconds: number } | null;
  /** Evaluations and events so far, in order. */
  log: LogRow[];
  params: Float32Array;
  optimizer: OptimizerState;
  /** Present once the method has finished (complete, diverged or failed for good). */
  summary?: MethodSummary;
}

export interface RunFingerprint {
  parameters: number;
  names: string[];
  /** SHA-256 (hex) of the initial parameters. */
  initialParams: string;
  dataset: { name: string; train: number; test: number; sha256: string };
}

export interface RunCheckpoint {
  status: RunStatus;
  writtenAt: string;
  config: TrainConfig;
  /** The flags the run was started with (null when started through the library API). */
  argv: string[] | null;
  fingerprint: RunFingerprint;
  /** How many times the run has been resumed. */
  resumes: number;
  /** The methods started so far, in run order. */
  methods: MethodState[];
}

const STATUS = z.enum(["running", "interrupted", "failed", "diverged", "complete"]);
const int = z.int().nonnegative();
/** JSON writes NaN and ±Infinity as null; they come back as NaN. */
const num = z.number().nullable().transform((v) => v ?? NaN);

const MetricRowSchema = z.object({
  method: z.enum(["forward", "backprop"]),
  step: int,
  epoch: z.number(),
  wallSeconds: z.number(),
  trainLoss: num,
  testLoss: num,
  testAccuracy: num,
  misclassified: int,
});

const EventSchema = z.object({
  event: z.literal("worker-failure"),
  method: z.enum(["forward", "backprop"]),
  step: int,
  during: z.enum(["init", "step", "evaluate"]),
  worker: int,
  kind: z.enum(["error", "crash", "timeout"]),
  reason: z.string(),
  attempt: z.int().positive(),
  action: z.enum(["restarted", "stopped"]),
});

const SummarySchema = z.object({
  method: z.enum(["forward", "backprop"]),
  status: STATUS,
  error: z.string().optional(),
  steps: int,
  epochs: z.number(),
  wallSeconds: z.number(),
  stepsPerSecond: z.number(),
  reachedTarget: z.boolean(),
  secondsToTarget: z.number().nullable(),
  stepsToTarget: int.nullable(),
  final: z.object({ trainLoss: num, testLoss: num, testAccuracy: num, misclassified: num }),
  workerFailures: z.object({
    count: int,
    byKind: z.object({ error: int, crash: int, timeout: int }),
    steps: z.array(int),
  }),
});

const MethodHeaderSchema = z.object({
  method: z.enum(["forward", "backprop"]),
  status: STATUS,
  error: z.string().optional(),
  step: int,
  epoch: int,
  batch: int,
  trainSeconds: z.number().nonnegative(),
  running: z.array(z.number()),
  reachedAt: z.object({ step: int, seconds: z.number() }).nullable(),
  log: z.array(z.union([EventSchema, MetricRowSchema])),
  /** Optimizer counters; its buffers are blobs named `<method>/optimizer/<key>`. */
  optimizerScalars: z.record(z.string(), z.number()),
  optimizerBuffers: z.array(z.string()),
  summary: SummarySchema.optional(),
});

const HeaderSchema = z.object({
  format: z.literal("fwdgrad-checkpoint"),
  status: STATUS,
  writtenAt: z.string(),
  config: z.unknown(),
  argv: z.array(z.string()).nullable(),
  fingerprint: z.object({
    parameters: int,
    names: z.array(z.string()),
    initialParams: z.string(),
    dataset: z.object({ name: z.string(), train: int, test: int, sha256: z.string() }),
  }),
  resumes: int,
  methods: z.array(MethodHeaderSchema),
});

/** The checkpoint as file bytes. */
export async function encodeCheckpoint(c: RunCheckpoint): Promise<Uint8Array<ArrayBuffer>> {
  const blobs: Record<string, Float32Array> = {};
  const methods = c.methods.map((m) => {
    const { params, optimizer, ...rest } = m;
    blobs[`${m.method}/params`] = params;
    const optimizerScalars: Record<string, number> = {};
    const optimizerBuffers: string[] = [];
    for (const [key, value] of Object.entries(optimizer)) {
      if (typeof value === "number") optimizerScalars[key] = value;
      else {
        optimizerBuffers.push(key);
        blobs[`${m.method}/optimizer/${key}`] = value;
      }
    }
    return { ...rest, optimizerScalars, optimizerBuffers };
  });
  const { methods: _m, ...run } = c;
  return await encodeCheckpointFile({ format: "fwdgrad-checkpoint", ...run, methods }, blobs);
}

/** Decodes and validates checkpoint bytes; problems are one-line UserErrors naming `where`. */
export async function decodeCheckpoint(bytes: Uint8Array, where: string): Promise<RunCheckpoint> {
  const { header, blobs } = await decodeCheckpointFile(bytes, where);
  const parsed = HeaderSchema.safeParse(header);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(
      `${where}: not a usable checkpoint (${issue.path.join(".") || "header"}: ${issue.message})`,
    );
  }
  const h = parsed.data;
  const config = TrainConfigSchema.safeParse(h.config);
  if (!config.success) {
    const issue = config.error.issues[0];
    throw new UserError(
      `${where}: its saved configuration does not fit this version of fwdgrad ` +
        `(${issue.path.join(".")}: ${issue.message})`,
    );
  }
  const blob = (name: string, length?: number) => {
    const data = blobs.get(name);
    if (!data) throw new UserError(`${where}: checkpoint is damaged (no ${name} data)`);
    if (length !== undefined && data.length !== length) {
      throw new UserError(
        `${where}: checkpoint is damaged (${name} has ${data.length} values, expected ${length})`,
      );
    }
    return data;
  };
  const n = h.fingerprint.parameters;
  const methods: MethodState[] = h.methods.map((m) => {
    const { optimizerScalars, optimizerBuffers, ...rest } = m;
    const optimizer: OptimizerState = { ...optimizerScalars };
    for (const key of optimizerBuffers) optimizer[key] = blob(`${m.method}/optimizer/${key}`, n);
    return { ...rest, params: blob(`${m.method}/params`, n), optimizer };
  });
  return {
    status: h.status,
    writtenAt: h.writtenAt,
    config: config.data,
    argv: h.argv,
    fingerprint: h.fingerprint,
    resumes: h.resumes,
    methods,
  };
}

/** Writes `<dir>/checkpoint.bin` atomically: a reader sees the old file or the new one. */
export async function writeCheckpoint(dir: string, c: RunCheckpoint): Promise<void> {
  await writeFileAtomic(`${dir}/${CHECKPOINT_FILE}`, await encodeCheckpoint(c));
}

/**
 * Reads the checkpoint of run directory `dir`. `flag` prefixes every error (the CLI passes
 * "--resume"): a missing directory, a directory without a checkpoint, and a damaged one are
 * each one clear line.
 */
export async function readCheckpoint(dir: string, flag = "checkpoint"): Promise<RunCheckpoint> {
  const info = await Deno.stat(dir).catch(() => undefined);
  if (!info) throw new UserError(`${flag}: ${dir}: no such directory`);
  if (!info.isDirectory) {
    throw new UserError(`${flag}: ${dir} is a file; give the run's directory`);
  }
  const path = `${dir}/${CHECKPOINT_FILE}`;
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new UserError(
        `${flag}: ${dir} has no ${CHECKPOINT_FILE} (not a fwdgrad run directory?)`,
      );
    }
    throw new UserError(`${flag}: ${path}: cannot read (${(e as Error).message})`);
  }
  return await decodeCheckpoint(bytes, `${flag}: ${path}`);
}

/** Stray temp files of checkpoint writes a crash interrupted (writeFileAtomic's naming). */
export async function removeStrayTemps(dir: string): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && /^\..+\.[0-9a-f]{8}\.tmp$/.test(entry.name)) {
      await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
    }
  }
}
