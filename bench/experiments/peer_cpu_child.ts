/**
 * Child of the peer experiment: one TensorFlow.js backprop step with the pure-JavaScript
 * "cpu" backend (the fallback when the WASM backend lacks a gradient kernel). Prints
 * `stepMs=<ms>`; the parent kills it when it takes too long.
 */
import * as tf from "@tensorflow/tfjs";
import { isModelName } from "../../src/onnx/models/registry.ts";
import { fixture } from "../lib/fixtures.ts";
import { tfjsModel } from "../lib/tfjs_peer.ts";

const name = Deno.args[0];
if (!isModelName(name)) throw new Error(`unknown model ${name}`);
await tf.setBackend("cpu");
const f = await fixture(name);
const peer = tfjsModel(f);
const t0 = performance.now();
peer.step();
console.log(`stepMs=${(performance.now() - t0).toFixed(1)}`);
peer.dispose();
