/**
 * Paths as the user typed them. `deno task` runs in the directory of deno.json and says where
 * the user was in INIT_CWD, so a relative path is resolved there (else against the current
 * directory, where it already points, and is left as typed).
 */
import { isAbsolute, join } from "node:path";
import { DATASET_NAMES } from "../data/load.ts";

/** `path` resolved against where the user typed the command. */
export function userPath(path: string): string {
  const base = Deno.env.get("INIT_CWD");
  if (!base || isAbsolute(path) || base === Deno.cwd()) return path;
  return join(base, path);
}

/** A --dataset value: a built-in name as it is, a path resolved as `userPath` does. */
export function datasetArg(value: string): string {
  return (DATASET_NAMES as readonly string[]).includes(value) ? value : userPath(value);
}
