/**
 * Tables for the terminal and for README/RESULTS files. Both formats take the same input so
 * a result printed at the end of a run can be pasted into Markdown unchanged in content.
 * Columns holding only numbers (or number-like strings such as "91.2%") are right aligned,
 * so digits line up; everything else is left aligned.
 */

export type Cell = string | number;

/** Plain-text table: header, a dashed rule, then the rows; columns separated by two spaces. */
export function formatTable(headers: string[], rows: Cell[][]): string {
  const { text, widths, right } = layout(headers, rows);
  const line = (cells: string[]) =>
    cells.map((c, i) => pad(c, widths[i], right[i])).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [line(headers), rule, ...text.map(line)].join("\n") + "\n";
}

/** GitHub-flavoured Markdown table with alignment markers; `|` inside cells is escaped. */
export function formatMarkdownTable(headers: string[], rows: Cell[][]): string {
  const escape = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");
  const { text, right } = layout(headers, rows);
  const head = headers.map(escape);
  const body = text.map((r) => r.map(escape));
  const widths = head.map((h, i) => Math.max(3, width(h), ...body.map((r) => width(r[i]))));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => pad(c, widths[i], right[i])).join(" | ") + " |";
  const rule = "| " +
    widths.map((w, i) => right[i] ? "-".repeat(w - 1) + ":" : "-".repeat(w)).join(" | ") + " |";
  return [line(head), rule, ...body.map(line)].join("\n") + "\n";
}

interface Layout {
  text: string[][];
  widths: number[];
  right: boolean[];
}

function layout(headers: string[], rows: Cell[][]): Layout {
  rows.forEach((row, i) => {
    if (row.length > headers.length) {
      throw new RangeError(`table row ${i} has ${row.length} cells for ${headers.length} columns`);
    }
  });
  // Short rows are padded with empty cells rather than rejected: a missing value is common.
  const text = rows.map((row) => headers.map((_, i) => i < row.length ? String(row[i]) : ""));
  const widths = headers.map((h, i) => Math.max(width(h), ...text.map((r) => width(r[i]))));
  const right = headers.map((_, i) => {
    const cells = rows.map((r) => r[i]).filter((c) => c !== undefined && c !== "");
    return cells.length > 0 && cells.every(isNumeric);
  });
  return { text, widths, right };
}

const NUMBER_LIKE = /^[+-]?(\d[\d,_]*(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*(%|×|x|s|ms)?$/;

function isNumeric(cell: Cell): boolean {
  return typeof cell === "number" || NUMBER_LIKE.test(cell.trim());
}

/** Display width in code points (so "±" or "×" count as one column). */
function width(s: string): number {
  return [...s].length;
}

function pad(s: string, w: number, right: boolean): string {
  const fill = " ".repeat(Math.max(0, w - width(s)));
  return right ? fill + s : s + fill;
}
