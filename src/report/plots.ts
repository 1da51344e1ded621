/**
 * SVG line plots rendered headless with vega-lite → vega. The "none" renderer plus
 * `toSVG()` needs no canvas, no fonts (text widths are estimated) and no network (the data
 * is inlined), so plots render the same in CI, in a container and on a laptop.
 */

import * as vega from "vega";
import * as vegaLite from "vega-lite";
import { writeFileAtomic } from "../fs/atomic.ts";

export type PlotRow = Record<string, number | string>;

export interface LinePlotOptions {
  title: string;
  xField: string;
  xTitle: string;
  yField: string;
  yTitle: string;
  rows: readonly PlotRow[];
  /** Field whose values name the series: one coloured line each, sharing the axes. */
  seriesField: string;
  /** Log-scale y axis; rows whose y is not positive are dropped (log 0 is undefined). */
  logY?: boolean;
  /** Draw a marker at every data point (useful for sparse series such as evaluations). */
  points?: boolean;
  /** Fixed colour per series name, so a method keeps its colour from plot to plot. */
  colors?: Record<string, string>;
  width?: number;
  height?: number;
}

/** Renders a multi-series line plot and returns the SVG document as text. */
export async function renderLinePlot(options: LinePlotOptions): Promise<string> {
  const { xField, yField, seriesField, logY = false } = options;
  // Diverged runs produce NaN/Infinity losses; vega would draw them as gaps or garbage axes.
  const rows = options.rows.filter((row) => {
    const x = row[xField];
    const y = row[yField];
    return typeof x === "number" && Number.isFinite(x) && typeof y === "number" &&
      Number.isFinite(y) && (!logY || y > 0) && row[seriesField] !== undefined;
  });
  const spec: vegaLite.TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: options.title,
    width: options.width ?? 560,
    height: options.height ?? 320,
    background: "white",
    // Copies the rows: vega annotates its data objects in place.
    data: { values: rows.map((row) => ({ ...row })) },
    mark: { type: "line", point: options.points ?? false, clip: true },
    encoding: {
      x: { field: xField, type: "quantitative", title: options.xTitle },
      y: {
        field: yField,
        type: "quantitative",
        title: options.yTitle,
        scale: logY ? { type: "log" } : { zero: false },
      },
      // Sorted domain so each series keeps its colour across every plot of a run.
      color: {
        field: seriesField,
        type: "nominal",
        title: seriesField,
        sort: "ascending",
        ...(options.colors === undefined
          ? {}
          : { scale: colorScale(rows, seriesField, options.colors) }),
      },
      order: { field: xField, type: "quantitative" },
    },
  };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Vega's default palette (tableau10), for series without a fixed colour. */
const PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2"];

function colorScale(rows: readonly PlotRow[], field: string, colors: Record<string, string>) {
  const domain = [...new Set(rows.map((r) => String(r[field])))].sort();
  const range = domain.map((name, i) => colors[name] ?? PALETTE[i % PALETTE.length]);
  return { domain, range };
}

/** Each method's colour; its test-set series use a lighter shade of the same hue. */
const METHOD_COLORS: Record<string, string> = {
  "forward": "#f58518",
  "forward train": "#f58518",
  "forward test": "#ffbf79",
  "backprop": "#4c78a8",
  "backprop train": "#4c78a8",
  "backprop test": "#9ecae9",
};

/** One row of a run's metrics; test fields are absent on steps without an evaluation. */
export interface TrainingMetricsRow {
  method: string;
  step: number;
  epoch: number;
  wallSeconds: number;
  trainLoss?: number | null;
  testLoss?: number | null;
  /** Fraction in [0, 1]; plotted as a percentage. */
  testAccuracy?: number | null;
  misclassified?: number | null;
}

/** The file names written by `writeTrainingPlots`, in writing order. */
export const TRAINING_PLOT_FILES = [
  "loss-vs-step.svg",
  "loss-vs-time.svg",
  "accuracy-vs-step.svg",
  "accuracy-vs-time.svg",
  "misclassified-vs-step.svg",
  "misclassified-vs-time.svg",
] as const;

/** Beyond this many points per series an SVG gets large and slow to open, with no gain. */
const MAX_POINTS_PER_SERIES = 2000;

/**
 * Writes the forward-gradient study's three comparisons (loss, test accuracy, misclassified
 * test examples), each against step and against wall time, with both methods on the same
 * axes. Returns the paths written.
 */
export async function writeTrainingPlots(
  outDir: string,
  metricsRows: readonly TrainingMetricsRow[],
): Promise<string[]> {
  const loss = thin(
    metricsRows.flatMap((r) => [
      ...lossRow(r, "train", r.trainLoss),
      ...lossRow(r, "test", r.testLoss),
    ]),
  );
  const accuracy = thin(
    metricsRows.flatMap((r) =>
      isNum(r.testAccuracy) ? [{ ...axes(r), method: r.method, value: 100 * r.testAccuracy }] : []
    ),
  );
  const wrong = thin(
    metricsRows.flatMap((r) =>
      isNum(r.misclassified) ? [{ ...axes(r), method: r.method, value: r.misclassified }] : []
    ),
  );
  const plots: { name: string; title: string; rows: PlotRow[]; series: string; y: string }[] = [
    { name: "loss", title: "Loss", rows: loss, series: "series", y: "Loss (log scale)" },
    {
      name: "accuracy",
      title: "Test accuracy",
      rows: accuracy,
      series: "method",
      y: "Test accuracy (%)",
    },
    {
      name: "misclassified",
      title: "Misclassified test examples",
      rows: wrong,
      series: "method",
      y: "Misclassified test examples",
    },
  ];
  await Deno.mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const plot of plots) {
    for (const [suffix, xField, xTitle] of X_AXES) {
      const svg = await renderLinePlot({
        title: `${plot.title} vs ${suffix === "step" ? "step" : "wall time"}`,
        xField,
        xTitle,
        yField: "value",
        yTitle: plot.y,
        rows: plot.rows,
        seriesField: plot.series,
        logY: plot.name === "loss",
        // Test metrics exist only at evaluations: markers show where they were taken.
        points: plot.name !== "loss",
        colors: METHOD_COLORS,
      });
      const path = `${outDir}/${plot.name}-vs-${suffix}.svg`;
      await writeFileAtomic(path, svg);
      written.push(path);
    }
  }
  return written;
}

const X_AXES = [["step", "step", "Step"], ["time", "wallSeconds", "Wall time (s)"]] as const;

function isNum(v: number | null | undefined): v is number {
  return typeof v === "number";
}

function axes(r: TrainingMetricsRow): PlotRow {
  return { step: r.step, wallSeconds: r.wallSeconds };
}

/** Folds train/test loss into series named like "forward train" and "backprop test". */
function lossRow(r: TrainingMetricsRow, split: string, v: number | null | undefined): PlotRow[] {
  return isNum(v)
    ? [{ ...axes(r), series: `${r.method} ${split}`, method: r.method, value: v }]
    : [];
}

/** Keeps every k-th point of each series (and its last) so no series exceeds the cap. */
function thin(rows: PlotRow[]): PlotRow[] {
  const bySeries = new Map<string, PlotRow[]>();
  for (const row of rows) {
    const key = String(row.series ?? row.method);
    const list = bySeries.get(key) ?? [];
    list.push(row);
    bySeries.set(key, list);
  }
  return [...bySeries.values()].flatMap((list) => {
    if (list.length <= MAX_POINTS_PER_SERIES) return list;
    const stride = Math.ceil(list.length / MAX_POINTS_PER_SERIES);
    return list.filter((_, i) => i % stride === 0 || i === list.length - 1);
  });
}
