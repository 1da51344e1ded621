/** Sessions and engines for one fixture: the plain forward pass and the two training steps. */
import { encodeModel } from "../../src/onnx/encode.ts";
import { Session } from "../../src/onnx/session.ts";
import type { Model, Tensor } from "../../src/onnx/types.ts";
import { BackpropEngine } from "../../src/engine/backprop_engine.ts";
import { ForwardEngine } from "../../src/engine/forward_engine.ts";
import { lossOnly, parametersAsInputs } from "../../src/model/graphs.ts";
import { paramViews } from "../../src/model/params.ts";
import type { TangentDist } from "../../src/random/tangents.ts";
import { batchFeeds, type Fixture } from "./fixtures.ts";

/** The function both methods differentiate (model + loss), parameters declared as inputs. */
export function forwardModel(f: Fixture): Model {
  return parametersAsInputs(lossOnly(f.model), f.wrt);
}

/** A plain forward pass (loss only) that is fed the parameters, as the training steps are. */
export class ForwardPass {
  private constructor(private readonly f: Fixture, readonly session: Session) {}

  static async create(f: Fixture, model: Model = forwardModel(f)): Promise<ForwardPass> {
    return new ForwardPass(f, await Session.create(encodeModel(model), "forward graph"));
  }

  async run(): Promise<number> {
    const out = await this.session.run({
      ...paramViews(this.f.params, this.f.layout),
      ...batchFeeds(this.f),
    });
    return Number(out.loss.data[0]);
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

export function forwardEngine(
  f: Fixture,
  jvp: Uint8Array,
  K: number,
  dist: TangentDist = "normal",
  params: Float32Array = f.params,
): Promise<ForwardEngine> {
  return ForwardEngine.create({
    jvp,
    layout: f.layout,
    params,
    K,
    seed: 1,
    stream: 0,
    dist,
    featureShape: f.featureShape,
    classes: f.classes,
  });
}

export function backpropEngine(
  f: Fixture,
  vjp: Uint8Array,
  params: Float32Array = f.params,
): Promise<BackpropEngine> {
  return BackpropEngine.create({
    vjp,
    layout: f.layout,
    params,
    featureShape: f.featureShape,
    classes: f.classes,
  });
}

/** One forward-gradient step (sample, JVP, estimate); returns its parts in ms. */
export async function forwardStep(
  e: ForwardEngine,
  f: Fixture,
  step: number,
): Promise<Record<string, number>> {
  const r = await e.step({ step, ...f.batch, wantEstimate: true });
  return { sample: r.timings.sample, jvp: r.timings.jvp, estimate: r.timings.estimate };
}

export async function backpropStep(e: BackpropEngine, f: Fixture): Promise<void> {
  await e.step(f.batch);
}

/** Feeds for a raw VJP session run (no copy of the gradient into a flat vector). */
export function vjpFeeds(f: Fixture): Record<string, Tensor> {
  return {
    ...paramViews(f.params, f.layout),
    ...batchFeeds(f),
    loss__cotangent: { dtype: "float32", dims: [], data: Float32Array.of(1) },
  };
}
