/**
 * Line and bar plots for the bench, rendered headless to SVG with vega-lite → vega (as
 * src/report/plots.ts does for training runs), plus log axes and dashed reference series.
 */
import * as vega from "vega";
import * as vegaLite from "vega-lite";

export type Row = Record<string, number | string>;

export interface Axis {
  field: string;
  title: string;
  log?: boolean;
  /** log base 2 reads better for K = 1, 2, 4, ... */
  base?: number;
}

export interface PlotOptions {
  title: string;
  rows: readonly Row[];
  x: Axis;
  y: Axis;
  /** Field naming each line (colour). */
  series: string;
  /** Series drawn dashed (theory curves, references). */
  dashed?: string[];
  mark?: "line" | "bar";
  width?: number;
  height?: number;
}

export async function renderPlot(o: PlotOptions): Promise<string> {
  const ok = (v: unknown, log?: boolean) =>
    typeof v === "number" && Number.isFinite(v) && (!log || v > 0);
  const rows = o.rows.filter((r) => ok(r[o.x.field], o.x.log) && ok(r[o.y.field], o.y.log));
  const dashed = new Set(o.dashed ?? []);
  const scale = (a: Axis) => a.log ? { type: "log" as const, base: a.base ?? 10 } : { zero: false };
  const spec: vegaLite.TopLevelSpec = o.mark === "bar"
    ? {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: o.title,
      width: o.width ?? 480,
      height: o.height ?? 300,
      background: "white",
      data: { values: rows.map((r) => ({ ...r })) },
      mark: "bar",
      encoding: {
        x: { field: o.x.field, type: "nominal", title: o.x.title },
        xOffset: { field: o.series, type: "nominal" },
        y: { field: o.y.field, type: "quantitative", title: o.y.title },
        color: { field: o.series, type: "nominal", title: o.series, legend: { labelLimit: 400 } },
      },
    }
    : {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      title: o.title,
      width: o.width ?? 480,
      height: o.height ?? 300,
      background: "white",
      data: { values: rows.map((r) => ({ ...r, _dash: dashed.has(String(r[o.series])) ? 1 : 0 })) },
      mark: { type: "line", point: true },
      encoding: {
        x: { field: o.x.field, type: "quantitative", title: o.x.title, scale: scale(o.x) },
        y: { field: o.y.field, type: "quantitative", title: o.y.title, scale: scale(o.y) },
        color: {
          field: o.series,
          type: "nominal",
          title: o.series,
          sort: "ascending",
          legend: { labelLimit: 400 },
        },
        strokeDash: {
          field: "_dash",
          type: "nominal",
          legend: null,
          scale: { domain: [0, 1], range: [[1, 0], [6, 4]] },
        },
        order: { field: o.x.field, type: "quantitative" },
      },
    };
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
