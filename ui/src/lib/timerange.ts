// Time ranges as the UI and the URL hold them: `start`/`end` are either relative ("15m",
// "24h", "7d"; end "now") or absolute epoch milliseconds. The query-job API accepts both
// forms, so they are passed through unchanged; this module resolves them for display and
// picks the histogram's bucket span.
import { browserZone, formatInZone, fromZonedInput, toZonedInput } from "./timezone";

export interface TimeRange {
  start: string;
  end: string;
}

export const PRESETS: { label: string; start: string }[] = [
  { label: "Last 15 minutes", start: "15m" },
  { label: "Last 1 hour", start: "1h" },
  { label: "Last 24 hours", start: "24h" },
  { label: "Last 7 days", start: "7d" },
  { label: "Last 30 days", start: "30d" },
];

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
  y: 31_536_000_000,
  year: 31_536_000_000,
  years: 31_536_000_000,
};

/** Milliseconds of a relative duration like "15m" or "24 hours"; null when it is not one. */
export function relativeMs(s: string): number | null {
  const m = /^\s*(\d+)\s*([a-z]+)\s*$/i.exec(s);
  if (!m) return null;
  const unit = UNITS[m[2].toLowerCase()];
  return unit === undefined ? null : Number(m[1]) * unit;
}

/** True when `s` is a valid start or end (relative, "now", or epoch ms). */
export function isValidTime(s: string): boolean {
  return s === "now" || relativeMs(s) !== null || /^\d{10,16}$/.test(s);
}

/** Resolves a range to absolute epoch ms `[start, end]` at `now`. */
export function resolve(r: TimeRange, now = Date.now()): [number, number] {
  const at = (s: string, dflt: number) => {
    if (s === "now" || s === "") return now;
    if (/^\d+$/.test(s) && s.length >= 10) return Number(s);
    const rel = relativeMs(s);
    return rel === null ? dflt : now - rel;
  };
  return [at(r.start, now - 86_400_000), at(r.end, now)];
}

/** A human label for a range ("Last 1 hour", or the absolute from–to). */
export function describe(r: TimeRange, zone?: string): string {
  if (r.end === "now" || r.end === "") {
    const p = PRESETS.find((x) => x.start === r.start);
    if (p) return p.label;
    if (relativeMs(r.start) !== null) return `Last ${r.start}`;
  }
  const [s, e] = resolve(r);
  return `${formatTime(s, zone)} → ${formatTime(e, zone)}`;
}

const SPANS: [string, number][] = [
  ["1s", 1000],
  ["5s", 5000],
  ["10s", 10_000],
  ["30s", 30_000],
  ["1m", 60_000],
  ["5m", 300_000],
  ["10m", 600_000],
  ["30m", 1_800_000],
  ["1h", 3_600_000],
  ["3h", 10_800_000],
  ["6h", 21_600_000],
  ["12h", 43_200_000],
  ["1d", 86_400_000],
  ["7d", 604_800_000],
];

/** The finest "nice" histogram span that keeps the range within `maxBuckets` buckets. */
export function histogramSpan(rangeMs: number, maxBuckets = 1500): { span: string; ms: number } {
  for (const [span, ms] of SPANS) if (rangeMs / ms <= maxBuckets) return { span, ms };
  const [span, ms] = SPANS[SPANS.length - 1];
  return { span, ms };
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in `zone` (an IANA name; the browser's zone when absent). */
export function formatTime(ms: number, zone?: string): string {
  if (!Number.isFinite(ms)) return String(ms);
  return formatInZone(ms, zone ?? browserZone());
}

/** Value for an `<input type="datetime-local">`, in `zone`. */
export function toLocalInput(ms: number, zone?: string): string {
  return toZonedInput(ms, zone ?? browserZone());
}

/** Epoch ms from an `<input type="datetime-local">` value read in `zone`; null when empty or invalid. */
export function fromLocalInput(v: string, zone?: string): number | null {
  return fromZonedInput(v, zone ?? browserZone());
}
