import assert from "node:assert/strict";

// The import rules between src/ad's folders: production code never imports the checker, the
// rules and the host reference helpers never import the drivers or the table, the emitter and
// the rule interface do not import each other, and the transforms do not depend on src/data.

const AD = new URL("../src/ad/", import.meta.url);
const SRC = new URL("../src/", import.meta.url);

function relativeToAd(url: URL): string {
  const path = url.pathname;
  if (path.startsWith(AD.pathname)) return path.slice(AD.pathname.length);
  if (path.startsWith(SRC.pathname)) return `../${path.slice(SRC.pathname.length)}`;
  return path;
}

/** Every .ts file under src/ad, as a path relative to src/ad, with what it imports. */
function adImports(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (dir: URL, prefix: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      if (entry.isDirectory) walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
      else if (entry.name.endsWith(".ts")) {
        const file = `${prefix}${entry.name}`;
        const text = Deno.readTextFileSync(new URL(entry.name, dir));
        const specs = [...text.matchAll(/^(?:import|export)\b[^;]*?from "([^"]+)";/gms)].map(
          (m) => m[1],
        );
        // Relative imports as paths relative to src/ad ("rules/x.ts", "../data/x.ts").
        out.set(
          file,
          specs.filter((s) => s.startsWith(".")).map((s) =>
            relativeToAd(new URL(s, new URL(file, AD)))
          ),
        );
      }
    }
  };
  walk(AD, "");
  return out;
}

const IMPORTS = adImports();

function offenders(from: (file: string) => boolean, to: (dep: string) => boolean): string[] {
  return [...IMPORTS].flatMap(([file, deps]) =>
    from(file) ? deps.filter(to).map((d) => `${file} -> ${d}`) : []
  );
}

Deno.test("the import scan sees src/ad's files and resolves their imports", () => {
  assert.ok(IMPORTS.get("table.ts")!.includes("rules/layout.ts"));
  assert.ok(IMPORTS.get("check/check_grads.ts")!.includes("../random/seeded.ts"));
});

Deno.test("no src/ad file outside check/ imports the gradient checker", () => {
  assert.deepEqual(offenders((f) => !f.startsWith("check/"), (d) => d.startsWith("check/")), []);
});

Deno.test("rules and host ndarray code import neither the drivers nor the table", () => {
  const drivers = ["jvp.ts", "vjp.ts", "prepare.ts", "table.ts", "fold.ts"];
  assert.deepEqual(
    offenders(
      (f) => f.startsWith("rules/") || f === "host/ndarray.ts" || f === "host/movement.ts",
      (d) => drivers.includes(d) || d.startsWith("check/"),
    ),
    [],
  );
});

Deno.test("the emitter and the rule interface do not import each other", () => {
  assert.deepEqual(offenders((f) => f === "emit.ts", (d) => d === "rule.ts"), []);
});

Deno.test("the transforms do not depend on the data loaders", () => {
  assert.deepEqual(offenders(() => true, (d) => d.startsWith("../data/")), []);
});
