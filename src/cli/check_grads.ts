import { z } from "zod";
import { checkGrads } from "../ad/check/check_grads.ts";
import { UserError } from "../errors.ts";
import { decodeModel } from "../onnx/decode.ts";
import { withLoss } from "../onnx/models/loss.ts";
import { createModel, isModelName, type ModelName } from "../onnx/models/registry.ts";
import type { Model } from "../onnx/types.ts";
import { formatTable } from "../report/table.ts";
import { type CliOption, parseCli } from "./args.ts";
import { runMain } from "./main_wrapper.ts";

const options: Record<string, CliOption> = {
  wrt: {
    type: "string",
    help: "comma-separated tensors to differentiate (default: every float initializer)",
    valueName: "<names>",
  },
  tangents: { type: "string", default: "2", help: "tangents K per JVP run", valueName: "<k>" },
  "input-shape": {
    type: "string",
    multiple: true,
    help: "concrete shape for an input, e.g. x=1x28x28 (repeatable)",
    valueName: "<name=AxB>",
  },
  seed: {
    type: "string",
    default: "0",
    help: "seed of the random inputs and directions",
    valueName: "<n>",
  },
  tol: { type: "string", default: "0.002", help: "relative tolerance", valueName: "<x>" },
};

const FlagsSchema = z.object({
  wrt: z.string().optional(),
  tangents: z.coerce.number().int().positive(),
  "input-shape": z.array(
    z.string().regex(/^[^=]+=\d+(x\d+)*$/, "expected name=AxBxC, e.g. x=1x28x28"),
  ).optional(),
  seed: z.coerce.number().int().nonnegative(),
  tol: z.coerce.number().positive(),
});

const USAGE =
  `usage: deno task check-grads MODEL.onnx|BUILT-IN-NAME [--wrt names] [--tangents K] [--input-shape name=1x28x28 ...]

Checks fwdgrad's JVP graph of the model against float64 central finite differences, and its
VJP graph against the JVP (<u, J v> = <J^T u, v>). Exit 0 within tolerance, 1 otherwise,
2 for bad input (unreadable file, unsupported op).`;

/** A built-in model with its loss, sized for its default dataset (penguins or 28×28 images). */
function builtIn(name: ModelName): Model {
  const tabular = name === "logreg" || name === "mlp";
  return withLoss(
    createModel(name, {
      inputShape: tabular ? [4] : [1, 28, 28],
      classes: tabular ? 3 : 10,
      seed: 0,
    }),
  );
}

async function readModel(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new UserError(`${path}: cannot read (${(e as Error).message})`);
  }
}

async function main(): Promise<number> {
  const parsed = parseCli(Deno.args, {
    options,
    schema: FlagsSchema,
    usage: USAGE,
    positionals: z.array(z.string()).length(1, "expected exactly one MODEL.onnx"),
  });
  if (parsed.kind === "help") {
    console.log(parsed.text);
    return 0;
  }
  const path = parsed.positionals[0];
  const f = parsed.values;
  const model = isModelName(path) ? builtIn(path) : decodeModel(await readModel(path), path);
  const inputShapes = Object.fromEntries(
    (f["input-shape"] ?? []).map((s) => {
      const [name, dims] = s.split("=");
      return [name, dims.split("x").map(Number)];
    }),
  );
  const report = await checkGrads(model, {
    wrt: f.wrt?.split(",").map((s) => s.trim()),
    tangents: f.tangents,
    inputShapes,
    seed: f.seed,
    tol: f.tol,
  });
  const shapes = Object.entries(report.inputShapes).map(([n, d]) => `${n}=[${d}]`).join(", ");
  console.log(`${path}: inputs ${shapes}; K = ${f.tangents}; tolerance ${report.tol}`);
  console.log(
    formatTable(
      ["output", "wrt", "JVP vs finite diff.", "VJP vs JVP", ""],
      report.rows.map((r) => [
        r.output,
        r.wrt,
        r.jvpVsFd.toExponential(2),
        r.vjpVsJvp.toExponential(2),
        r.jvpVsFd <= report.tol && r.vjpVsJvp <= report.tol ? "ok" : "FAIL",
      ]),
    ),
  );
  console.log(
    report.ok ? "all derivatives within tolerance" : "some derivatives are outside the tolerance",
  );
  return report.ok ? 0 : 1;
}

if (import.meta.main) runMain(main);
