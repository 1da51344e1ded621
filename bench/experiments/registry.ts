/** The experiments in the order `deno task bench` runs them. */
import type { BenchContext, ResultFile } from "../lib/output.ts";
import * as defaults from "./defaults.ts";
import * as learning from "./learning.ts";
import * as memory from "./memory.ts";
import * as peer from "./peer.ts";
import * as stepCost from "./step_cost.ts";
import * as structure from "./structure.ts";
import * as tangents from "./tangents.ts";
import * as timeToTarget from "./time_to_target.ts";
import * as workers from "./workers.ts";

export interface Experiment {
  NAME: string;
  TITLE: string;
  run(ctx: BenchContext): Promise<ResultFile<unknown>>;
}

export const EXPERIMENTS: Experiment[] = [
  stepCost,
  peer,
  tangents,
  workers,
  timeToTarget,
  memory,
  defaults,
  learning,
  structure,
];
