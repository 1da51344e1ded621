import { z } from "zod";
import { checkGrads } from "../ad/check/check_grads.ts";
import { UserError } from "../errors.ts";
import { withLoss } from "../onnx/models/loss.ts";
import { formatTable } from "../report/table.ts";
import { loadModelSource } from "../model/model_source.ts";
import { type CliOption, parseCli } from "./args.ts";
import { runMain } from "./main_wrapper.ts";
import { userPath } from "./user_path.ts";
import { isModelName } from "../onnx/models/registry.ts";

const options: Record<string, CliOption> = {
  wrt: {
    type: "string",
    help: "comma-separated tensors to differentiate (default: the parameters train would train)",
    valueName: "<names>",
  },
  input: { type: "string", help: "a model file's data input, as for train", valueName: "<name>" },
  output: {
    type: "string",
    help: "a model file's logits output, as for train",
    valueName: "<name>",
  },
  train: { type: "string", multiple: true, help: "as for train (repeatable)", valueName: "<glob>" },
  freeze: {
    type: "string",
    multiple: true,
    help: "as for train (repeatable)",
    valueName: "<glob>",
  },
  tangents: { type: "string", default: "2", help: "tangents K per JVP run", valueName: "<k>" },
  "input-shape": {
    type: "string",
    multiple: true,
    help: "the data input's shape with its batch dim, e.g. input.1=2x1x28x28",
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
  input: z.string().optional(),
  output: z.string().optional(),
  train: z.array(z.string()).optional(),
  freeze: z.array(z.string()).optional(),
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
VJP graph against the JVP (<u, J v> = <J^T u, v>). The model is prepared as train prepares it
(data input fed as x, constant shape subgraphs folded, softmax cross-entropy appended to the
logits), so what passes here is what training differentiates. Exit 0 within tolerance, 1
otherwise, 2 for bad input (unreadable file, unsupported op).`;

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
  const arg = parsed.positionals[0];
  const path = isModelName(arg) ? arg : userPath(arg);
  const f = parsed.values;
  // The data input's shape, with its batch dim (default 2): one --input-shape at most.
  const given = (f["input-shape"] ?? []).map((s) => {
    const [name, dims] = s.split("=");
    return { name, dims: dims.split("x").map(Number) };
  });
  if (given.length > 1) throw new UserError(`--input-shape: give it once, for the data input`);
  const shape = given[0]?.dims;
  if (shape && shape.length < 2) {
    throw new UserError(`--input-shape: include the batch dim, e.g. ${given[0].name}=2x${shape}`);
  }
  const source = await loadModelSource(path, {
    input: f.input ?? (given[0] && given[0].name !== "x" ? given[0].name : undefined),
    output: f.output,
    train: f.train,
    freeze: f.freeze,
    data: shape && { featureShape: shape.slice(1) },
  });
  const report = await checkGrads(withLoss(source.model), {
    wrt: f.wrt?.split(",").map((s) => s.trim()) ?? source.trainable,
    tangents: f.tangents,
    inputShapes: {
      x: [shape?.[0] ?? 2, ...source.featureShape],
      labels: [shape?.[0] ?? 2, source.classes],
    },
    seed: f.seed,
    tol: f.tol,
    // Progress on stderr as each tensor is checked (a large model takes a minute or more).
    onRow: (r, done, total) =>
      console.error(
        `[${done}/${total}] ${r.output} wrt ${r.wrt}: JVP vs finite diff. ` +
          `${r.jvpVsFd.toExponential(2)}, VJP vs JVP ${r.vjpVsJvp.toExponential(2)}`,
      ),
  });
  const shapes = Object.entries(report.inputShapes).map(([n, d]) => `${n}=[${d}]`).join(", ");
  console.log(`${path}: inputs ${shapes}; K = ${f.tangents}; tolerance ${report.tol}`);
  for (const note of source.notes) console.log(`  ${note}`);
  console.log(
    formatTable(
      ["output", "wrt", "JVP vs finite diff.", "VJP vs JVP", "result"],
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
