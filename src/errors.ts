/**
 * Errors caused by what a user handed in (a flag, a file, a model). The CLI prints
 * `message` as one line and exits with code 2; no stack trace reaches the user.
 */
export class UserError extends Error {
  override name = "UserError";
}

/** Builds a UserError whose message starts with the file (or flag) it concerns. */
export function userError(where: string, problem: string): UserError {
  return new UserError(`${where}: ${problem}`);
}
