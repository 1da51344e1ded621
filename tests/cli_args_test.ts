import assert from "node:assert/strict";
import { z } from "zod";
import { parseCli } from "../src/cli/args.ts";
import { mainExitCode } from "../src/cli/main_wrapper.ts";
import { UserError } from "../src/errors.ts";

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in ${text.slice(0, 200)}`);
}

/** The message of the UserError `fn` throws (fails the test if it throws anything else). */
function userErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    return err.message;
  }
  throw new assert.AssertionError({ message: "expected a UserError, nothing was thrown" });
}

const spec = {
  usage: "usage: train [options]",
  options: {
    lr: { type: "string", help: "learning rate", default: "0.01" },
    steps: { type: "string", help: "number of steps", valueName: "<n>" },
    method: { type: "string", help: "forward or backprop", default: "forward" },
    verbose: { type: "boolean", short: "v", help: "say more" },
  },
  schema: z.object({
    lr: z.coerce.number().positive(),
    steps: z.coerce.number().int().min(1).optional(),
    method: z.enum(["forward", "backprop"]),
    verbose: z.boolean().default(false),
  }),
} as const;

function errorOf(argv: string[]): string {
  return userErrorMessage(() => parseCli(argv, spec));
}

Deno.test("flags are parsed, coerced and defaulted", () => {
  const r = parseCli(["--lr", "0.5", "--steps=20", "-v", "--method", "backprop"], spec);
  assert.deepStrictEqual(r, {
    kind: "run",
    values: { lr: 0.5, steps: 20, method: "backprop", verbose: true },
    positionals: [],
  });
  assert.deepStrictEqual(parseCli([], spec), {
    kind: "run",
    values: { lr: 0.01, method: "forward", verbose: false },
    positionals: [],
  });
});

Deno.test("an unknown flag is one line that points at --help", () => {
  assert.deepStrictEqual(errorOf(["--foo"]), "unknown flag --foo (see --help)");
  assert.deepStrictEqual(
    errorOf(["--step", "3"]),
    "unknown flag --step (see --help; did you mean --steps?)",
  );
});

Deno.test("a bad number names the flag, the expectation and the given text", () => {
  assert.deepStrictEqual(errorOf(["--lr", "abc"]), '--lr: expected a number, got "abc"');
  assert.deepStrictEqual(errorOf(["--lr", "-1"]), '--lr: expected a positive number, got "-1"');
  assert.deepStrictEqual(errorOf(["--steps", "1.5"]), '--steps: expected an integer, got "1.5"');
});

Deno.test("an enum violation lists the allowed values", () => {
  assert.deepStrictEqual(
    errorOf(["--method", "adam"]),
    '--method: expected one of forward, backprop, got "adam"',
  );
});

Deno.test("missing values and stray values are caught before validation", () => {
  assert.deepStrictEqual(errorOf(["--lr"]), "--lr: missing value");
  includes(errorOf(["--lr", "--verbose"]), "--lr: missing value");
  assert.deepStrictEqual(errorOf(["--verbose=yes"]), '--verbose: takes no value, got "yes"');
  assert.deepStrictEqual(errorOf(["model.onnx"]), 'unexpected argument "model.onnx" (see --help)');
  assert.deepStrictEqual(errorOf(["--constructor"]), "unknown flag --constructor (see --help)");
});

Deno.test("a required flag that is absent is reported as missing", () => {
  const s = { ...spec, schema: z.object({ lr: z.coerce.number(), data: z.string() }) };
  assert.deepStrictEqual(
    userErrorMessage(() => parseCli([], s)),
    "missing required flag --data (see --help)",
  );
});

Deno.test("--help returns the usage text with every flag", () => {
  const r = parseCli(["--lr", "x", "--help"], spec);
  assert.deepStrictEqual(r.kind, "help");
  if (r.kind !== "help") return;
  includes(r.text, "usage: train [options]");
  includes(r.text, "--steps <n>");
  includes(r.text, "learning rate (default: 0.01)");
  includes(r.text, "-h, --help");
});

Deno.test("positional arguments are validated by their own schema", () => {
  const s = { ...spec, positionals: z.tuple([z.string().endsWith(".onnx")]) };
  const r = parseCli(["model.onnx", "--lr", "1"], s);
  assert.deepStrictEqual(r.kind === "run" ? r.positionals : null, ["model.onnx"]);
  assert.deepStrictEqual(
    userErrorMessage(() => parseCli([], s)),
    "arguments: expected at least 1 argument, got 0 (see --help)",
  );
});

Deno.test("runMain's core prints a UserError as one line and exits 2, other errors 1", async () => {
  const lines: string[] = [];
  const write = (l: string) => lines.push(l);
  assert.deepStrictEqual(await mainExitCode(() => Promise.resolve(3), write), 3);
  assert.deepStrictEqual(
    await mainExitCode(() => Promise.reject(new UserError("--lr: bad\nvalue")), write),
    2,
  );
  assert.deepStrictEqual(lines, ["error: --lr: bad value"]);
  assert.deepStrictEqual(await mainExitCode(() => Promise.reject(new Error("boom")), write), 1);
  includes(lines[1], "Error: boom\n    at ");
});
