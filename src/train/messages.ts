import { z } from "zod";

/** Messages that cross the worker boundary, parsed on arrival (DESIGN: no unchecked casts). */
const f32 = z.instanceof(Float32Array);
const bytes = z.instanceof(Uint8Array);
const int = z.int().nonnegative();

export const LayoutSchema = z.object({
  names: z.array(z.string()),
  dims: z.array(z.array(int)),
  offsets: z.array(int),
  sizes: z.array(int),
  total: int,
});

const SplitSchema = z.object({ x: f32, y: z.instanceof(Int32Array), count: int });

/** Evaluation data and graph, given to the one worker that evaluates. */
export const EvalSetupSchema = z.object({
  evaluation: bytes,
  splits: z.record(z.string(), SplitSchema),
});

const common = {
  layout: LayoutSchema,
  params: f32,
  featureShape: z.array(int),
  classes: int,
  eval: EvalSetupSchema.optional(),
};

export const ForwardInitSchema = z.object({
  ...common,
  jvp: bytes,
  K: z.int().positive(),
  seed: int,
  stream: int,
  dist: z.enum(["normal", "rademacher"]),
  /** Shared-tangent mode: the coordinator's gradient vector, which `rebuild` writes slices of. */
  rebuildInto: f32.optional(),
});
export type ForwardInit = z.infer<typeof ForwardInitSchema>;

export const BackpropInitSchema = z.object({ ...common, vjp: bytes });
export type BackpropInit = z.infer<typeof BackpropInitSchema>;

export const ShardSchema = z.object({
  step: int,
  x: f32,
  labels: f32,
  count: int,
  wantEstimate: z.boolean(),
});
export type Shard = z.infer<typeof ShardSchema>;

/** Shared-tangent mode: rebuild elements [start, end) of (1/K) Σ_k s_k v_k for `step`. */
export const RebuildSchema = z.object({ step: int, sums: f32, start: int, end: int });

/**
 * A loss as a worker computed it, NaN and ±Infinity included: a non-finite loss is a result
 * (the coordinator's divergence check rejects the step), not a malformed message.
 */
const loss = z.custom<number>((v) => typeof v === "number", "expected a number");

export const ForwardResultSchema = z.object({
  loss,
  scalars: f32,
  estimate: f32.optional(),
  timings: z.object({ sample: z.number(), jvp: z.number(), estimate: z.number() }),
});

export const BackpropResultSchema = z.object({ loss, gradient: f32, ms: z.number() });

export const EvaluationSchema = z.object({
  loss,
  accuracy: z.number(),
  misclassified: int,
});
