import assert from "node:assert/strict";
import { RULES } from "../src/ad/table.ts";

// The README lists the supported ops twice (for a model you bring, and under "How
// differentiation works"); both must name exactly the ops of the rule table.

const README = Deno.readTextFileSync(new URL("../README.md", import.meta.url));

/** The word the lists use for the comparison ops. */
const COMPARISONS = ["Greater", "Less", "GreaterOrEqual", "LessOrEqual", "Equal"];

/** The op names of the list that starts with `lead` and ends at "Anything else". */
function listedOps(lead: string): string[] {
  const start = README.indexOf(lead);
  assert.ok(start >= 0, `README has no op list starting "${lead}"`);
  const end = README.indexOf("Anything else", start);
  assert.ok(end > start, `the README list "${lead}" does not end with "Anything else"`);
  // Parenthesised notes ("(inference form)", "(opset 20, ...)") name no ops.
  const text = README.slice(start + lead.length, end).replace(/\([^)]*\)/g, "");
  const words = text.match(/\b[A-Z][A-Za-z0-9]*\b/g) ?? [];
  const ops = words.flatMap((w) => (w === "Anything" ? [] : [w]));
  if (/\bcomparisons\b/.test(text)) ops.push(...COMPARISONS);
  return [...new Set(ops)].sort();
}

const tableOps = Object.keys(RULES).sort();

for (
  const [section, lead] of [["Bring your own model", "- **Ops.**"], [
    "How differentiation works",
    "Supported ops:",
  ]]
) {
  Deno.test(`the README's op list under "${section}" names exactly the rule table's ops`, () => {
    const listed = listedOps(lead);
    assert.deepEqual(
      {
        missing: tableOps.filter((op) => !listed.includes(op)),
        unknown: listed.filter((op) => !tableOps.includes(op)),
      },
      { missing: [], unknown: [] },
    );
  });
}
