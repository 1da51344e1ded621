/**
 * What a configuration asks of this dataset and this machine, checked before any worker
 * starts: a batch larger than the training split, or more workers than examples in a batch,
 * is clamped (with a notice, and the effective values are what the run records); a
 * configuration whose tangents cannot fit in memory is refused, naming the flag.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { TrainConfig } from "./config.ts";

export interface FitInput {
  trainCount: number;
  /** Feature values per example. */
  featureSize: number;
  /** Trainable parameters. */
  parameters: number;
  /** Whether the forward-gradient method will run. */
  forward: boolean;
}

/** The configuration with batch size and workers clamped to what the data allows. */
export function fitConfig(
  config: TrainConfig,
  input: FitInput,
  notice: (line: string) => void,
): TrainConfig {
  let { batchSize, workers } = config;
  if (batchSize > input.trainCount) {
    notice(
      `--batch-size ${batchSize} is more than the ${input.trainCount} training examples; ` +
        `using ${input.trainCount}`,
    );
    batchSize = input.trainCount;
  }
  if (input.forward && workers > batchSize) {
    notice(
      `--workers ${workers} is more than the ${batchSize} examples in a batch; using ${batchSize}`,
    );
    workers = batchSize;
  }
  return batchSize === config.batchSize && workers === config.workers
    ? config
    : { ...config, batchSize, workers };
}

/**
 * Rough bytes the forward-gradient workers hold: K float32 tangents (and estimates) of every
 * parameter per worker, plus K tangent copies of each worker's share of the batch.
 */
export function estimateForwardBytes(config: TrainConfig, input: FitInput): number {
  const k = config.tangents;
  const perWorkerBatch = Math.ceil(config.batchSize / config.workers);
  return 4 * config.workers * (k * input.parameters * 2 + k * perWorkerBatch * input.featureSize);
}

/** Refuses a configuration whose forward workers would need more than `memoryBytes`. */
export function assertFitsMemory(
  config: TrainConfig,
  input: FitInput,
  memoryBytes = systemMemoryBytes(),
): void {
  if (!input.forward || memoryBytes === null) return;
  const need = estimateForwardBytes(config, input);
  if (need <= memoryBytes) return;
  throw new UserError(
    `--tangents ${config.tangents}: needs about ${gib(need)} (tangents × parameters × ` +
      `workers: ${config.tangents} × ${input.parameters} × ${config.workers}), more than this ` +
      `machine's ${gib(memoryBytes)} of memory; use fewer --tangents or --workers`,
  );
}

function systemMemoryBytes(): number | null {
  try {
    return Deno.systemMemoryInfo().total;
  } catch {
    return null;
  }
}

function gib(bytes: number): string {
  const g = bytes / 2 ** 30;
  return g >= 1e6 ? `${g.toExponential(1)} GiB` : `${g.toPrecision(3)} GiB`;
}
