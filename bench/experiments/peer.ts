/**
 * Experiment 2, the JavaScript peer: a TensorFlow.js (WASM backend, one thread) backprop step
 * on paper-mlp and paper-cnn, batch 64, from the same initial weights, timed side by side with
 * fwdgrad's backprop step and forward-gradient step (K = 1), and for paper-mlp also with the
 * hand-written yardstick graphs. The TF.js loss and gradients are checked against fwdgrad's
 * before anything is timed.
 */
import { jvpTransform } from "../../src/ad/jvp.ts";
import { vjpTransform } from "../../src/ad/vjp.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import type { ModelName } from "../../src/onnx/models/registry.ts";
import { lossOnly } from "../../src/model/graphs.ts";
import { relativeError } from "../lib/check.ts";
import { fixture } from "../lib/fixtures.ts";
import { handJvp, handVjp } from "../lib/hand_mlp.ts";
import { backpropEngine, backpropStep, forwardEngine, forwardStep } from "../lib/kit.ts";
import { begin, type BenchContext, type ResultFile, writeResult } from "../lib/output.ts";
import { initTfjs, tfjsModel, tfjsVersion } from "../lib/tfjs_peer.ts";
import { type CaseTiming, interleaved, type TimedCase } from "../lib/timing.ts";

export const NAME = "peer";
export const TITLE = "JavaScript peer: TensorFlow.js (WASM) backprop step vs fwdgrad";

const MODELS: ModelName[] = ["paper-mlp", "paper-cnn"];

export interface PeerModel {
  model: ModelName;
  parameters: number;
  batch: number;
  /** Agreement of TF.js with fwdgrad (loss from the forward pass when TF.js cannot step). */
  check: { loss: number; gradient: number | null; tolerance: number; ok: boolean };
  /** Why TF.js's WASM backend could not take a backprop step, when it could not. */
  wasmBackpropError: string | null;
  /** The fallback a TF.js user has on a CPU without WASM support: the pure-JS "cpu" backend. */
  cpuBackend:
    | { limitSeconds: number; finished: boolean; stepMs: number | null; note: string }
    | null;
  /** tfjs backprop, tfjs forward, fwdgrad backprop, fwdgrad forwardGradient (+ hand ones). */
  timings: Record<string, CaseTiming>;
  /** TF.js backprop step time / each fwdgrad step time. */
  speedups: Record<string, number>;
}

export interface PeerData {
  tfjs: string;
  models: PeerModel[];
}

const CPU_LIMIT_SECONDS = 60;

/** One TF.js "cpu"-backend step in a child process, given up after CPU_LIMIT_SECONDS. */
async function cpuFallback(ctx: BenchContext, model: ModelName): Promise<PeerModel["cpuBackend"]> {
  const child = new URL("./peer_cpu_child.ts", import.meta.url).pathname;
  const t0 = performance.now();
  const p = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", child, model],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const timer = setTimeout(() => p.kill("SIGKILL"), CPU_LIMIT_SECONDS * 1000);
  const out = await p.output();
  clearTimeout(timer);
  const seconds = (performance.now() - t0) / 1000;
  const match = new TextDecoder().decode(out.stdout).match(/stepMs=([\d.]+)/);
  const result = {
    limitSeconds: CPU_LIMIT_SECONDS,
    finished: match !== null,
    stepMs: match ? Number(match[1]) : null,
    note: match
      ? "one step with TF.js's pure-JavaScript cpu backend"
      : `one step with TF.js's cpu backend did not finish within ${CPU_LIMIT_SECONDS} s (killed after ${
        seconds.toFixed(0)
      } s)`,
  };
  ctx.log(`  ${model}: ${result.note}${match ? `: ${result.stepMs} ms` : ""}`);
  return result;
}

export async function run(ctx: BenchContext): Promise<ResultFile<PeerData>> {
  const started = await begin();
  await initTfjs();
  const models: PeerModel[] = [];
  for (const name of MODELS) {
    const f = await fixture(name);
    const fn = lossOnly(f.model);
    const vjp = encodeModel(vjpTransform(fn, { wrt: f.wrt }));
    const jvp = encodeModel(jvpTransform(fn, { wrt: f.wrt, tangents: 1 }));
    const back = await backpropEngine(f, vjp);
    const fwd = await forwardEngine(f, jvp, 1);
    const hand = name === "paper-mlp"
      ? {
        back: await backpropEngine(f, encodeModel(handVjp(f.model))),
        fwd: await forwardEngine(f, encodeModel(handJvp(f.model, 1)), 1),
      }
      : null;
    const peer = tfjsModel(f);
    try {
      // Agreement first: same loss and gradients from the same weights and batch.
      const ours = await back.step(f.batch);
      const tolerance = 1e-3;
      const lossErr = Math.abs(ours.loss - peer.loss()) / Math.abs(ours.loss);
      let gradErr: number | null = null;
      let wasmBackpropError: string | null = null;
      try {
        const theirs = peer.step();
        gradErr = Math.max(
          ...peer.comparable.map((p) => {
            const i = f.layout.names.indexOf(p);
            const mine = ours.gradient.subarray(
              f.layout.offsets[i],
              f.layout.offsets[i] + f.layout.sizes[i],
            );
            return relativeError(mine, peer.toOurs(p, theirs.grads[p]));
          }),
        );
      } catch (e) {
        wasmBackpropError = String((e as Error).message ?? e).split("\n")[0];
        ctx.log(`  ${name}: TF.js WASM cannot take a backprop step: ${wasmBackpropError}`);
      }
      const check = {
        loss: lossErr,
        gradient: gradErr,
        tolerance,
        ok: Math.max(lossErr, gradErr ?? 0) <= tolerance,
      };
      ctx.log(
        `  ${name}: TF.js vs fwdgrad loss rel. error ${lossErr.toExponential(1)}, gradient ${
          gradErr?.toExponential(1) ?? "n/a"
        }`,
      );
      if (!check.ok) throw new Error(`${name}: TensorFlow.js and fwdgrad disagree; not timing`);

      let step = 0;
      const cases: TimedCase[] = [
        ...(wasmBackpropError ? [] : [{ name: "tfjs backprop", run: () => void peer.step() }]),
        { name: "tfjs forward", run: () => void peer.loss() },
        { name: "backprop", run: () => backpropStep(back, f) },
        { name: "forwardGradient", run: () => forwardStep(fwd, f, step++) },
      ];
      if (hand) {
        cases.push(
          { name: "hand backprop", run: () => backpropStep(hand.back, f) },
          { name: "hand forwardGradient", run: () => forwardStep(hand.fwd, f, step++) },
        );
      }
      const heavy = name === "paper-cnn";
      const timings = await interleaved(cases, {
        warmup: 1,
        reps: ctx.quick ? (heavy ? 1 : 3) : (heavy ? 5 : 12),
      });
      const tf = timings["tfjs backprop"]?.total.median;
      const speedups = tf === undefined ? {} : Object.fromEntries(
        cases.filter((c) => !c.name.startsWith("tfjs")).map((
          c,
        ) => [c.name, tf / timings[c.name].total.median]),
      );
      if (tf !== undefined) {
        ctx.log(
          `  ${name}: TF.js backprop ${tf.toFixed(0)} ms; ×${
            speedups.backprop.toFixed(1)
          } vs fwdgrad backprop, ×${speedups.forwardGradient.toFixed(1)} vs forward gradient`,
        );
      }
      const cpuBackend = wasmBackpropError && !ctx.quick ? await cpuFallback(ctx, name) : null;
      models.push({
        model: name,
        parameters: f.layout.total,
        batch: f.batch.count,
        check,
        wasmBackpropError,
        cpuBackend,
        timings,
        speedups,
      });
    } finally {
      peer.dispose();
      for (const e of [back, fwd, ...(hand ? [hand.back, hand.fwd] : [])]) await e.release();
    }
  }
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      models: MODELS,
      batch: 64,
      K: 1,
      tfjs: `@tensorflow/tfjs ${tfjsVersion()} + @tensorflow/tfjs-backend-wasm, 1 thread`,
      tfjsStep: "tf.variableGrads(loss) + dataSync of every gradient (no optimizer update)",
      fwdgradSteps: "BackpropEngine.step / ForwardEngine.step (normal tangent), as in step_cost",
    },
    data: { tfjs: tfjsVersion(), models },
    plots: [],
  });
}
