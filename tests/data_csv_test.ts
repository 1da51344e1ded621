import { UserError } from "../src/errors.ts";
import { loadCsvDataset, parseCsv } from "../src/data/csv.ts";
import { assert, assertEquals, assertRejects, withTempDir } from "./data_fixtures.ts";

const GOOD = [
  "kind,weight,colour,height",
  "a,1,red,10",
  "b,2,blue,20",
  "a,3,red,30",
  "b,4,NA,40",
  "a,5,,50",
  "b,6,red,60",
  "a,7,red,70",
  "b,8,red,80",
  "a,9,red,90",
  "b,10,red,100",
].join("\n");

/** Writes `text` to a .csv in a temp dir and runs `body` with its path. */
async function withCsv(text: string, body: (path: string) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const path = `${dir}/table.csv`;
    await Deno.writeTextFile(path, text);
    await body(path);
  });
}

Deno.test("parseCsv reads quoted fields, doubled quotes, CRLF and embedded newlines", () => {
  const table = parseCsv('a,b,c\r\n"x, y","say ""hi""",3\r\n"two\nlines",,""\r\n\r\n', "t.csv");
  assertEquals(table.header, ["a", "b", "c"]);
  assertEquals(table.records.map((r) => r.fields), [
    ["x, y", 'say "hi"', "3"],
    ["two\nlines", "", ""],
  ]);
  assertEquals(table.records.map((r) => r.line), [2, 3]);
});

Deno.test("parseCsv rejects a stray quote, an unclosed quote and a duplicate header", async () => {
  await assertRejects(() => parseCsv('a,b\nx"y,1\n', "t.csv"), UserError, "t.csv", "line 2");
  await assertRejects(() => parseCsv('a,b\n"x,1\n', "t.csv"), UserError, "never closed");
  await assertRejects(() => parseCsv("a,a\n1,2\n", "t.csv"), UserError, '"a" twice');
});

Deno.test("a ragged row is an error naming the row and the expected and actual field counts", async () => {
  await withCsv("species,x\na,1\nb,2,3\n", async (path) => {
    await assertRejects(
      () => loadCsvDataset(path),
      UserError,
      path,
      "row 2",
      "3 fields",
      "expected 2",
    );
  });
});

Deno.test("the generic CSV loader uses numeric columns as features and notes what it ignored", async () => {
  await withCsv(GOOD, async (path) => {
    const data = await loadCsvDataset(path, { labelColumn: "kind", testFraction: 0.2 });
    assertEquals(data.featureShape, [2]);
    assertEquals(data.classes, ["a", "b"]);
    assertEquals([data.train.count, data.test.count], [8, 2]);
    assert(data.notes.some((n) => n.includes("ignored columns: colour")), data.notes.join("|"));
    assert(data.split.includes("8 train / 2 test"), data.split);
  });
});

Deno.test("rows with a missing feature value are dropped and counted in the notes", async () => {
  await withCsv("species,x,y\na,1,2\nb,NA,3\na,4,\nb,5,6\na,7,8\nb,9,10\n", async (path) => {
    const data = await loadCsvDataset(path, { testFraction: 0.5 });
    assertEquals(data.train.count + data.test.count, 4);
    assert(data.notes.some((n) => n.startsWith("dropped 2 rows")), data.notes.join("|"));
  });
});

Deno.test("without species or --label-column, the last non-numeric column is the label, said in a note", async () => {
  await withCsv(GOOD, async (path) => {
    const d = await loadCsvDataset(path);
    assertEquals(d.classes, ["blue", "red"]);
    assert(d.notes.some((n) => n.includes('label column "colour"')), d.notes.join("; "));
  });
  await withCsv("a,b\n1,2\n3,4\n", async (path) => {
    await assertRejects(() => loadCsvDataset(path), UserError, path, "--label-column", "a, b");
  });
});

Deno.test("a missing label column is an error listing the available columns", async () => {
  await withCsv(GOOD, async (path) => {
    await assertRejects(
      () => loadCsvDataset(path, { labelColumn: "type" }),
      UserError,
      path,
      'no label column "type"',
      "kind, weight, colour, height",
    );
  });
});

Deno.test("a non-numeric value in a numeric column names the row, the column and the value", async () => {
  const text = GOOD.replace("b,6,red,60", "b,6,red,6O");
  await withCsv(text, async (path) => {
    await assertRejects(
      () => loadCsvDataset(path, { labelColumn: "kind" }),
      UserError,
      path,
      "row 6",
      '"height"',
      '"6O"',
    );
  });
});

Deno.test("a file with a header and no rows is an error", async () => {
  await withCsv("species,x\n", async (path) => {
    await assertRejects(() => loadCsvDataset(path), UserError, path, "no data rows");
  });
});

Deno.test("a table without numeric columns or with one class is an error", async () => {
  await withCsv("species,island\na,x\nb,y\n", async (path) => {
    await assertRejects(() => loadCsvDataset(path), UserError, path, "no numeric feature columns");
  });
  await withCsv("species,x\na,1\na,2\na,3\n", async (path) => {
    await assertRejects(() => loadCsvDataset(path), UserError, path, "need at least 2");
  });
});

Deno.test("a CSV file that does not exist is a one-line error naming it", async () => {
  await assertRejects(() => loadCsvDataset("/nonexistent/t.csv"), UserError, "/nonexistent/t.csv");
});
