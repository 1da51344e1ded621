/**
 * Selecting trainable parameters by name with globs (`--train`, `--freeze`).
 *
 * @module
 */
import { UserError } from "../errors.ts";

/**
 * Selecting parameters by name with globs, as `--train` and `--freeze` do.
 *
 * - `*` matches any run of characters, dots included (`*.bias` is every bias, at any depth);
 *   `**` means the same and is accepted for those used to path globs.
 * - `?` matches one character; `[abc]`, `[a-z]` and `[!abc]` match one character of a set.
 * - A pattern also selects everything under a module of that name, as PyTorch names nest
 *   with dots: `features` and `features.*` both select `features.0.weight`.
 * - Matching is case-sensitive and covers the whole name (no implicit leading `*`).
 */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "*") {
      while (pattern[i + 1] === "*") i++;
      re += ".*";
    } else if (c === "?") {
      re += ".";
    } else if (c === "[") {
      const close = pattern.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negated = body.startsWith("!");
      if (negated) body = body.slice(1);
      re += `[${negated ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else {
      re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
    }
  }
  // The name itself, or a module prefix of it (followed by a dot).
  return new RegExp(`^(?:${re})(?:\\..*)?$`);
}

export interface Selection {
  /** Parameters to train, in the given order. */
  trainable: string[];
  /** Parameters kept at their initial values. */
  frozen: string[];
}

/**
 * Splits `names` into trainable and frozen: `train` patterns (if any) choose what trains,
 * otherwise every name not in `frozenByDefault` does; `freeze` patterns then take names out.
 * A pattern that matches no parameter is an error (most likely a typo).
 */
export function selectParameters(
  names: readonly string[],
  options: { train?: readonly string[]; freeze?: readonly string[]; frozenByDefault?: Set<string> },
): Selection {
  const matcher = (flag: string, patterns: readonly string[]) => {
    const res = patterns.map((p) => {
      const re = globToRegExp(p);
      if (!names.some((n) => re.test(n))) {
        const shown = names.slice(0, 8).join(", ") + (names.length > 8 ? ", ..." : "");
        throw new UserError(
          `${flag} "${p}": matches no parameter (parameters: ${shown || "none"})`,
        );
      }
      return re;
    });
    return (n: string) => res.some((re) => re.test(n));
  };
  const train = options.train?.length ? matcher("--train", options.train) : undefined;
  const freeze = options.freeze?.length ? matcher("--freeze", options.freeze) : () => false;
  const trainable: string[] = [];
  const frozen: string[] = [];
  for (const n of names) {
    const chosen = train ? train(n) : !options.frozenByDefault?.has(n);
    (chosen && !freeze(n) ? trainable : frozen).push(n);
  }
  if (names.length > 0 && trainable.length === 0) {
    throw new UserError(
      `--train/--freeze: no trainable parameter is left (all ${names.length} are frozen)`,
    );
  }
  return { trainable, frozen };
}
