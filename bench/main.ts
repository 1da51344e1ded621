/**
 * `deno task bench [--quick] [--only a,b] [--render-only] [--out DIR]`: runs the benchmark
 * experiments, writes one JSON per experiment plus SVG plots, and regenerates RESULTS.md
 * (and README_SECTION.md) from every result file in the output directory.
 *
 * Full runs write bench/results/ and bench/RESULTS.md (committed); --quick writes
 * bench/quick/ (ignored), so a smoke run never overwrites the committed results.
 */
import { parseArgs } from "node:util";
import { z } from "zod";
import { EXPERIMENTS } from "./experiments/registry.ts";
import { waitForQuiet } from "./lib/machine.ts";
import type { BenchContext } from "./lib/output.ts";
import { writeReports } from "./report/results_md.ts";

const HERE = new URL(".", import.meta.url).pathname.replace(/\/$/, "");

const Flags = z.strictObject({
  quick: z.boolean().default(false),
  only: z.string().optional(),
  "render-only": z.boolean().default(false),
  out: z.string().optional(),
  list: z.boolean().default(false),
  "no-wait": z.boolean().default(false),
  help: z.boolean().default(false),
});

const USAGE = `deno task bench [--quick] [--only ${
  EXPERIMENTS.map((e) => e.NAME).join(",")
}] [--render-only] [--out DIR] [--no-wait] [--list]

A full run waits (up to 2 minutes) before each experiment for other processes to leave the
cores idle; --no-wait skips that, and --quick never waits.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      only: { type: "string" },
      "render-only": { type: "boolean" },
      out: { type: "string" },
      list: { type: "boolean" },
      "no-wait": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  const flags = Flags.parse(values);
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (flags.list) {
    for (const e of EXPERIMENTS) console.log(`${e.NAME}\t${e.TITLE}`);
    return 0;
  }
  const names = flags.only?.split(",").map((s) => s.trim()).filter(Boolean) ??
    EXPERIMENTS.map((e) => e.NAME);
  const unknown = names.filter((n) => !EXPERIMENTS.some((e) => e.NAME === n));
  if (unknown.length > 0) {
    console.error(
      `unknown experiment(s): ${unknown.join(", ")}; choose from ${
        EXPERIMENTS.map((e) => e.NAME).join(", ")
      }`,
    );
    return 2;
  }
  const reportDir = flags.out ?? (flags.quick ? `${HERE}/quick` : HERE);
  const ctx: BenchContext = {
    quick: flags.quick,
    outDir: `${reportDir}/results`,
    command: ["deno task bench", ...Deno.args].join(" "),
    log: (m) => console.log(m),
  };
  const t0 = performance.now();
  if (!flags["render-only"]) {
    for (const e of EXPERIMENTS.filter((e) => names.includes(e.NAME))) {
      const t = performance.now();
      ctx.log(`== ${e.NAME}: ${e.TITLE}${ctx.quick ? " (quick)" : ""}`);
      if (!ctx.quick && !flags["no-wait"]) await waitForQuiet({ maxSeconds: 120 }, ctx.log);
      await e.run(ctx);
      ctx.log(`   done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    }
  }
  const root = new URL("..", import.meta.url).pathname;
  const linkBase = reportDir.startsWith(root)
    ? reportDir.slice(root.length).replace(/\/$/, "")
    : reportDir;
  const written = await writeReports(reportDir, ctx.outDir, linkBase);
  ctx.log(`wrote ${written.join(", ")} (${((performance.now() - t0) / 1000).toFixed(1)} s in all)`);
  return 0;
}

Deno.exit(await main());
