import assert from "node:assert/strict";
import { formatMarkdownTable, formatTable } from "../src/report/table.ts";

const headers = ["method", "steps/s", "accuracy"];
const rows = [["forward", 312.5, "91.2%"], ["backprop", 98, "97.45%"]];

Deno.test("a plain table left-aligns text and right-aligns numeric columns", () => {
  assert.deepStrictEqual(
    formatTable(headers, rows),
    [
      "method    steps/s  accuracy",
      "--------  -------  --------",
      "forward     312.5     91.2%",
      "backprop       98    97.45%",
      "",
    ].join("\n"),
  );
});

Deno.test("a markdown table marks numeric columns right-aligned and escapes pipes", () => {
  assert.deepStrictEqual(
    formatMarkdownTable(["name", "n"], [["a|b", 1], ["c", 22]]),
    [
      "| name |   n |",
      "| ---- | --: |",
      "| a\\|b |   1 |",
      "| c    |  22 |",
      "",
    ].join("\n"),
  );
});

Deno.test("short rows are padded and long rows are rejected", () => {
  assert.deepStrictEqual(formatTable(["a", "b"], [["x"]]), "a  b\n-  -\nx\n");
  assert.throws(() => formatTable(["a"], [["x", "y"]]), RangeError);
});
