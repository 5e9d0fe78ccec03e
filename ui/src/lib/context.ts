// "Show in context": the N events before and after one event in its datasource (its
// repository and the same `#tag` values), found with two ordinary queries — the newest
// events up to its timestamp (`tail`) and the oldest from it (`head`) — merged in event order.
import type { Event } from "./fields";
import { quote } from "./fields";

export interface ContextAnchor {
  id: string;
  /** `@timestamp` in epoch ms. */
  ts: number;
  /** The event's tags without `#repo`: `{ "#host": "a" }`. */
  tags: Record<string, string>;
}

export function anchorOf(e: Event): ContextAnchor {
  const tags: Record<string, string> = {};
  for (const [k, v] of Object.entries(e)) if (k.startsWith("#") && k !== "#repo") tags[k] = v;
  return { id: e["@id"] ?? "", ts: Number(e["@timestamp"]), tags };
}

/** The filter that keeps the anchor's datasource: `#host="a" #type="kv"` (true when untagged). */
export function datasourceFilter(tags: Record<string, string>): string {
  const keys = Object.keys(tags).sort();
  return keys.map((k) => `${/^#[A-Za-z0-9_.\-]+$/.test(k) ? k : quote(k)}=${quote(tags[k])}`).join(" ");
}

/**
 * The two queries. Events sharing the anchor's millisecond come back from both sides; each
 * asks for 2N+1 so ties around the anchor still leave N on either side.
 */
export function contextQueries(a: ContextAnchor, n: number): { before: { queryString: string; start: string; end: string }; after: { queryString: string; start: string; end: string } } {
  const ds = datasourceFilter(a.tags);
  const k = 2 * n + 1;
  const q = (fn: string) => (ds ? `${ds} | ${fn}(limit=${k})` : `${fn}(limit=${k})`);
  return {
    // The end is inclusive (the server adds 1 ms), so both include the anchor's millisecond.
    before: { queryString: q("tail"), start: "0", end: String(a.ts) },
    after: { queryString: q("head"), start: String(a.ts), end: "now" },
  };
}

/** (partition, offset, index) of an `@id` like `2_1234_7`, for ordering ties. */
function idKey(id: string | undefined): number[] {
  return (id ?? "").split("_").map((p) => Number(p) || 0);
}

/** Oldest first: `@timestamp`, then `@timestamp.nanos`, then `@id` (the server's event order). */
export function compareEvents(a: Event, b: Event): number {
  const d = Number(a["@timestamp"] ?? 0) - Number(b["@timestamp"] ?? 0);
  if (d !== 0) return d;
  const n = Number(a["@timestamp.nanos"] ?? 0) - Number(b["@timestamp.nanos"] ?? 0);
  if (n !== 0) return n;
  const x = idKey(a["@id"]);
  const y = idKey(b["@id"]);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/**
 * The anchor and up to `n` events on each side, oldest first, from the two answers.
 * `index` is the anchor's place, -1 when it is not among them (deleted, or past retention).
 */
export function contextWindow(before: Event[], after: Event[], anchorId: string, n: number): { events: Event[]; index: number } {
  const seen = new Set<string>();
  const all: Event[] = [];
  for (const e of [...before, ...after]) {
    const id = e["@id"] ?? JSON.stringify(e);
    if (seen.has(id)) continue;
    seen.add(id);
    all.push(e);
  }
  all.sort(compareEvents);
  const i = all.findIndex((e) => e["@id"] === anchorId);
  if (i < 0) return { events: all, index: -1 };
  const from = Math.max(0, i - n);
  return { events: all.slice(from, i + n + 1), index: i - from };
}
