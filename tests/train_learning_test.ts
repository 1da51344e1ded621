import assert from "node:assert/strict";
import { train } from "../src/train/run.ts";
import { tempOut, testConfig } from "./train_helpers.ts";

// These fail if learning breaks: fixed step budgets, accuracy thresholds well above chance.

Deno.test("forward-gradient logistic regression reaches 95% test accuracy on penguins", async () => {
  const { summary } = await train(
    testConfig({
      model: "logreg",
      method: "forward",
      steps: 400,
      tangents: 4,
      lrForward: 0.05,
      out: await tempOut(),
    }),
  );
  const run = summary.runs[0];
  assert.equal(run.method, "forward");
  assert.equal(run.steps, 400);
  assert.ok(run.final.testAccuracy >= 0.95, `test accuracy ${run.final.testAccuracy}`);
});

Deno.test("the MLP reaches 95% test accuracy on penguins both ways", async () => {
  const { summary } = await train(
    testConfig({ model: "mlp", method: "both", steps: 400, tangents: 4, out: await tempOut() }),
  );
  for (const run of summary.runs) {
    assert.ok(
      run.final.testAccuracy >= 0.95,
      `${run.method}: test accuracy ${run.final.testAccuracy}`,
    );
  }
});

Deno.test("the CNN beats chance by a wide margin on the KMNIST re-split both ways", async () => {
  const { summary } = await train(testConfig({
    model: "cnn",
    dataset: "kmnist",
    trainCount: 500,
    testCount: 200,
    method: "both",
    steps: 300,
    tangents: 4,
    lrForward: 0.01,
    lrBackprop: 0.05,
    out: await tempOut(),
  }));
  // Chance is 10%. Forward gradients of 9k parameters with 8 tangents a step learn far more
  // slowly per step than backprop (cosine to the gradient ≈ √(8/9k) ≈ 0.03), hence two bars.
  const [forward, backprop] = summary.runs;
  assert.ok(
    forward.final.testAccuracy >= 0.2,
    `forward: test accuracy ${forward.final.testAccuracy}`,
  );
  assert.ok(
    backprop.final.testAccuracy >= 0.5,
    `backprop: test accuracy ${backprop.final.testAccuracy}`,
  );
  assert.ok(summary.dataset.split.includes("re-split"), summary.dataset.split);
});

Deno.test("shared Rademacher tangents also train logistic regression to 95% on penguins", async () => {
  const { summary } = await train(testConfig({
    model: "logreg",
    method: "forward",
    steps: 400,
    tangents: 4,
    tangentMode: "shared",
    tangentDist: "rademacher",
    lrForward: 0.05,
    out: await tempOut(),
  }));
  assert.ok(summary.runs[0].final.testAccuracy >= 0.95, `${summary.runs[0].final.testAccuracy}`);
});

Deno.test("a target loss stops each method once its smoothed training loss is below it", async () => {
  const { summary } = await train(
    testConfig({
      model: "mlp",
      method: "both",
      steps: 2000,
      tangents: 4,
      targetLoss: 0.3,
      out: await tempOut(),
    }),
  );
  for (const run of summary.runs) {
    assert.ok(run.reachedTarget, `${run.method} did not reach the target`);
    assert.equal(run.steps, run.stepsToTarget);
    assert.ok(run.steps < 2000);
    assert.ok(run.secondsToTarget! > 0 && run.secondsToTarget! <= run.wallSeconds);
  }
});
