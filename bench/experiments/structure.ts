/**
 * Experiment `structure`: what a forward-gradient step costs with dense, rank-1 and rank-4
 * weight tangents and with activity perturbation, against a backprop step and the plain
 * forward pass, measured side by side in one thread (interleaved rounds, median ms), on every
 * image model at batch 64, K = 1. T_f/T_b is the forward-gradient step over the backprop step;
 * R = step / forward pass. The estimate is formed in every forward step (independent mode).
 */
import { activitySites, activityTransform } from "../../src/ad/activity.ts";
import { jvpTransform } from "../../src/ad/jvp.ts";
import { vjpTransform } from "../../src/ad/vjp.ts";
import { ActivityEngine } from "../../src/engine/activity_engine.ts";
import { ForwardEngine } from "../../src/engine/forward_engine.ts";
import { buildObjective, lossOutputOnly } from "../../src/model/objective.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import type { ModelName } from "../../src/onnx/models/registry.ts";
import { fixture } from "../lib/fixtures.ts";
import { backpropEngine, backpropStep, ForwardPass, forwardStep } from "../lib/kit.ts";
import { begin, type BenchContext, type ResultFile, writeResult } from "../lib/output.ts";
import { interleaved } from "../lib/timing.ts";

export const NAME = "structure";
export const TITLE = "Step cost with structured tangents and activity perturbation";

export interface StructureRow {
  model: string;
  parameters: number;
  /** Median ms per case. */
  ms: Record<string, number>;
  /** Each forward-gradient case over backprop (T_f/T_b) and over the forward pass (R). */
  overBackprop: Record<string, number>;
  overForward: Record<string, number>;
}

export async function run(ctx: BenchContext): Promise<ResultFile<{ rows: StructureRow[] }>> {
  const started = await begin();
  const models: ModelName[] = ctx.quick ? ["cnn"] : ["mlp", "cnn", "paper-mlp", "paper-cnn"];
  const rows: StructureRow[] = [];
  for (const name of models) {
    const f = await fixture(name);
    const o = buildObjective(f.model, {
      parameters: f.wrt,
      seed: 0,
      source: name,
      perExample: true,
    });
    const fn = lossOutputOnly(o.model);
    const pass = await ForwardPass.create(f);
    const bp = await backpropEngine(f, encodeModel(vjpTransform(fn, { wrt: f.wrt })));
    const fw = (lowRank?: number) =>
      ForwardEngine.create({
        jvp: encodeModel(jvpTransform(fn, { wrt: f.wrt, tangents: 1, lowRank })),
        layout: f.layout,
        params: f.params,
        K: 1,
        seed: 1,
        stream: 0,
        dist: "normal",
        featureShape: f.featureShape,
        classes: f.classes,
        lowRank,
      });
    const [dense, rank1, rank4] = [await fw(), await fw(1), await fw(4)];
    const options = { ...o, tangents: 1 };
    const activity = await ActivityEngine.create({
      graph: encodeModel(activityTransform(o.model, options)),
      sites: activitySites(o.model, options).map(({ input, dims }) => ({ input, dims })),
      layout: f.layout,
      params: f.params,
      K: 1,
      seed: 1,
      stream: 0,
      dist: "normal",
      featureShape: f.featureShape,
      classes: f.classes,
    });
    let step = 0;
    const batch = { ...f.batch, step: 0, wantEstimate: true };
    const timing = await interleaved([
      { name: "forward pass", run: async () => void (await pass.run()) },
      { name: "backprop", run: () => backpropStep(bp, f) },
      { name: "FG-W dense", run: () => forwardStep(dense, f, step++) },
      { name: "FG-W rank-1", run: () => forwardStep(rank1, f, step++) },
      { name: "FG-W rank-4", run: () => forwardStep(rank4, f, step++) },
      { name: "FG-A", run: async () => void (await activity.step({ ...batch, step: step++ })) },
    ], {
      warmup: 3,
      reps: ctx.quick ? 5 : name.startsWith("paper") ? 15 : 40,
    });
    const ms = Object.fromEntries(Object.entries(timing).map(([k, v]) => [k, v.total.median]));
    const fg = ["FG-W dense", "FG-W rank-1", "FG-W rank-4", "FG-A"];
    rows.push({
      model: name,
      parameters: f.layout.total,
      ms,
      overBackprop: Object.fromEntries(fg.map((k) => [k, ms[k] / ms.backprop])),
      overForward: Object.fromEntries(
        [...fg, "backprop"].map((k) => [k, ms[k] / ms["forward pass"]]),
      ),
    });
    ctx.log(
      `   ${name}: ` + Object.entries(ms).map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join(", "),
    );
    for (const e of [pass, bp, dense, rank1, rank4, activity]) await e.release();
  }
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: { batch: 64, K: 1, threads: 1, statistic: "median of interleaved rounds" },
    data: { rows },
    plots: [],
  });
}
