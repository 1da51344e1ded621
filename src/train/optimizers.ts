/** Optimizers over the flat parameter vector, updated in place. */
export type OptimizerName = "sgd" | "momentum" | "adam";

export interface Optimizer {
  step(params: Float32Array, grad: Float32Array, lr: number): void;
  /** Internal buffers, for checkpoints. */
  state(): Record<string, Float32Array | number>;
}

export function createOptimizer(name: OptimizerName, n: number, momentum = 0.9): Optimizer {
  switch (name) {
    case "sgd":
      return {
        step(p, g, lr) {
          for (let i = 0; i < n; i++) p[i] -= lr * g[i];
        },
        state: () => ({}),
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
      };
    }
  }
}
