// Turns aggregate result rows into chart data: `timeChart`/`bucket` rows (with `_bucket`) are
// a time series per column; `groupBy`/`top` rows are bars labelled by their non-numeric
// columns; one numeric value is a single value.

export type Row = Record<string, string>;

export type ChartData =
  | { kind: "time"; x: number[]; series: { name: string; values: (number | null)[] }[] }
  | { kind: "bars"; labels: string[]; series: { name: string; values: number[] }[] }
  | { kind: "single"; name: string; value: number }
  | { kind: "none" };

const isNum = (v: string | undefined) => v !== undefined && v !== "" && Number.isFinite(Number(v));

function columns(rows: Row[], order: string[]): string[] {
  const cols = [...order];
  for (const r of rows.slice(0, 100)) for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k);
  return cols;
}

export function chartData(rows: Row[], order: string[] = []): ChartData {
  if (rows.length === 0) return { kind: "none" };
  const cols = columns(rows, order);
  const numeric = cols.filter((c) => rows.every((r) => r[c] === undefined || r[c] === "" || isNum(r[c])) && rows.some((r) => isNum(r[c])));
  if (cols.includes("_bucket")) {
    const sorted = [...rows].sort((a, b) => Number(a._bucket) - Number(b._bucket));
    const names = numeric.filter((c) => c !== "_bucket");
    return {
      kind: "time",
      // uPlot's time axis is in seconds.
      x: sorted.map((r) => Number(r._bucket) / 1000),
      series: names.map((name) => ({ name, values: sorted.map((r) => (isNum(r[name]) ? Number(r[name]) : null)) })),
    };
  }
  const labelCols = cols.filter((c) => !numeric.includes(c));
  if (rows.length === 1 && numeric.length === 1 && labelCols.length === 0) {
    return { kind: "single", name: numeric[0], value: Number(rows[0][numeric[0]]) };
  }
  if (numeric.length === 0) return { kind: "none" };
  // With no label column, the first numeric column labels the bars (groupBy on a number).
  const labelOf = labelCols.length > 0 ? labelCols : numeric.slice(0, 1);
  const valueCols = labelCols.length > 0 ? numeric : numeric.slice(1);
  if (valueCols.length === 0) return { kind: "none" };
  return {
    kind: "bars",
    labels: rows.map((r) => labelOf.map((c) => r[c] ?? "").join(" · ")),
    series: valueCols.map((name) => ({ name, values: rows.map((r) => Number(r[name] ?? 0)) })),
  };
}
