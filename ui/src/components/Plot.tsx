// uPlot charts: the search histogram (bars over time), time series (lines) and bar charts of
// grouped results. uPlot draws to a canvas; thousands of points stay smooth.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { ChartData } from "../lib/chart";

/** A y axis as wide as its longest label (a fixed width clipped "10,000" to "0,000"). */
function fitAxis(extra: Partial<uPlot.Axis> = {}): uPlot.Axis {
  return {
    stroke: "#aab3c0",
    grid: { stroke: "#2a3140" },
    ...extra,
    size(u, values, axisIdx, cycleNum) {
      const axis = u.axes[axisIdx];
      // Labels change while uPlot converges; a third pass keeps the last size.
      if (cycleNum > 1) return (axis as unknown as { _size: number })._size;
      let size = (axis.ticks?.size ?? 10) + (axis.gap ?? 5) + 8;
      const longest = (values ?? []).reduce((a, v) => (String(v).length > a.length ? String(v) : a), "");
      if (longest) {
        u.ctx.font = (axis.font as unknown as string[] | undefined)?.[0] ?? "12px system-ui";
        size += u.ctx.measureText(longest).width / devicePixelRatio;
      }
      return Math.ceil(size);
    },
  };
}

/** uPlot's clock for a zone: it draws times in the browser's zone unless told another. */
function tzOf(zone: string | undefined): ((ts: number) => Date) | undefined {
  if (!zone) return undefined;
  return (ts: number) => uPlot.tzDate(new Date(ts * 1000), zone);
}

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
export function Histogram({ x, counts, zone, onSelect }: { x: number[]; counts: number[]; zone?: string; onSelect?: (from: number, to: number) => void }) {
  const el = usePlot(
    (width) =>
      new uPlot(
        {
          width,
          height: 110,
          legend: { show: false },
          cursor: { drag: { x: true, y: false } },
          scales: { x: { time: true } },
          tzDate: tzOf(zone),
          axes: [{ stroke: "#aab3c0", grid: { show: false } }, fitAxis()],
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
    [x, counts, zone],
  );
  return <div class="histogram" data-max={counts.reduce((a, b) => Math.max(a, b), 0)} role="img" aria-label={`Histogram of events over time, ${x.length} buckets`} data-testid="histogram" data-buckets={x.length} ref={el} />;
}

/** A line (time series) or bar (grouped) chart of aggregate results. */
export function ResultChart({ data, type, zone }: { data: ChartData; type: "line" | "bar"; zone?: string }) {
  const el = usePlot(
    (width) => {
      if (data.kind === "time") {
        return new uPlot(
          {
            width,
            height: 280,
            scales: { x: { time: true } },
            tzDate: tzOf(zone),
            axes: [{ stroke: "#aab3c0" }, fitAxis()],
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
              { stroke: "#aab3c0", values: (_u, splits) => splits.map((v) => (Number.isInteger(v) ? (data.labels[v] ?? "") : "")), grid: { show: false } },
              fitAxis(),
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
    [data, type, zone],
  );
  return <div class="result-chart" role="img" aria-label={data.kind === "time" ? "Chart of the results over time" : "Bar chart of the results"} data-testid="chart" data-kind={data.kind} ref={el} />;
}
