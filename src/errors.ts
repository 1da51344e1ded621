/**
 * Errors caused by what a user handed in (a flag, a file, a model). The CLI prints
 * `message` as one line and exits with code 2; no stack trace reaches the user.
 */
export class UserError extends Error {
  override name = "UserError";
}

/**
 * A run that stopped for a reason that is neither bad input nor a bug (for example a worker
 * that kept failing). The CLI prints `message` as one line, no stack, and exits with
 * `exitCode` (default 1).
 */
export class RunError extends Error {
  override name = "RunError";
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}

/** Builds a UserError whose message starts with the file (or flag) it concerns. */
export function userError(where: string, problem: string): UserError {
  return new UserError(`${where}: ${problem}`);
}
