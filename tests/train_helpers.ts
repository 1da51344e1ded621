import { type TrainConfig, TrainConfigSchema } from "../src/train/config.ts";

/** A complete config with test-sized defaults; `over` picks what a test varies. */
export function testConfig(over: Partial<TrainConfig>): TrainConfig {
  return TrainConfigSchema.parse({
    model: "mlp",
    dataset: "penguins",
    method: "both",
    workers: 2,
    tangents: 1,
    tangentMode: "independent",
    tangentDist: "normal",
    batchSize: 32,
    optimizer: "sgd",
    lrForward: 0.02,
    lrBackprop: 0.1,
    lrSchedule: "constant",
    lrDecay: 1e-4,
    seed: 0,
    evalEvery: 0,
    json: false,
    ...over,
  });
}

export async function tempOut(): Promise<string> {
  return `${await Deno.makeTempDir({ prefix: "fwdgrad-test-" })}/run`;
}
