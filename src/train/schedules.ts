/**
 * Learning-rate schedules as functions of the step index i (0-based).
 *
 * @module
 */
import type { z } from "zod";
import type { LrScheduleSchema } from "./config.ts";

/** The schedule names (the config's `lrSchedule` option). */
export type ScheduleName = z.infer<typeof LrScheduleSchema>;

/**
 * constant: η₀. exp: η₀·e^(−i·k), the forward-gradient paper's decay (k = 1e-4 there).
 * cosine: η₀·½(1 + cos(π·i/total)), annealing to 0 at the last step.
 */
export function learningRate(
  name: ScheduleName,
  lr0: number,
  i: number,
  options: { decay?: number; totalSteps?: number } = {},
): number {
  switch (name) {
    case "constant":
      return lr0;
    case "exp":
      return lr0 * Math.exp(-i * (options.decay ?? 1e-4));
    case "cosine": {
      const total = Math.max(1, options.totalSteps ?? 1);
      return lr0 * 0.5 * (1 + Math.cos(Math.PI * Math.min(i, total) / total));
    }
  }
}
