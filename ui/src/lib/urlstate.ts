// The search page's state in the URL (`/search?repo=&query=&start=&end=&live=&cols=&tz=&ctx=`),
// so a search — with its columns, time zone and an opened context — can be shared and
// survives a reload.
import { Column, decodeColumns, DEFAULT_COLUMNS, encodeColumns, isDefault } from "./columns";
import type { ContextAnchor } from "./context";

export interface SearchState {
  repo: string;
  query: string;
  start: string;
  end: string;
  live: boolean;
  /** The event list's columns (DEFAULT_COLUMNS when the URL has none). */
  cols?: Column[];
  /** Time zone setting shown in the URL ("browser", "UTC", an IANA name); absent = the user's. */
  tz?: string;
  /** Events around this one are shown instead of the results. */
  ctx?: ContextAnchor;
  /** How many events on each side of `ctx`. */
  ctxN?: number;
}

export const DEFAULT_START = "24h";
export const DEFAULT_CONTEXT = 20;

export function encodeSearch(s: SearchState): string {
  const p = new URLSearchParams();
  if (s.repo) p.set("repo", s.repo);
  if (s.query) p.set("query", s.query);
  p.set("start", s.start || DEFAULT_START);
  if (s.end && s.end !== "now") p.set("end", s.end);
  if (s.live) p.set("live", "1");
  if (s.cols && !isDefault(s.cols)) p.set("cols", encodeColumns(s.cols));
  if (s.tz) p.set("tz", s.tz);
  if (s.ctx) {
    p.set("ctx", `${s.ctx.ts}~${s.ctx.id}`);
    if (Object.keys(s.ctx.tags).length > 0) p.set("ctxTags", JSON.stringify(s.ctx.tags));
    if (s.ctxN && s.ctxN !== DEFAULT_CONTEXT) p.set("ctxN", String(s.ctxN));
  }
  return p.toString();
}

function decodeContext(p: URLSearchParams): ContextAnchor | undefined {
  const m = /^(-?\d+)~(.+)$/.exec(p.get("ctx") ?? "");
  if (!m) return undefined;
  let tags: Record<string, string> = {};
  try {
    const t = JSON.parse(p.get("ctxTags") ?? "{}");
    if (t && typeof t === "object" && !Array.isArray(t)) tags = Object.fromEntries(Object.entries(t).filter(([k, v]) => k.startsWith("#") && typeof v === "string")) as Record<string, string>;
  } catch {
    // unreadable tags: the whole repository
  }
  return { ts: Number(m[1]), id: m[2], tags };
}

export function decodeSearch(search: string): SearchState {
  const p = new URLSearchParams(search);
  const s: SearchState = {
    repo: p.get("repo") ?? "",
    query: p.get("query") ?? "",
    start: p.get("start") || DEFAULT_START,
    end: p.get("end") || "now",
    live: p.get("live") === "1",
  };
  const cols = decodeColumns(p.get("cols"));
  if (cols !== DEFAULT_COLUMNS) s.cols = cols;
  const tz = p.get("tz");
  if (tz) s.tz = tz;
  const ctx = decodeContext(p);
  if (ctx) {
    s.ctx = ctx;
    const n = Number(p.get("ctxN"));
    s.ctxN = Number.isInteger(n) && n > 0 && n <= 200 ? n : DEFAULT_CONTEXT;
  }
  return s;
}

export { DEFAULT_COLUMNS };
