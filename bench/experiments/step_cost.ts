/**
 * Experiment 1, step cost: at K = 1 and batch 64, the time of a plain forward pass T_F, of a
 * forward-gradient step T_f (sample the tangent, run the JVP graph, form the estimate) and of
 * a backprop step T_b (run the VJP graph, copy the gradient out), measured side by side; the
 * ratios R_f = T_f/T_F, R_b = T_b/T_F and T_f/T_b; the FLOPs of the three graphs counted from
 * the graphs; for paper-mlp the hand-written yardstick graphs and a profile of where the
 * time goes (session overhead, copies, sampling, the rule graph).
 */
import { jvpTransform } from "../../src/ad/jvp.ts";
import { vjpTransform } from "../../src/ad/vjp.ts";
import { emptyGraph, GraphBuilder } from "../../src/onnx/builder.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import type { ModelName } from "../../src/onnx/models/registry.ts";
import { Session } from "../../src/onnx/session.ts";
import type { Model, Tensor } from "../../src/onnx/types.ts";
import { lossOnly } from "../../src/model/graphs.ts";
import { paramViews } from "../../src/model/params.ts";
import { relativeError } from "../lib/check.ts";
import { batchFeeds, type Fixture, fixture, inputShapes } from "../lib/fixtures.ts";
import { countFlops, type FlopCount } from "../lib/flops.ts";
import { type ConvProbe, probeConv } from "../lib/conv_probe.ts";
import { handForward, handJvp, handVjp } from "../lib/hand_mlp.ts";
import {
  backpropEngine,
  backpropStep,
  forwardEngine,
  forwardModel,
  ForwardPass,
  forwardStep,
  vjpFeeds,
} from "../lib/kit.ts";
import { begin, type BenchContext, type ResultFile, writeResult } from "../lib/output.ts";
import { type CaseTiming, interleaved, type TimedCase } from "../lib/timing.ts";

export const NAME = "step_cost";
export const TITLE = "Step cost at K = 1 (T_F, T_f, T_b, FLOPs)";

/** Baydin et al. (2022), arXiv:2202.08587, runtime-cost table, as quoted in REFERENCES.md. */
export const PAPER = {
  source: "Baydin et al. 2022 (arXiv:2202.08587), runtime table, via shared/REFERENCES.md",
  figures: {
    "logreg": null,
    "mlp": null,
    "cnn": null,
    "paper-mlp": { Rf: 2.47, Rb: 4.17 },
    "paper-cnn": null,
  } as Record<ModelName, { Rf: number; Rb: number } | null>,
  note: "The paper's R_f/R_b for its logistic regression and CNN are not available here (not in " +
    "REFERENCES.md and not found with the search tool); only its MLP figures are quoted.",
};

const MODELS: ModelName[] = ["logreg", "mlp", "cnn", "paper-mlp", "paper-cnn"];

export interface Ratios {
  Rf: number;
  Rb: number;
  fOverB: number;
}

export interface ModelCost {
  model: ModelName;
  dataset: string;
  parameters: number;
  batch: number;
  flops: { forward: FlopCount; jvp: FlopCount; vjp: FlopCount };
  /** forward, forwardGradient (normal tangents), forwardGradientRademacher, backprop. */
  timings: Record<string, CaseTiming>;
  ratios: Ratios;
  ratiosRademacher: Ratios;
}

export interface HandYardstick {
  check: { loss: number; lossTangent: number; gradient: number; tolerance: number; ok: boolean };
  flops: { forward: FlopCount; jvp: FlopCount; vjp: FlopCount };
  /** The hand-written graphs in the same engines: forward, forwardGradient, backprop. */
  timings: Record<string, CaseTiming>;
  ratios: Ratios;
}

export interface Profile {
  /** Median ms of each piece. */
  sessionOverheadMs: number;
  forwardFedMs: number;
  forwardBakedMs: number;
  /** Parameter bytes fed per run (MB): what forwardFed − forwardBaked pays for. */
  parameterMB: number;
  generated: {
    sampleMs: number;
    jvpRunMs: number;
    estimateMs: number;
    vjpRunMs: number;
    backpropStepMs: number;
  };
  hand: { jvpRunMs: number; vjpRunMs: number };
  /** (K = 4 − K = 1) / 3: the cost of one more tangent, full step and JVP run alone. */
  perExtraTangent: {
    generatedStepMs: number;
    generatedJvpRunMs: number;
    handStepMs: number;
    handJvpRunMs: number;
  };
}

export interface StepCostData {
  models: ModelCost[];
  hand: HandYardstick | null;
  profile: Profile | null;
  /** paper-cnn's conv layers in isolation (28×28 and 14×14, 64 → 64 channels, batch 64). */
  conv: ConvProbe[];
  paper: typeof PAPER;
}

function ratios(t: Record<string, CaseTiming>, f: string, b: string, F: string): Ratios {
  const m = (k: string) => t[k].total.median;
  return { Rf: m(f) / m(F), Rb: m(b) / m(F), fOverB: m(f) / m(b) };
}

function reps(ctx: BenchContext, model: ModelName): { warmup: number; reps: number } {
  const full: Record<ModelName, number> = {
    "logreg": 40,
    "mlp": 40,
    "cnn": 30,
    "paper-mlp": 20,
    "paper-cnn": 5,
  };
  const quick: Record<ModelName, number> = {
    "logreg": 10,
    "mlp": 10,
    "cnn": 8,
    "paper-mlp": 8,
    "paper-cnn": 2,
  };
  return { warmup: model === "paper-cnn" ? 1 : 3, reps: (ctx.quick ? quick : full)[model] };
}

function flopsOf(f: Fixture, forward: Model, jvp: Model, vjp: Model) {
  const shapes = inputShapes(f);
  return {
    forward: countFlops(forward, shapes, f.wrt[0]),
    jvp: countFlops(jvp, shapes, f.wrt[0]),
    vjp: countFlops(vjp, shapes, f.wrt[0]),
  };
}

/** Extra cases timed in the same interleaved run as a model's four main ones. */
interface Extra {
  cases: TimedCase[];
  finish(t: Record<string, CaseTiming>): void;
  release(): Promise<void>;
}

async function measureModel(
  ctx: BenchContext,
  name: ModelName,
  extra?: (f: Fixture, gen: { jvp: Uint8Array; vjp: Uint8Array }) => Promise<Extra>,
) {
  const f = await fixture(name);
  const fn = lossOnly(f.model);
  const jvpM = jvpTransform(fn, { wrt: f.wrt, tangents: 1 });
  const vjpM = vjpTransform(fn, { wrt: f.wrt });
  const flops = flopsOf(f, forwardModel(f), jvpM, vjpM);
  const jvp = encodeModel(jvpM);
  const vjp = encodeModel(vjpM);
  const more = extra ? await extra(f, { jvp, vjp }) : null;
  const pass = await ForwardPass.create(f);
  const fwd = await forwardEngine(f, jvp, 1, "normal");
  const fwdR = await forwardEngine(f, jvp, 1, "rademacher");
  const back = await backpropEngine(f, vjp);
  let step = 0;
  try {
    const cases: TimedCase[] = [
      { name: "forward", run: async () => void (await pass.run()) },
      { name: "forwardGradient", run: () => forwardStep(fwd, f, step++) },
      { name: "forwardGradientRademacher", run: () => forwardStep(fwdR, f, step++) },
      { name: "backprop", run: () => backpropStep(back, f) },
      ...(more?.cases ?? []),
    ];
    const all = await interleaved(cases, reps(ctx, name));
    more?.finish(all);
    const timings = Object.fromEntries(
      ["forward", "forwardGradient", "forwardGradientRademacher", "backprop"].map((
        k,
      ) => [k, all[k]]),
    );
    const cost: ModelCost = {
      model: name,
      dataset: f.dataset.name,
      parameters: f.layout.total,
      batch: f.batch.count,
      flops,
      timings,
      ratios: ratios(timings, "forwardGradient", "backprop", "forward"),
      ratiosRademacher: ratios(timings, "forwardGradientRademacher", "backprop", "forward"),
    };
    ctx.log(
      `  ${name}: T_F ${timings.forward.total.median.toFixed(2)} ms, T_f ${
        timings.forwardGradient.total.median.toFixed(2)
      } ms, T_b ${timings.backprop.total.median.toFixed(2)} ms; R_f ${
        cost.ratios.Rf.toFixed(2)
      }, R_b ${cost.ratios.Rb.toFixed(2)}`,
    );
    return cost;
  } finally {
    for (const r of [pass, fwd, fwdR, back]) await r.release();
    await more?.release();
  }
}

/** Same numbers from the hand-written and the generated graphs, before anything is timed. */
async function checkHand(
  f: Fixture,
  gen: { jvp: Uint8Array; vjp: Uint8Array; jvp4: Uint8Array },
  hand: { jvp: Uint8Array; vjp: Uint8Array; forward: Uint8Array; jvp4: Uint8Array },
) {
  const tolerance = 1e-4;
  const tangentFeeds = (K: number) => {
    const tangents: Record<string, Tensor> = {};
    f.layout.names.forEach((n, i) => {
      const data = new Float32Array(K * f.layout.sizes[i]);
      for (let j = 0; j < data.length; j++) data[j] = Math.sin(j * 12.9898 + i);
      tangents[`${n}__tangent`] = { dtype: "float32", dims: [K, ...f.layout.dims[i]], data };
    });
    return tangents;
  };
  const tangents = tangentFeeds(1);
  const feeds = { ...paramViews(f.params, f.layout), ...batchFeeds(f) };
  const run = async (bytes: Uint8Array, extra: Record<string, Tensor>) => {
    const s = await Session.create(bytes);
    try {
      return await s.run({ ...feeds, ...extra });
    } finally {
      await s.release();
    }
  };
  const cot = vjpFeeds(f);
  const [gJ, hJ, gV, hV, hF] = [
    await run(gen.jvp, tangents),
    await run(hand.jvp, tangents),
    await run(gen.vjp, { loss__cotangent: cot.loss__cotangent }),
    await run(hand.vjp, { loss__cotangent: cot.loss__cotangent }),
    await run(hand.forward, {}),
  ];
  const num = (t: Tensor) => t.data as Float32Array;
  const loss = Math.max(
    relativeError(num(gJ.loss), num(hF.loss)),
    relativeError(num(gV.loss), num(hV.loss)),
  );
  const [gJ4, hJ4] = [await run(gen.jvp4, tangentFeeds(4)), await run(hand.jvp4, tangentFeeds(4))];
  const lossTangent = Math.max(
    relativeError(num(gJ.loss__tangent), num(hJ.loss__tangent)),
    relativeError(num(gJ4.loss__tangent), num(hJ4.loss__tangent)),
  );
  const gradient = Math.max(
    ...f.wrt.map((w) => relativeError(num(gV[`${w}__grad`]), num(hV[`${w}__grad`]))),
  );
  return {
    loss,
    lossTangent,
    gradient,
    tolerance,
    ok: Math.max(loss, lossTangent, gradient) <= tolerance,
  };
}

/** A one-node graph: what a session.run costs with (almost) nothing to compute. */
function tinyModel(): Model {
  const g = emptyGraph("tiny");
  const b = new GraphBuilder(g);
  g.inputs.push({ name: "a", dtype: "float32", shape: [1] });
  b.node("Neg", ["a"], {}, { outputs: ["b"] });
  g.outputs.push({ name: "b", dtype: "float32", shape: [1] });
  return { irVersion: 8, opsets: { "": 18 }, producerName: "fwdgrad-bench", graph: g };
}

/**
 * The hand-written graphs and the profile cases, timed in the same interleaved run as
 * paper-mlp's main cases ("forward", "forwardGradient", "backprop"), so every ratio between
 * them comes from one run.
 */
async function yardstick(
  ctx: BenchContext,
  f: Fixture,
  gen: { jvp: Uint8Array; vjp: Uint8Array },
  done: (r: { hand: HandYardstick; profile: Profile }) => void,
): Promise<Extra> {
  const fn = lossOnly(f.model);
  const genJvp = gen.jvp;
  const genJvp4 = encodeModel(jvpTransform(fn, { wrt: f.wrt, tangents: 4 }));
  const genVjp = gen.vjp;
  const handM = { forward: handForward(f.model), jvp: handJvp(f.model, 1), vjp: handVjp(f.model) };
  const hand = {
    forward: encodeModel(handM.forward),
    jvp: encodeModel(handM.jvp),
    vjp: encodeModel(handM.vjp),
    jvp4: encodeModel(handJvp(f.model, 4)),
  };
  const check = await checkHand(f, { jvp: genJvp, vjp: genVjp, jvp4: genJvp4 }, hand);
  ctx.log(
    `  hand-written vs generated: max relative error ${
      Math.max(check.loss, check.lossTangent, check.gradient).toExponential(1)
    } (${check.ok ? "ok" : "MISMATCH"})`,
  );
  if (!check.ok) {
    throw new Error("hand-written graphs disagree with the generated ones; not timing them");
  }

  const passHand = await ForwardPass.create(f, handM.forward);
  const passBaked = await Session.create(encodeModel(fn), "forward, parameters baked in");
  const tiny = await Session.create(encodeModel(tinyModel()), "tiny");
  const fH = await forwardEngine(f, hand.jvp, 1);
  const fG4 = await forwardEngine(f, genJvp4, 4);
  const fH4 = await forwardEngine(f, hand.jvp4, 4);
  const bH = await backpropEngine(f, hand.vjp);
  const vjpG = await Session.create(genVjp);
  const vjpH = await Session.create(hand.vjp);
  const tinyFeed = { a: { dtype: "float32" as const, dims: [1], data: Float32Array.of(1) } };
  let step = 1_000_000; // tangent streams apart from the main cases'
  const cases: TimedCase[] = [
    { name: "hand forward", run: async () => void (await passHand.run()) },
    { name: "hand forwardGradient", run: () => forwardStep(fH, f, step++) },
    { name: "hand backprop", run: () => backpropStep(bH, f) },
    { name: "forwardGradient K=4", run: () => forwardStep(fG4, f, step++) },
    { name: "hand forwardGradient K=4", run: () => forwardStep(fH4, f, step++) },
    { name: "forward baked", run: async () => void (await passBaked.run(batchFeeds(f))) },
    { name: "session overhead", run: async () => void (await tiny.run(tinyFeed)) },
    { name: "vjp run", run: async () => void (await vjpG.run(vjpFeeds(f))) },
    { name: "hand vjp run", run: async () => void (await vjpH.run(vjpFeeds(f))) },
  ];
  const finish = (t: Record<string, CaseTiming>) => {
    const m = (k: string) => t[k].total.median;
    const part = (k: string, p: string) => t[k].parts[p].median;
    const handTimings = {
      forward: t["hand forward"],
      forwardGradient: t["hand forwardGradient"],
      backprop: t["hand backprop"],
    };
    const yard: HandYardstick = {
      check,
      flops: flopsOf(f, handM.forward, handM.jvp, handM.vjp),
      timings: handTimings,
      ratios: ratios(handTimings, "forwardGradient", "backprop", "forward"),
    };
    const profile: Profile = {
      sessionOverheadMs: m("session overhead"),
      forwardFedMs: m("forward"),
      forwardBakedMs: m("forward baked"),
      parameterMB: (f.layout.total * 4) / 1e6,
      generated: {
        sampleMs: part("forwardGradient", "sample"),
        jvpRunMs: part("forwardGradient", "jvp"),
        estimateMs: part("forwardGradient", "estimate"),
        vjpRunMs: m("vjp run"),
        backpropStepMs: m("backprop"),
      },
      hand: { jvpRunMs: part("hand forwardGradient", "jvp"), vjpRunMs: m("hand vjp run") },
      perExtraTangent: {
        generatedStepMs: (m("forwardGradient K=4") - m("forwardGradient")) / 3,
        generatedJvpRunMs: (part("forwardGradient K=4", "jvp") - part("forwardGradient", "jvp")) /
          3,
        handStepMs: (m("hand forwardGradient K=4") - m("hand forwardGradient")) / 3,
        handJvpRunMs:
          (part("hand forwardGradient K=4", "jvp") - part("hand forwardGradient", "jvp")) / 3,
      },
    };
    ctx.log(
      `  yardstick: hand R_f ${yard.ratios.Rf.toFixed(2)}, R_b ${
        yard.ratios.Rb.toFixed(2)
      }, T_f/T_b ${yard.ratios.fOverB.toFixed(2)}`,
    );
    done({ hand: yard, profile });
  };
  const release = async () => {
    for (const r of [passHand, passBaked, tiny, fH, fG4, fH4, bH, vjpG, vjpH]) await r.release();
  };
  return { cases, finish, release };
}

export async function run(ctx: BenchContext): Promise<ResultFile<StepCostData>> {
  const started = await begin();
  const models: ModelCost[] = [];
  let hand: HandYardstick | null = null;
  let profile: Profile | null = null;
  for (const name of MODELS) {
    const extra = name === "paper-mlp"
      ? (f: Fixture, gen: { jvp: Uint8Array; vjp: Uint8Array }) =>
        yardstick(ctx, f, gen, (r) => {
          hand = r.hand;
          profile = r.profile;
        })
      : undefined;
    models.push(await measureModel(ctx, name, extra));
  }
  const conv: ConvProbe[] = [];
  for (const H of [28, 14]) {
    const probe = await probeConv({ N: 64, C: 64, O: 64, H }, ctx.quick ? 2 : 6);
    conv.push(probe);
    ctx.log(
      `  conv 64→64 ${H}×${H}: ` +
        Object.entries(probe.timings).map(([k, t]) => `${k} ${t.total.median.toFixed(1)} ms`).join(
          ", ",
        ),
    );
  }
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      models: MODELS,
      batch: 64,
      K: 1,
      tangentDist: "normal (and rademacher as a second column)",
      repetitions: Object.fromEntries(MODELS.map((m) => [m, reps(ctx, m)])),
      definitions: {
        T_F:
          "session.run of the model+loss graph, parameters fed as inputs (as both steps feed them)",
        T_f: "ForwardEngine.step: sample tangent + JVP session.run + estimate (1/K)Σ s_k v_k",
        T_b: "BackpropEngine.step: VJP session.run + copy of the gradient into the flat vector",
      },
    },
    data: { models, hand, profile, conv, paper: PAPER },
    plots: [],
  });
}
