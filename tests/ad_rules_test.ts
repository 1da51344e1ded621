import assert from "node:assert/strict";
import { checkGrads } from "../src/ad/check/check_grads.ts";
import { RULES } from "../src/ad/table.ts";
import { ALL_CASES } from "./ad_rules/all_cases.ts";

// One table-driven test: every differentiable op's rule against float64 central finite
// differences and the JVP–VJP inner-product identity, across shapes and attribute variants.
for (const c of ALL_CASES) {
  Deno.test(`${c.op} rule matches finite differences and its VJP, its reference onnxruntime: ${c.label}`, async () => {
    const report = await checkGrads(c.model(), {
      wrt: c.wrt,
      tangents: c.tangents,
      inputShapes: c.inputShapes,
      inputs: c.inputs,
      tol: c.tol,
      // Inputs declared with symbolic dims (e.g. ["N", 3]) stay symbolic in the transforms.
      keepSymbolic: true,
      compareForward: true,
    });
    assert.ok(report.rows.length > 0, "the check compared nothing");
    // The host reference the differences use agrees with onnxruntime on the op itself.
    for (const f of report.forward!) {
      assert.equal(f.mismatch, null, `${f.output}: evaluate against onnxruntime: ${f.mismatch}`);
    }
    for (const r of report.rows) {
      assert.ok(
        r.jvpVsFd <= report.tol,
        `${r.output} wrt ${r.wrt}: JVP vs finite differences ${r.jvpVsFd}`,
      );
      assert.ok(r.vjpVsJvp <= report.tol, `${r.output} wrt ${r.wrt}: VJP vs JVP ${r.vjpVsJvp}`);
    }
  });
}

Deno.test("every op with a derivative rule has at least one gradient-check case", () => {
  const covered = new Set(ALL_CASES.map((c) => c.op));
  const missing = Object.entries(RULES).filter(([op, r]) => (r.jvp || r.vjp) && !covered.has(op))
    .map(([op]) => op);
  assert.deepEqual(missing, []);
});
