/**
 * Experiment `defaults`: the sweep behind the forward gradient's default learning rate
 * (src/train/defaults.ts). Every built-in model, plus a torch-style model file (the CNN the
 * bring-your-own-model tests export the way torch.onnx.export writes it, with BatchNorm), is
 * trained forward-only as `deno task train` would with its defaults (SGD, constant rate, batch
 * 32, 40 epochs, 2 workers), at several values of the rate's scale: c · lr_backprop · √(K/n)
 * for weight perturbation, c · lr_backprop for activity perturbation. The chosen scale is the
 * largest with no divergence anywhere, halved for margin; the report says whether the code's
 * constant is that value.
 */
import type { Method } from "../../src/train/config.ts";
import {
  DEFAULT_BACKPROP_LR,
  FILE_BACKPROP_LR,
  FORWARD_LR_SCALE,
} from "../../src/train/defaults.ts";
import { RunDivergedError, train } from "../../src/train/run.ts";
import { encodeModel } from "../../src/onnx/encode.ts";
import { parameterCount } from "../../src/onnx/models/parameters.ts";
import { createModel, type ModelName } from "../../src/onnx/models/registry.ts";
import { TrainConfigSchema } from "../../src/train/config.ts";
import { torchCnn } from "../../tests/byo_fixtures.ts";
import { begin, type BenchContext, type ResultFile, writeResult } from "../lib/output.ts";

export const NAME = "defaults";
export const TITLE = "Default forward learning rate: the divergence sweep";

type Perturb = "weights" | "activations";

interface Case {
  label: string;
  model: string;
  dataset: string;
  /** n, for the rate formula. */
  parameters: number;
  lrBackprop: number;
  tangents: number;
  steps?: number;
}

export interface DefaultsRow {
  case: string;
  perturb: Perturb;
  scale: number;
  lrForward: number;
  status: string;
  steps: number;
  finalTrainLoss: number;
  testAccuracy: number;
}

export interface DefaultsData {
  rows: DefaultsRow[];
  chosen: Record<Perturb, number | null>;
  inCode: Record<Perturb, number>;
}

async function cases(quick: boolean): Promise<Case[]> {
  const file = await Deno.makeTempFile({ prefix: "fwdgrad-torch-cnn-", suffix: ".onnx" });
  const torch = torchCnn({ opset: 11 });
  await Deno.writeFile(file, encodeModel(torch));
  const builtIn = (m: ModelName, steps?: number): Case => {
    const tabular = m === "logreg" || m === "mlp";
    const model = createModel(m, {
      inputShape: tabular ? [4] : [1, 28, 28],
      classes: tabular ? 3 : 10,
      seed: 0,
    });
    return {
      label: m,
      model: m,
      dataset: tabular ? "penguins" : "kmnist",
      parameters: parameterCount(model),
      lrBackprop: DEFAULT_BACKPROP_LR[m],
      tangents: 1,
      steps,
    };
  };
  const fileCase: Case = {
    label: "torch-style CNN file, K = 8, 100 steps",
    model: file,
    dataset: "kmnist",
    parameters: parameterCount(torch),
    lrBackprop: FILE_BACKPROP_LR,
    tangents: 8,
    steps: 100,
  };
  if (quick) return [builtIn("mlp"), builtIn("cnn", 60), fileCase];
  return [
    builtIn("logreg"),
    builtIn("mlp"),
    builtIn("cnn"),
    { ...builtIn("cnn"), label: "cnn, K = 8", tangents: 8 },
    builtIn("paper-mlp", 200),
    builtIn("paper-cnn", 100),
    fileCase,
  ];
}

async function runCase(c: Case, perturb: Perturb, scale: number): Promise<DefaultsRow> {
  const lrForward = Number(
    (perturb === "activations"
      ? scale * c.lrBackprop
      : Math.min(c.lrBackprop, scale * c.lrBackprop * Math.sqrt(c.tangents / c.parameters)))
      .toPrecision(3),
  );
  const config = TrainConfigSchema.parse({
    model: c.model,
    dataset: c.dataset,
    method: "forward" satisfies Method,
    workers: 2,
    tangents: c.tangents,
    tangentMode: "independent",
    tangentDist: "normal",
    batchSize: 32,
    optimizer: "sgd",
    lrForward,
    lrBackprop: c.lrBackprop,
    lrSchedule: "constant",
    lrDecay: 0,
    ...(c.steps ? { steps: c.steps } : { epochs: 40 }),
    seed: 0,
    evalEvery: 0,
    json: true,
    perturb,
    checkpointEvery: 0,
    out: `${await Deno.makeTempDir({ prefix: "fwdgrad-defaults-" })}/run`,
  });
  let summary;
  try {
    summary = (await train(config)).summary;
  } catch (e) {
    if (!(e instanceof RunDivergedError)) throw e;
    summary = e.summary;
  }
  const r = summary.runs[0];
  return {
    case: c.label,
    perturb,
    scale,
    lrForward,
    status: r.status,
    steps: r.steps,
    finalTrainLoss: r.final.trainLoss,
    testAccuracy: r.final.testAccuracy,
  };
}

export async function run(ctx: BenchContext): Promise<ResultFile<DefaultsData>> {
  const started = await begin();
  const scales: Record<Perturb, number[]> = ctx.quick
    ? { weights: [4, 16], activations: [0.5, 2] }
    : { weights: [2, 4, 8, 16, 32], activations: [0.25, 0.5, 1, 2] };
  const rows: DefaultsRow[] = [];
  const all = await cases(ctx.quick);
  for (const perturb of ["weights", "activations"] as const) {
    for (const c of all) {
      if (perturb === "activations" && c.model === "paper-cnn") continue; // FG-A on it: > 10 min
      for (const scale of scales[perturb]) {
        const row = await runCase(c, perturb, scale);
        rows.push(row);
        ctx.log(
          `   ${perturb} ${c.label} scale ${scale}: lr ${row.lrForward} ${row.status} after ` +
            `${row.steps} steps, train loss ${row.finalTrainLoss.toFixed(4)}, ` +
            `test accuracy ${(100 * row.testAccuracy).toFixed(1)}%`,
        );
      }
    }
  }
  const chosen = Object.fromEntries((["weights", "activations"] as const).map((p) => {
    const safe = scales[p].filter((s) =>
      rows.filter((r) => r.perturb === p && r.scale <= s).every((r) => r.status === "complete")
    );
    return [p, safe.length > 0 ? Math.max(...safe) / 2 : null];
  })) as Record<Perturb, number | null>;
  return await writeResult(ctx, started, {
    experiment: NAME,
    title: TITLE,
    settings: {
      method: "forward only, SGD, constant rate, batch 32, 2 workers, independent tangents, seed 0",
      budget: "40 epochs (the CLI default) unless the case names its steps",
      scales,
      rule: "chosen = half the largest scale at which no case diverged, nor at any smaller scale",
    },
    data: { rows, chosen, inCode: { ...FORWARD_LR_SCALE } },
    plots: [],
  });
}
