/**
 * Optimizers over the flat parameter vector, updated in place.
 *
 * @module
 */
import type { z } from "zod";
import type { OptimizerSchema } from "./config.ts";

/** The optimizer names (the config's `optimizer` option). */
export type OptimizerName = z.infer<typeof OptimizerSchema>;

/** An optimizer's internal state: its buffers and counters (what a checkpoint stores). */
export type OptimizerState = Record<string, Float32Array | number>;

export interface Optimizer {
  step(params: Float32Array, grad: Float32Array, lr: number): void;
  /** Internal buffers and counters, for checkpoints (live views: copy before keeping). */
  state(): OptimizerState;
  /**
   * Restores a state taken by `state()` (copied in), so the next `step` continues exactly
   * where the saved optimizer stopped. Throws a RangeError when it does not fit.
   */
  load(state: OptimizerState): void;
}

export function createOptimizer(name: OptimizerName, n: number, momentum = 0.9): Optimizer {
  switch (name) {
    case "sgd":
      return {
        step(p, g, lr) {
          for (let i = 0; i < n; i++) p[i] -= lr * g[i];
        },
        state: () => ({}),
        load: (state) => expectKeys(name, state, {}),
      };
    case "momentum": {
      const v = new Float32Array(n);
      return {
        step(p, g, lr) {
          for (let i = 0; i < n; i++) {
            v[i] = momentum * v[i] + g[i];
            p[i] -= lr * v[i];
          }
        },
        state: () => ({ velocity: v }),
        load(state) {
          expectKeys(name, state, { velocity: n });
          v.set(state.velocity as Float32Array);
        },
      };
    }
    case "adam": {
      // Kingma & Ba (2015), default betas and epsilon.
      const b1 = 0.9, b2 = 0.999, eps = 1e-8;
      const m = new Float32Array(n);
      const s = new Float32Array(n);
      let t = 0;
      return {
        step(p, g, lr) {
          t++;
          const c1 = 1 - b1 ** t;
          const c2 = 1 - b2 ** t;
          for (let i = 0; i < n; i++) {
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            s[i] = b2 * s[i] + (1 - b2) * g[i] * g[i];
            p[i] -= (lr * (m[i] / c1)) / (Math.sqrt(s[i] / c2) + eps);
          }
        },
        state: () => ({ m, s, t }),
        load(state) {
          expectKeys(name, state, { m: n, s: n, t: -1 });
          m.set(state.m as Float32Array);
          s.set(state.s as Float32Array);
          t = state.t as number;
        },
      };
    }
  }
}

/** Checks a state's keys: length n for a buffer, -1 for a non-negative integer counter. */
function expectKeys(name: string, state: OptimizerState, shape: Record<string, number>): void {
  const want = Object.keys(shape).sort().join(",");
  const got = Object.keys(state).sort().join(",");
  if (want !== got) throw new RangeError(`${name} optimizer state needs {${want}}, got {${got}}`);
  for (const [key, len] of Object.entries(shape)) {
    const value = state[key];
    const ok = len < 0
      ? typeof value === "number" && Number.isInteger(value) && value >= 0
      : value instanceof Float32Array && value.length === len;
    if (!ok) {
      throw new RangeError(
        `${name} optimizer state: ${key} does not fit (expected ${
          len < 0 ? "a counter" : `${len} floats`
        })`,
      );
    }
  }
}
