import { userError } from "../errors.ts";

/** One data record with the file line it starts on (quoted fields may span lines). */
export interface CsvRecord {
  fields: string[];
  line: number;
}

export interface CsvTable {
  header: string[];
  records: CsvRecord[];
}

/**
 * A small, strict RFC 4180 parser: comma separated, double-quoted fields with `""` escapes,
 * LF or CRLF line ends. Blank lines are skipped. Anything else odd (a stray quote, an
 * unterminated quote, a ragged row, a duplicate header name) is an error naming `where`.
 */
export function parseCsv(text: string, where: string): CsvTable {
  const rows = tokenize(text.replace(/^\uFEFF/, ""), where);
  if (rows.length === 0) throw userError(where, "file is empty (no header row)");
  const [headerRow, ...records] = rows;
  const header = headerRow.fields.map((h) => h.trim());
  const seen = new Set<string>();
  for (const name of header) {
    if (seen.has(name)) throw userError(where, `header names column "${name}" twice`);
    seen.add(name);
  }
  records.forEach((record, i) => {
    if (record.fields.length !== header.length) {
      throw userError(
        where,
        `row ${i + 1} (line ${record.line}) has ${record.fields.length} fields, ` +
          `expected ${header.length} as in the header`,
      );
    }
  });
  return { header, records };
}

function tokenize(text: string, where: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let recordLine = 1;
  let i = 0;
  // True once the current record has any content, so blank lines can be skipped.
  let started = false;
  const endField = () => {
    fields.push(field);
    field = "";
  };
  const endRecord = () => {
    if (started) {
      endField();
      records.push({ fields, line: recordLine });
    }
    fields = [];
    field = "";
    started = false;
  };
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      if (field !== "") {
        throw userError(where, `line ${line}: quote inside an unquoted field`);
      }
      if (!started) recordLine = line;
      started = true;
      const quoteLine = line;
      i++;
      for (;;) {
        if (i >= text.length) {
          throw userError(where, `line ${quoteLine}: quoted field is never closed`);
        }
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        if (text[i] === "\n") line++;
        field += text[i++];
      }
      const next = text[i];
      if (next !== undefined && next !== "," && next !== "\n" && next !== "\r") {
        throw userError(where, `line ${line}: text after a closing quote`);
      }
      continue;
    }
    if (ch === ",") {
      if (!started) recordLine = line;
      started = true;
      endField();
      i++;
      continue;
    }
    if (ch === "\r" && text[i + 1] === "\n") i++;
    if (ch === "\n" || ch === "\r") {
      endRecord();
      line++;
      i++;
      continue;
    }
    if (!started) recordLine = line;
    started = true;
    field += ch;
    i++;
  }
  endRecord();
  return records;
}
