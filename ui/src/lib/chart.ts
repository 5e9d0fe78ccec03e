// Turns aggregate result rows into chart data: `timeChart`/`bucket` rows (with `_bucket`) are
// time series — LogScale's long rows (`_bucket`, the series fields, the function's fields) are
// pivoted into one series per series value (and function field), wide rows give one per column; `groupBy`/`top` rows are bars labelled by their non-numeric
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
  if (cols.includes("_bucket")) return timeSeries(rows, cols, numeric);
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

// Long rows repeat `_bucket` once per series: the columns that tell those rows apart are the
// series fields (text, or numbers whose name is not a function output like `_count`); the rest
// are the values. Buckets a series has no row for are gaps (null), not zeros.
function timeSeries(rows: Row[], cols: string[], numeric: string[]): ChartData {
  const buckets = [...new Set(rows.map((r) => Number(r._bucket)))].sort((a, b) => a - b);
  const others = cols.filter((c) => c !== "_bucket");
  const repeats = buckets.length < rows.length;
  let seriesCols = others.filter((c) => !numeric.includes(c));
  if (repeats && seriesCols.length === 0) seriesCols = others.filter((c) => numeric.includes(c) && !c.startsWith("_"));
  const valueCols = numeric.filter((c) => c !== "_bucket" && !seriesCols.includes(c));
  // uPlot's time axis is in seconds.
  const x = buckets.map((b) => b / 1000);
  if (seriesCols.length === 0) {
    const sorted = [...rows].sort((a, b) => Number(a._bucket) - Number(b._bucket));
    return {
      kind: "time",
      x: sorted.map((r) => Number(r._bucket) / 1000),
      series: valueCols.map((name) => ({ name, values: sorted.map((r) => (isNum(r[name]) ? Number(r[name]) : null)) })),
    };
  }
  const at = new Map(buckets.map((b, i) => [b, i]));
  const series = new Map<string, (number | null)[]>();
  for (const r of rows) {
    const key = seriesCols.map((c) => r[c] ?? "").join(" · ");
    for (const v of valueCols) {
      const name = valueCols.length > 1 ? `${key} ${v}` : key;
      let values = series.get(name);
      if (!values) {
        values = buckets.map(() => null);
        series.set(name, values);
      }
      values[at.get(Number(r._bucket)) ?? 0] = isNum(r[v]) ? Number(r[v]) : null;
    }
  }
  return { kind: "time", x, series: [...series].map(([name, values]) => ({ name, values })) };
}
