// uPlot charts: the search histogram (bars over time), time series (lines) and bar charts of
// grouped results. uPlot draws to a canvas; thousands of points stay smooth.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartData } from "../lib/chart";

const COLORS = ["#4e9af1", "#f1a24e", "#5cc97b", "#e05d5d", "#a77de8", "#e8d35d", "#5dd6e0", "#e07db5"];

function usePlot(make: (width: number) => uPlot | null, deps: unknown[]) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const div = el.current;
    if (!div) return;
    const plot = make(Math.max(200, div.clientWidth));
    if (!plot) return;
    div.appendChild(plot.root);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, div.clientWidth), height: plot.height }));
    ro.observe(div);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, deps);
  return el;
}

/** Event counts per bucket; `onSelect` gets a dragged time range in epoch ms. */
export function Histogram({ x, counts, onSelect }: { x: number[]; counts: number[]; onSelect?: (from: number, to: number) => void }) {
  const el = usePlot(
    (width) =>
      new uPlot(
        {
          width,
          height: 110,
          legend: { show: false },
          cursor: { drag: { x: true, y: false } },
          scales: { x: { time: true } },
          axes: [{ stroke: "#9aa4b2", grid: { show: false } }, { stroke: "#9aa4b2", size: 50, grid: { stroke: "#2a3140" } }],
          series: [{}, { label: "events", fill: "#4e9af1aa", stroke: "#4e9af1", paths: uPlot.paths.bars!({ size: [0.9, 100] }), points: { show: false } }],
          hooks: {
            setSelect: [
              (u) => {
                if (!onSelect || u.select.width < 2) return;
                const a = u.posToVal(u.select.left, "x");
                const b = u.posToVal(u.select.left + u.select.width, "x");
                onSelect(Math.round(a * 1000), Math.round(b * 1000));
              },
            ],
          },
        },
        [x, counts],
        undefined as unknown as HTMLElement,
      ),
    [x, counts],
  );
  return <div class="histogram" data-testid="histogram" data-buckets={x.length} ref={el} />;
}

/** A line (time series) or bar (grouped) chart of aggregate results. */
export function ResultChart({ data, type }: { data: ChartData; type: "line" | "bar" }) {
  const el = usePlot(
    (width) => {
      if (data.kind === "time") {
        return new uPlot(
          {
            width,
            height: 280,
            scales: { x: { time: true } },
            axes: [{ stroke: "#9aa4b2" }, { stroke: "#9aa4b2", size: 60, grid: { stroke: "#2a3140" } }],
            series: [
              {},
              ...data.series.map((s, i) => ({
                label: s.name,
                stroke: COLORS[i % COLORS.length],
                fill: type === "bar" ? COLORS[i % COLORS.length] + "88" : undefined,
                paths: type === "bar" ? uPlot.paths.bars!({ size: [0.8, 60] }) : undefined,
                points: { show: false },
              })),
            ],
          },
          [data.x, ...data.series.map((s) => s.values)] as uPlot.AlignedData,
          undefined as unknown as HTMLElement,
        );
      }
      if (data.kind === "bars") {
        const xs = data.labels.map((_, i) => i);
        return new uPlot(
          {
            width,
            height: 280,
            scales: { x: { time: false, range: [-0.5, data.labels.length - 0.5] } },
            axes: [
              { stroke: "#9aa4b2", values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? (data.labels[v] ?? "") : "")), grid: { show: false } },
              { stroke: "#9aa4b2", size: 60, grid: { stroke: "#2a3140" } },
            ],
            series: [
              { label: "group", value: (_u, v) => (v == null ? "" : (data.labels[v] ?? "")) },
              ...data.series.map((s, i) => ({
                label: s.name,
                stroke: COLORS[i % COLORS.length],
                fill: type === "bar" ? COLORS[i % COLORS.length] + "aa" : undefined,
                paths: type === "bar" ? uPlot.paths.bars!({ size: [0.7 / data.series.length, 80], align: 0 }) : undefined,
                points: { show: type !== "bar" },
              })),
            ],
          },
          [xs, ...data.series.map((s) => s.values)] as uPlot.AlignedData,
          undefined as unknown as HTMLElement,
        );
      }
      return null;
    },
    [data, type],
  );
  return <div class="result-chart" data-testid="chart" data-kind={data.kind} ref={el} />;
}
