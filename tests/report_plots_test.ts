import assert from "node:assert/strict";
import { renderLinePlot, TRAINING_PLOT_FILES, writeTrainingPlots } from "../src/report/plots.ts";
import type { TrainingMetricsRow } from "../src/report/plots.ts";

function includes(text: string, part: string): void {
  assert.ok(text.includes(part), `expected ${JSON.stringify(part)} in ${text.slice(0, 200)}`);
}

function metrics(): TrainingMetricsRow[] {
  const rows: TrainingMetricsRow[] = [];
  for (const method of ["forward", "backprop"]) {
    for (let step = 0; step <= 50; step += 5) {
      const evaluated = step % 25 === 0;
      rows.push({
        method,
        step,
        epoch: Math.floor(step / 20),
        wallSeconds: step * (method === "forward" ? 0.02 : 0.05),
        trainLoss: 2 / (1 + step),
        testLoss: evaluated ? 2.2 / (1 + step) : null,
        testAccuracy: evaluated ? 0.5 + step / 200 : null,
        misclassified: evaluated ? 500 - step * 5 : null,
      });
    }
  }
  return rows;
}

Deno.test("a line plot renders as SVG with every series name and both axis titles", async () => {
  const svg = await renderLinePlot({
    title: "Loss vs step",
    xField: "step",
    xTitle: "Training step",
    yField: "loss",
    yTitle: "Cross-entropy loss",
    seriesField: "method",
    logY: true,
    points: true,
    rows: [
      { method: "forward", step: 0, loss: 2.3 },
      { method: "forward", step: 10, loss: 1.1 },
      { method: "backprop", step: 0, loss: 2.3 },
      { method: "backprop", step: 10, loss: 0.4 },
    ],
  });
  assert.ok(svg.startsWith("<svg"), svg.slice(0, 80));
  assert.ok(svg.trimEnd().endsWith("</svg>"));
  for (
    const text of ["forward", "backprop", "Training step", "Cross-entropy loss", "Loss vs step"]
  ) {
    includes(svg, text);
  }
});

Deno.test("a log-scale plot drops non-positive and non-finite values instead of failing", async () => {
  const svg = await renderLinePlot({
    title: "t",
    xField: "x",
    xTitle: "X axis",
    yField: "y",
    yTitle: "Y axis",
    seriesField: "method",
    logY: true,
    rows: [
      { method: "forward", x: 0, y: 1 },
      { method: "forward", x: 1, y: 0 },
      { method: "forward", x: 2, y: NaN },
      { method: "forward", x: 3, y: 0.5 },
    ],
  });
  assert.ok(!svg.includes("NaN"), "SVG must not contain NaN coordinates");
});

Deno.test("writeTrainingPlots writes the six comparison plots", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/plots`;
    const written = await writeTrainingPlots(out, metrics());
    assert.deepStrictEqual(written, TRAINING_PLOT_FILES.map((f) => `${out}/${f}`));
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepStrictEqual(names, [...TRAINING_PLOT_FILES].sort());
    const loss = await Deno.readTextFile(`${out}/loss-vs-time.svg`);
    for (const s of ["forward train", "forward test", "backprop train", "backprop test"]) {
      includes(loss, s);
    }
    includes(loss, "Wall time (s)");
    const acc = await Deno.readTextFile(`${out}/accuracy-vs-step.svg`);
    includes(acc, "Test accuracy (%)");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
