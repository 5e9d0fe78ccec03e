// The event list's columns: which fields, in which order, how wide. Kept in the URL as
// `cols=@timestamp:180,host,@rawstring` (a width in px after a colon; none = automatic), so a
// search's layout survives a reload and can be shared.

export interface Column {
  field: string;
  /** Width in CSS pixels; undefined lets the column size itself (the last one fills the row). */
  width?: number;
}

/** LogScale's default: the time and the raw event. */
export const DEFAULT_COLUMNS: Column[] = [{ field: "@timestamp" }, { field: "@rawstring" }];

export const MIN_WIDTH = 40;
export const MAX_WIDTH = 2000;

// Field names may hold the separators; they are percent-escaped inside the parameter.
const esc = (s: string) => s.replace(/[%,:]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
const unesc = (s: string) => s.replace(/%(25|2C|3A)/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));

export function encodeColumns(cols: Column[]): string {
  return cols.map((c) => esc(c.field) + (c.width ? `:${Math.round(c.width)}` : "")).join(",");
}

/** Columns from the URL; the default set when absent, empty or unreadable. */
export function decodeColumns(s: string | null): Column[] {
  if (!s) return DEFAULT_COLUMNS;
  const out: Column[] = [];
  for (const part of s.split(",")) {
    const i = part.lastIndexOf(":");
    const hasWidth = i > 0 && /^\d+$/.test(part.slice(i + 1));
    const field = unesc(hasWidth ? part.slice(0, i) : part);
    if (!field || out.some((c) => c.field === field)) continue;
    const width = hasWidth ? clampWidth(Number(part.slice(i + 1))) : undefined;
    out.push(width ? { field, width } : { field });
  }
  return out.length > 0 ? out : DEFAULT_COLUMNS;
}

export const isDefault = (cols: Column[]) => encodeColumns(cols) === encodeColumns(DEFAULT_COLUMNS);

export function clampWidth(w: number): number {
  return Math.max(MIN_WIDTH, Math.min(MAX_WIDTH, Math.round(w)));
}

/** Adds `field` (before `@rawstring` if that is last, as LogScale does) or removes it. */
export function toggleColumn(cols: Column[], field: string): Column[] {
  if (cols.some((c) => c.field === field)) {
    const rest = cols.filter((c) => c.field !== field);
    return rest.length > 0 ? rest : DEFAULT_COLUMNS;
  }
  const last = cols[cols.length - 1];
  if (last?.field === "@rawstring") return [...cols.slice(0, -1), { field }, last];
  return [...cols, { field }];
}

/** Moves `field` by `delta` places (clamped to the ends). */
export function moveColumn(cols: Column[], field: string, delta: number): Column[] {
  const i = cols.findIndex((c) => c.field === field);
  if (i < 0) return cols;
  const j = Math.max(0, Math.min(cols.length - 1, i + delta));
  if (i === j) return cols;
  const out = [...cols];
  const [c] = out.splice(i, 1);
  out.splice(j, 0, c);
  return out;
}

/** Moves `field` to where `target` is (drag and drop). */
export function moveColumnTo(cols: Column[], field: string, target: string): Column[] {
  const j = cols.findIndex((c) => c.field === target);
  const i = cols.findIndex((c) => c.field === field);
  return i < 0 || j < 0 ? cols : moveColumn(cols, field, j - i);
}

export function resizeColumn(cols: Column[], field: string, width: number): Column[] {
  return cols.map((c) => (c.field === field ? { ...c, width: clampWidth(width) } : c));
}

/** The width a column is drawn at: its own, else a default by field; the raw string (or the
 * last column) takes what is left (undefined). */
export function shownWidth(c: Column, last: boolean): number | undefined {
  if (c.width) return c.width;
  if (c.field === "@timestamp") return 200;
  if (c.field === "@rawstring" || last) return undefined;
  return 140;
}
