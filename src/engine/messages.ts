/**
 * Messages that cross the worker boundary, parsed on arrival (no unchecked casts there).
 * Every worker-side shape is declared here once, as a zod schema; its TypeScript type is the
 * schema's `z.infer`, so the engines, the worker API and the coordinator share one definition.
 *
 * @module
 */
import { z } from "zod";
import { LayoutSchema } from "../model/params.ts";

/**
 * Typed arrays over any buffer: z.instanceof would type them over an ArrayBuffer only, and
 * parameters, gradients and estimates live in SharedArrayBuffers.
 */
const f32 = z.custom<Float32Array>(
  (v) => v instanceof Float32Array,
  "Input not instance of Float32Array",
);
const bytes = z.custom<Uint8Array>(
  (v) => v instanceof Uint8Array,
  "Input not instance of Uint8Array",
);
const int = z.int().nonnegative();

/** The tangent distributions (random/tangents.ts TangentDist); the config's option too. */
export const TangentDistSchema = z.enum(["normal", "rademacher"]);

const i32 = z.custom<Int32Array>(
  (v) => v instanceof Int32Array,
  "Input not instance of Int32Array",
);
const SplitSchema = z.object({ x: f32, y: i32, count: int });

/** Evaluation data and graph, given to the one worker that evaluates. */
export const EvalSetupSchema = z.object({
  evaluation: bytes,
  splits: z.record(z.string(), SplitSchema),
});
export type EvalSetup = z.infer<typeof EvalSetupSchema>;

/** What every engine needs besides its graph: the shared parameters and the data's shape. */
const EngineSetupSchema = z.object({
  layout: LayoutSchema,
  /** The coordinator's shared parameter vector. */
  params: f32,
  featureShape: z.array(int),
  classes: int,
});
export type EngineSetup = z.infer<typeof EngineSetupSchema>;

/** A forward-gradient engine's setup (forward_engine.ts). */
export const ForwardSetupSchema = EngineSetupSchema.extend({
  /** The JVP graph: outputs loss and loss__tangent [K]. */
  jvp: bytes,
  K: z.int().positive(),
  seed: int,
  /** Worker index in the tangent stream key (0 for every worker in shared-tangent mode). */
  stream: int,
  dist: TangentDistSchema,
  /** Shared-tangent mode: the coordinator's gradient vector, which `rebuild` writes slices of. */
  rebuildInto: f32.optional(),
  /** Mean of the K forward gradients (default) or projection onto their span. */
  combine: z.enum(["mean", "projection"]).optional(),
  /** Rank of the weight tangents (src/ad/low_rank.ts); dense when absent. */
  lowRank: z.int().positive().optional(),
});
export type ForwardSetup = z.infer<typeof ForwardSetupSchema>;

/** A backprop engine's setup (backprop_engine.ts). */
export const BackpropSetupSchema = EngineSetupSchema.extend({
  /** The VJP graph: outputs loss and w__grad per parameter. */
  vjp: bytes,
});
export type BackpropSetup = z.infer<typeof BackpropSetupSchema>;

/** A worker's init: its engine's setup, plus the evaluation setup for the one that evaluates. */
const withEval = { eval: EvalSetupSchema.optional() };
export const ForwardInitSchema = ForwardSetupSchema.extend(withEval);
export type ForwardInit = z.infer<typeof ForwardInitSchema>;
export const BackpropInitSchema = BackpropSetupSchema.extend(withEval);
export type BackpropInit = z.infer<typeof BackpropInitSchema>;

/** An activity-perturbation engine's setup (activity_engine.ts). */
export const ActivitySetupSchema = EngineSetupSchema.extend({
  /** The activity graph: outputs loss and w__grad (the estimate) per parameter. */
  graph: bytes,
  /** Its perturbed values: tangent input and one example's dims, in sampling order. */
  sites: z.array(z.object({ input: z.string(), dims: z.array(int) })),
  K: z.int().positive(),
  seed: int,
  stream: int,
  dist: TangentDistSchema,
});
export type ActivitySetup = z.infer<typeof ActivitySetupSchema>;
export const ActivityInitSchema = ActivitySetupSchema.extend(withEval);
export type ActivityInit = z.infer<typeof ActivityInitSchema>;
/** What every worker's init holds. */
export type EngineInit = EngineSetup & { eval?: EvalSetup };

export const ShardSchema = z.object({
  step: int,
  x: f32,
  labels: f32,
  count: int,
  wantEstimate: z.boolean(),
});
export type Shard = z.infer<typeof ShardSchema>;

/**
 * Shared-tangent mode: rebuild elements [start, end) of scale·Σ_k c_k v_k for `step`: the
 * batch's scalars with scale 1/K (the mean, the default), or projection coefficients with 1.
 */
export const RebuildSchema = z.object({
  step: int,
  sums: f32,
  start: int,
  end: int,
  scale: z.number().optional(),
});
export type Rebuild = z.infer<typeof RebuildSchema>;

/**
 * A loss as a worker computed it, NaN and ±Infinity included: a non-finite loss is a result
 * (the coordinator's divergence check rejects the step), not a malformed message.
 */
const loss = z.custom<number>((v) => typeof v === "number", "expected a number");

export const ForwardResultSchema = z.object({
  loss,
  /** ∇f·v_k for k < K. */
  scalars: f32,
  /**
   * (1/K) Σ_k (∇f·v_k) v_k over the flat parameter vector (independent mode). It is the
   * engine's own buffer, shared memory reused every step (a message shares it, no copy): read
   * it before the engine's next step.
   */
  estimate: f32.optional(),
  /** Projection: the K×K Gram matrix VᵀV of this worker's tangents (row-major). */
  gram: z.custom<Float64Array>((v) => v instanceof Float64Array).optional(),
  /** Milliseconds spent sampling tangents, in the JVP run, forming the estimate. */
  timings: z.object({ sample: z.number(), jvp: z.number(), estimate: z.number() }),
});
export type ForwardResult = z.infer<typeof ForwardResultSchema>;

export const ActivityResultSchema = z.object({
  loss,
  /** The shard's gradient estimate (the engine's shared buffer: read before its next step). */
  gradient: f32,
  timings: z.object({ sample: z.number(), run: z.number() }),
});
export type ActivityResult = z.infer<typeof ActivityResultSchema>;

export const BackpropResultSchema = z.object({ loss, gradient: f32, ms: z.number() });
export type BackpropResult = z.infer<typeof BackpropResultSchema>;

export const EvaluationSchema = z.object({
  loss,
  accuracy: z.number(),
  misclassified: int,
});
/** Loss, accuracy and misclassified count of a model on a split. */
export type Evaluation = z.infer<typeof EvaluationSchema>;
