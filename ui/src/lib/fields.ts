// The field sidebar's figures (which fields the shown events have, and their top values) and
// the filter clause a click on a value adds to the query.

export type Event = Record<string, string>;

/** Fields every event has; the sidebar lists them apart or not at all. */
export const BUILTIN_FIELDS = new Set(["@rawstring", "@id", "@timestamp", "@ingesttimestamp", "@timestamp.nanos"]);

export interface FieldStat {
  name: string;
  /** Events that have the field. */
  count: number;
  /** Most frequent values first, with their counts. */
  top: { value: string; count: number }[];
  distinct: number;
}

export function fieldStats(events: Event[], topN = 5): FieldStat[] {
  const byField = new Map<string, Map<string, number>>();
  for (const e of events) {
    for (const [k, v] of Object.entries(e)) {
      if (BUILTIN_FIELDS.has(k)) continue;
      let m = byField.get(k);
      if (!m) byField.set(k, (m = new Map()));
      m.set(v, (m.get(v) ?? 0) + 1);
    }
  }
  const out: FieldStat[] = [];
  for (const [name, values] of byField) {
    let count = 0;
    for (const c of values.values()) count += c;
    const top = [...values.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, topN)
      .map(([value, count]) => ({ value, count }));
    out.push({ name, count, top, distinct: values.size });
  }
  // Tags first, then by how many events have the field, then by name.
  return out.sort(
    (a, b) => Number(b.name.startsWith("#")) - Number(a.name.startsWith("#")) || b.count - a.count || (a.name < b.name ? -1 : 1),
  );
}

/** A quoted query-language string. */
export function quote(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** A field name as the query language accepts it (quoted when it has odd characters). */
function fieldRef(name: string): string {
  return /^#?[A-Za-z0-9_@.\-\[\]]+$/.test(name) ? name : quote(name);
}

/** `query` narrowed to events where `field` is (or, negated, is not) `value`. */
export function addFilter(query: string, field: string, value: string, negate = false): string {
  const clause = `${fieldRef(field)}${negate ? "!=" : "="}${quote(value)}`;
  const q = query.trimEnd();
  if (!q) return clause;
  // A trailing line comment would swallow the pipe; start a new line.
  const lastLine = q.slice(q.lastIndexOf("\n") + 1);
  return lastLine.includes("//") ? `${q}\n| ${clause}` : `${q} | ${clause}`;
}

/** Newest first by `@timestamp`, then `@id` (the API returns a newest-N window). */
export function newestFirst(events: Event[]): Event[] {
  return [...events].sort((a, b) => {
    const d = Number(b["@timestamp"] ?? 0) - Number(a["@timestamp"] ?? 0);
    if (d !== 0) return d;
    return (b["@id"] ?? "") < (a["@id"] ?? "") ? -1 : 1;
  });
}
