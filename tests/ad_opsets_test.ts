import assert from "node:assert/strict";
import { checkGrads } from "../src/ad/check/check_grads.ts";
import { encodeModel } from "../src/onnx/encode.ts";
import { Session } from "../src/onnx/session.ts";
import type { Model, Node } from "../src/onnx/types.ts";
import { ALL_CASES } from "./ad_rules/all_cases.ts";
import type { RuleCase } from "./ad_rules/case.ts";

// Every rule's derivative graphs at every opset the op exists at: the JVP and VJP graphs of a
// model at opset v must load in onnxruntime and match finite differences (one case per op and
// opset, the first that can be expressed there).
const OPSETS = [7, 9, 11, 13, 16, 18, 21];

/** Opset at which each op's axes (or split sizes) moved from an attribute to an input. */
const AXES_INPUT: Record<string, [number, string, number]> = {
  ReduceSum: [13, "axes", 1],
  ReduceMean: [18, "axes", 1],
  ReduceMax: [18, "axes", 1],
  ReduceMin: [18, "axes", 1],
  ReduceProd: [18, "axes", 1],
  ReduceL1: [18, "axes", 1],
  ReduceL2: [18, "axes", 1],
  ReduceLogSumExp: [18, "axes", 1],
  ReduceSumSquare: [18, "axes", 1],
  Squeeze: [13, "axes", 1],
  Unsqueeze: [13, "axes", 1],
  Split: [13, "split", 1],
};

/** The case's model rewritten for `opset`: axes moved between attribute and input. */
function atOpset(model: Model, opset: number): Model {
  const g = model.graph;
  const nodes = g.nodes.map((n): Node => {
    const form = AXES_INPUT[n.opType];
    if (!form) return n;
    const [since, attr, at] = form;
    if (opset < since && n.inputs[at]) {
      const t = g.initializers.get(n.inputs[at]);
      if (!t) return n;
      return {
        ...n,
        inputs: n.inputs.slice(0, at),
        attrs: {
          ...n.attrs,
          [attr]: { type: "ints", value: Array.from(t.data as BigInt64Array, Number) },
        },
      };
    }
    if (opset >= since && n.attrs[attr]) {
      const values = n.attrs[attr].value as number[];
      const name = `${n.name || n.opType}_${attr}`;
      g.initializers.set(name, {
        dtype: "int64",
        dims: [values.length],
        data: BigInt64Array.from(values, BigInt),
      });
      const { [attr]: _, ...rest } = n.attrs;
      const inputs = [...n.inputs];
      while (inputs.length < at) inputs.push("");
      inputs[at] = name;
      return { ...n, inputs, attrs: rest };
    }
    return n;
  });
  return { ...model, opsets: { ...model.opsets, "": opset }, graph: { ...g, nodes } };
}

/**
 * Rules that still refuse to differentiate at these opsets, with the reason (the rule's own
 * error says it). The test records them as skipped and fails once a rule stops refusing, so
 * this list shrinks as rules gain older forms.
 */
const REFUSED: Record<string, Record<number, string>> = {
  MaxPool: { 7: "MaxPool-7 has no Indices output to locate each window's argmax" },
  MaxUnpool: { 9: "its VJP gathers with GatherElements (opset 11)" },
  GatherElements: {
    11: "repeated indices need ScatterElements reduction add (opset 16)",
    13: "repeated indices need ScatterElements reduction add (opset 16)",
  },
  GatherND: {
    11: "repeated indices need ScatterND reduction add (opset 16)",
    13: "repeated indices need ScatterND reduction add (opset 16)",
  },
};

/** Why onnxruntime refuses the plain model at this opset, or null when it loads. */
async function refusal(model: Model): Promise<string | null> {
  try {
    const s = await Session.create(encodeModel(model), "plain model");
    await s.release();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const byOp = new Map<string, RuleCase[]>();
for (const c of ALL_CASES) byOp.set(c.op, [...(byOp.get(c.op) ?? []), c]);

for (const [op, cases] of byOp) {
  Deno.test(`${op} derivative graphs load and match finite differences at every opset`, async () => {
    const skipped: string[] = [];
    const failed: string[] = [];
    for (const opset of OPSETS) {
      let reason = "";
      let chosen: { c: RuleCase; model: Model } | undefined;
      for (const c of cases) {
        const model = atOpset(c.model(), opset);
        const why = await refusal(model);
        if (why === null) {
          chosen = { c, model };
          break;
        }
        reason ||= why;
      }
      if (!chosen) {
        skipped.push(`opset ${opset}: ${reason}`);
        continue;
      }
      const { c, model } = chosen;
      const where = `opset ${opset}, ${c.label}`;
      try {
        const report = await checkGrads(model, {
          wrt: c.wrt,
          tangents: c.tangents,
          inputShapes: c.inputShapes,
          inputs: c.inputs,
          tol: c.tol,
        });
        for (const r of report.rows) {
          if (r.jvpVsFd > report.tol) {
            failed.push(`${where}: ${r.output}/${r.wrt} JVP vs FD ${r.jvpVsFd}`);
          }
          if (r.vjpVsJvp > report.tol) {
            failed.push(`${where}: ${r.output}/${r.wrt} VJP vs JVP ${r.vjpVsJvp}`);
          }
        }
      } catch (e) {
        const message = (e as Error).message;
        // The rule refuses the model itself (the op is newer than the model's opset).
        const known = REFUSED[op]?.[opset];
        if (/exists since opset/.test(message)) skipped.push(`${where}: ${message}`);
        else if (known && /needs/.test(message)) skipped.push(`${where}: refused, ${known}`);
        else failed.push(`${where}: ${message}`);
        continue;
      }
      if (REFUSED[op]?.[opset]) failed.push(`${where}: no longer refused; drop it from REFUSED`);
    }
    assert.deepEqual(failed, []);
    if (skipped.length) console.log(`${op} skipped:\n  ${skipped.join("\n  ")}`);
  });
}
