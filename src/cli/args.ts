/**
 * Command-line parsing: `node:util` parseArgs splits argv, zod validates and converts. Every
 * mistake becomes ONE line naming the flag, what was expected and what was given, e.g.
 * `--lr: expected a positive number, got "abc"`, thrown as a UserError (exit code 2).
 *
 * parseArgs runs non-strict with tokens so that this module, not Node's long multi-sentence
 * messages, decides the wording of unknown-flag and missing-value errors.
 */

import { parseArgs } from "node:util";
import { z } from "zod";
import { UserError } from "../errors.ts";

/** One flag: parseArgs' option config plus the text `--help` shows for it. */
export interface CliOption {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[] | boolean[];
  help: string;
  /** Placeholder shown in help, e.g. "<n>" or "<file>" (default "<value>"). */
  valueName?: string;
}

export interface CliSpec<S extends z.ZodType> {
  /** Flags by long name (without dashes). The schema's keys must use the same names. */
  options: Record<string, CliOption>;
  /** Validates and converts the flag values (strings/booleans as parseArgs returns them). */
  schema: S;
  /** First lines of `--help`, e.g. "usage: deno task train [options] <model.onnx>". */
  usage: string;
}

/** A spec that also validates the positional arguments (given to `positionals` as strings). */
export interface CliSpecWithPositionals<S extends z.ZodType, P extends z.ZodType>
  extends CliSpec<S> {
  positionals: P;
}

export type CliParse<T, P> =
  | { kind: "help"; text: string }
  | { kind: "run"; values: T; positionals: P };

/**
 * Parses argv. Returns `{kind: "help"}` when -h/--help is present: print `text`, exit 0.
 * Without a `positionals` schema, any positional argument is an error.
 */
export function parseCli<S extends z.ZodType, P extends z.ZodType>(
  argv: string[],
  spec: CliSpecWithPositionals<S, P>,
): CliParse<z.output<S>, z.output<P>>;
export function parseCli<S extends z.ZodType>(
  argv: string[],
  spec: CliSpec<S>,
): CliParse<z.output<S>, string[]>;
export function parseCli(
  argv: string[],
  spec: CliSpec<z.ZodType> & { positionals?: z.ZodType },
): CliParse<unknown, unknown> {
  const options = withHelp(spec.options);
  const parsed = parseArgs({
    args: argv,
    options: Object.fromEntries(
      Object.entries(options).map(([name, o]) => [name, parseArgsConfig(o)]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  // --help wins over every other mistake on the line: the user is asking how to fix it.
  if (parsed.tokens.some((t) => t.kind === "option" && t.name === "help")) {
    return { kind: "help", text: formatHelp(spec) };
  }

  const positionals: string[] = [];
  for (const token of parsed.tokens) {
    if (token.kind === "positional") positionals.push(token.value);
    if (token.kind !== "option") continue;
    // hasOwn: a flag named --constructor must not find Object.prototype.constructor.
    if (!Object.hasOwn(options, token.name)) {
      throw unknownFlag(token.rawName, Object.keys(options));
    }
    checkValue(token.rawName, options[token.name], token.value, token.inlineValue === true);
  }

  const values: Record<string, unknown> = parsed.values;
  const result = spec.schema.safeParse(values, { error: phrase });
  if (!result.success) throw flagError(result.error.issues[0], values);

  if (spec.positionals === undefined) {
    if (positionals.length > 0) {
      throw new UserError(`unexpected argument "${positionals[0]}" (see --help)`);
    }
    return { kind: "run", values: result.data, positionals: [] };
  }
  const pos = spec.positionals.safeParse(positionals, { error: phrase });
  if (!pos.success) throw positionalError(pos.error.issues[0], positionals);
  return { kind: "run", values: result.data, positionals: pos.data };
}

/** The `--help` text: the usage lines, then one aligned line per flag. */
export function formatHelp(spec: { options: Record<string, CliOption>; usage: string }): string {
  const entries = Object.entries(withHelp(spec.options)).map(([name, o]) => {
    const short = o.short === undefined ? "    " : `-${o.short}, `;
    const value = o.type === "string" ? ` ${o.valueName ?? "<value>"}` : "";
    const dflt = o.default === undefined ? "" : ` (default: ${String(o.default)})`;
    return [`  ${short}--${name}${value}`, o.help + dflt] as const;
  });
  const width = Math.max(...entries.map(([flag]) => flag.length)) + 2;
  const lines = entries.map(([flag, help]) => flag.padEnd(width) + help);
  return `${spec.usage.trimEnd()}\n\noptions:\n${lines.join("\n")}\n`;
}

const HELP: CliOption = { type: "boolean", short: "h", help: "show this help and exit" };

function withHelp(options: Record<string, CliOption>): Record<string, CliOption> {
  return "help" in options ? options : { ...options, help: HELP };
}

// parseArgs' own config type; `help`/`valueName` are ours and must not reach it.
function parseArgsConfig(o: CliOption) {
  return {
    type: o.type,
    ...(o.short === undefined ? {} : { short: o.short }),
    ...(o.multiple === undefined ? {} : { multiple: o.multiple }),
    ...(o.default === undefined ? {} : { default: o.default }),
  };
}

/**
 * parseArgs (non-strict) takes the next argument as a string flag's value even when it is
 * another flag, and lets a boolean flag carry `=value`; both are mistakes worth naming.
 */
function checkValue(raw: string, option: CliOption, value: string | undefined, inline: boolean) {
  if (option.type === "boolean") {
    if (value !== undefined) throw new UserError(`${raw}: takes no value, got "${value}"`);
    return;
  }
  // An empty value would silently coerce to 0 or "" in the schema.
  if (value === undefined || value === "") throw new UserError(`${raw}: missing value`);
  const looksLikeFlag = value.startsWith("-") && !/^-(\d|\.\d)/.test(value);
  if (!inline && looksLikeFlag) {
    throw new UserError(
      `${raw}: missing value (got flag ${value}; write ${raw}=${value} if meant)`,
    );
  }
}

function unknownFlag(raw: string, known: string[]): UserError {
  const name = raw.replace(/^-+/, "");
  const close = raw.startsWith("--")
    ? known.find((k) => editDistance(k, name) <= Math.min(2, Math.floor(k.length / 3)))
    : undefined;
  const hint = close === undefined ? "" : `; did you mean --${close}?`;
  return new UserError(`unknown flag ${raw} (see --help${hint})`);
}

/** Per-parse zod error map: short phrases; messages set in the schema itself still win. */
function phrase(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined) return "is required";
      return `expected ${article(issue.expected === "int" ? "integer" : issue.expected)}`;
    case "invalid_value":
      return `expected one of ${issue.values.map((v) => String(v)).join(", ")}`;
    case "too_small":
      return bound(issue.origin, issue.minimum, issue.inclusive ?? true, "small");
    case "too_big":
      return bound(issue.origin, issue.maximum, issue.inclusive ?? true, "big");
    default:
      return undefined;
  }
}

function bound(origin: string, limit: number | bigint, inclusive: boolean, side: string) {
  const n = Number(limit);
  if (origin === "number" || origin === "bigint" || origin === "int") {
    if (side === "small" && n === 0) {
      return inclusive ? "expected a number >= 0" : "expected a positive number";
    }
    if (side === "big" && n === 0) {
      return inclusive ? "expected a number <= 0" : "expected a negative number";
    }
    return `expected a number ${side === "small" ? ">" : "<"}${inclusive ? "=" : ""} ${n}`;
  }
  const count = inclusive ? n : side === "small" ? n + 1 : n - 1;
  const unit = origin === "array" || origin === "set" ? "value" : "character";
  const plural = count === 1 ? "" : "s";
  return `expected ${side === "small" ? "at least" : "at most"} ${count} ${unit}${plural}`;
}

function article(noun: string): string {
  return /^[aeiou]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function flagError(issue: z.core.$ZodIssue, values: Record<string, unknown>): UserError {
  const [name, index] = issue.path;
  if (typeof name !== "string") return new UserError(`invalid options: ${issue.message}`);
  const raw = values[name];
  if (raw === undefined && issue.code === "invalid_type") {
    return new UserError(`missing required flag --${name} (see --help)`);
  }
  const given = Array.isArray(raw) && typeof index === "number" ? raw[index] : raw;
  const got = given === undefined ? "" : `, got ${JSON.stringify(given)}`;
  return new UserError(`--${name}: ${issue.message}${got}`);
}

function positionalError(issue: z.core.$ZodIssue, positionals: string[]): UserError {
  const [index] = issue.path;
  if (typeof index !== "number") {
    const problem = issue.message.replace(/value(s?)\b/, "argument$1");
    return new UserError(`arguments: ${problem}, got ${positionals.length} (see --help)`);
  }
  const given = positionals[index];
  const got = given === undefined ? "" : `, got ${JSON.stringify(given)}`;
  return new UserError(`argument ${index + 1}: ${issue.message}${got}`);
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length];
}
