// Number, byte and JSON formatting for tables and event details.

export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let i = 0;
  let v = n;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

export function formatCount(n: number): string {
  return Number.isFinite(n) ? n.toLocaleString("en-US") : "–";
}

/** Pretty-printed JSON when `s` is a JSON object or array, else null. */
export function prettyJson(s: string): string | null {
  const t = s.trim();
  if (!(t.startsWith("{") && t.endsWith("}")) && !(t.startsWith("[") && t.endsWith("]"))) return null;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return null;
  }
}

/** Fields whose values are epoch milliseconds (drawn as times in tables). */
export const TIME_FIELDS = new Set(["_bucket", "@timestamp", "@ingesttimestamp"]);

/**
 * A number as a table shows it: integers as they are, others to 3 decimals (or 3 significant
 * digits below 1, so 0.000123 stays readable). Null when `v` is not a plain decimal number.
 */
export function roundNumber(v: string): string | null {
  if (!/^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(v.trim())) return null;
  const n = Number(v);
  if (!Number.isFinite(n)) return null;
  if (Number.isInteger(n) && !/[.eE]/.test(v)) return v;
  if (Math.abs(n) >= 1 || n === 0) return String(Math.round(n * 1000) / 1000);
  return String(Number(n.toPrecision(3)));
}

/** An aggregate cell for display: times in `zone`, long decimals rounded; else the value. */
export function formatCell(field: string, v: string | undefined, fmtTime: (ms: number) => string): string {
  if (v === undefined || v === "") return "";
  if (TIME_FIELDS.has(field) && /^\d{1,16}$/.test(v)) return fmtTime(Number(v));
  return roundNumber(v) ?? v;
}
