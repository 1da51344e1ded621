/**
 * The one place a CLI's errors turn into output and an exit code. A UserError (bad flag,
 * bad file) is the user's to fix: one line, no stack, exit 2. Anything else is our bug: the
 * full stack, exit 1, so it can be reported.
 */

import { RunError, UserError } from "../errors.ts";

/** Runs `fn` and returns the process exit code, writing any error to `writeError`. */
export async function mainExitCode(
  fn: () => Promise<number>,
  writeError: (line: string) => void = (line) => console.error(line),
): Promise<number> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UserError) {
      writeError(`error: ${err.message.replace(/\s*\n\s*/g, " ")}`);
      return 2;
    }
    if (err instanceof RunError) {
      writeError(`error: ${err.message.replace(/\s*\n\s*/g, " ")}`);
      return err.exitCode;
    }
    writeError(err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err));
    return 1;
  }
}

/** Runs a CLI main and exits the process with its code. Usage: `if (import.meta.main) runMain(main)`. */
export async function runMain(fn: () => Promise<number>): Promise<never> {
  Deno.exit(await mainExitCode(fn));
}
