/**
 * Backpropagation as a step strategy: one worker computes the exact gradient of the whole
 * batch (the VJP graph); it is the baseline the forward gradient is compared with.
 *
 * @module
 */
import {
  type BackpropInit,
  type BackpropResult,
  BackpropResultSchema,
} from "../../engine/messages.ts";
import type { BackpropWorkerApi } from "../../engine/worker_api.ts";
import type { StepSetup, StepStrategy } from "./strategy.ts";

export function backpropStep(setup: StepSetup): StepStrategy<BackpropWorkerApi, BackpropResult> {
  const { graphs, layout, params, grad, featureShape, classes } = setup;
  return {
    kind: "backprop_worker",
    workers: 1,
    init: (): BackpropInit => ({
      vjp: graphs.vjp,
      layout,
      params,
      featureShape,
      classes,
      eval: setup.eval,
    }),
    async fanOut({ step, x, labels, count }, { pool, budget }) {
      const r = await pool.call(
        0,
        budget,
        "step",
        (api) => api.step({ step, x, labels, count, wantEstimate: false }),
        (raw) => BackpropResultSchema.parse(raw),
      );
      return [r];
    },
    combine([r]) {
      grad.set(r.gradient);
      return Promise.resolve(r.loss);
    },
  };
}
