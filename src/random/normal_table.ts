/**
 * The table that turns one uniform 32-bit word into a standard normal value.
 *
 * Word layout: the top bit is the sign; the remaining 31 bits, g, give a uniform
 * u = (g + 1/2) / 2^32 in the lower half (0, 1/2), and the value is sign · Φ⁻¹(u). Mirroring
 * by the sign bit makes the distribution exactly symmetric (mean exactly 0, odd moments 0).
 *
 * Of g, the top 15 bits pick one of 2^15 cells of width 2^-16 in u and the low 16 bits are
 * the position inside it, where Φ⁻¹ is interpolated linearly between its values at the cell
 * edges. Cell 0, u < 2^-16 (|z| > 4.17, probability 3·10⁻⁵ with both signs), is the tail:
 * there the sampler evaluates Φ⁻¹ itself, with 32 more bits, so the tails are smooth out to ~9σ.
 *
 * Linear interpolation of Φ⁻¹, concave on (0, 1/2), overshoots |z| a little near the tail:
 * the raw variance is 1 + 4.4·10⁻⁶. We compute the raw second moment in closed form (linear
 * segments plus the exact normal tail) and scale everything by its inverse square root, so the
 * variance is 1 to float precision and E[v vᵀ] = I, which is what keeps the forward gradient
 * unbiased; the fourth moment is then 3 + 1.1·10⁻⁴. (Both are checked in closed form by
 * tests/random_moments_test.ts.)
 *
 * @module
 */

import { inverseNormalCdf } from "./inverse_normal_cdf.ts";

/** Bits of the word that select the position inside a cell. */
export const FRACTION_BITS = 16;
/** Cells covering the lower half of (0, 1); cell 0 is the tail. */
export const CELL_COUNT = 2 ** 15;

/** The built table: all values already multiplied by `scale`. */
export interface NormalTable {
  /**
   * For cell j ≥ 1, value(f) = cells[2j] + cells[2j + 1] · f for f in [0, 2^16): the value
   * at the cell's left edge plus half a step (so f samples the midpoints), and the step.
   * Cell 0 (the tail) holds zeros; the sampler computes those values separately.
   */
  readonly cells: Float32Array;
  /** The variance correction, applied to the tail draws too. */
  readonly scale: number;
  /** Φ⁻¹(2^-16): the (unscaled) edge between the tail and the table. */
  readonly tailEdge: number;
}

const STEPS_PER_CELL = 2 ** FRACTION_BITS;
/** Probability of each of the 2^16 cells across (0, 1). */
const CELL_MASS = 2 ** -16;

function normalDensity(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** E[z² ; z < a] for a standard normal z, given P(z < a) = mass. */
function lowerTailSecondMoment(a: number, mass: number): number {
  return mass - a * normalDensity(a);
}

function build(): NormalTable {
  // Φ⁻¹ at the cell edges of the lower half; edges[CELL_COUNT] = Φ⁻¹(1/2) = 0.
  const edges = new Float64Array(CELL_COUNT + 1);
  for (let j = 1; j < CELL_COUNT; j++) edges[j] = inverseNormalCdf(j * CELL_MASS);
  // Second moment of the sampler before correction: a linear segment a + b·t, t ~ U(0, 1),
  // has E[(a + b t)²] = a² + a b + b²/3; both halves are mirror images.
  let half = lowerTailSecondMoment(edges[1], CELL_MASS);
  for (let j = 1; j < CELL_COUNT; j++) {
    const a = edges[j];
    const b = edges[j + 1] - a;
    half += (a * a + a * b + b * b / 3) * CELL_MASS;
  }
  const scale = 1 / Math.sqrt(2 * half);
  const cells = new Float32Array(2 * CELL_COUNT);
  for (let j = 1; j < CELL_COUNT; j++) {
    const step = (edges[j + 1] - edges[j]) / STEPS_PER_CELL;
    cells[2 * j] = (edges[j] + 0.5 * step) * scale;
    cells[2 * j + 1] = step * scale;
  }
  return { cells, scale, tailEdge: edges[1] };
}

let table: NormalTable | undefined;

/** The table, built on first use (~10 ms) and shared by every sampler in this thread. */
export function normalTable(): NormalTable {
  table ??= build();
  return table;
}
