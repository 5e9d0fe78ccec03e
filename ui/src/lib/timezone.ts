// Time zones: the user's choice is "browser" (whatever the browser's zone is), "UTC" or an
// IANA name ("Europe/Oslo"). Times are drawn as `YYYY-MM-DD HH:MM:SS.mmm` in that zone with
// Intl (no zone database shipped), and the zone goes with every query as `timeZone`.

export const BROWSER = "browser";

/** The browser's own IANA zone. */
export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** The IANA zone a setting stands for. */
export function resolveZone(setting: string | null | undefined): string {
  if (!setting || setting === BROWSER) return browserZone();
  return isValidZone(setting) ? setting : "UTC";
}

export function isValidZone(z: string): boolean {
  if (!z) return false;
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: z });
    return true;
  } catch {
    return false;
  }
}

/** Current IANA names of zones that ICU (so the browser's list) still calls by an old one. */
const RENAMED: Record<string, string> = {
  "Asia/Calcutta": "Asia/Kolkata",
  "Asia/Saigon": "Asia/Ho_Chi_Minh",
  "Asia/Katmandu": "Asia/Kathmandu",
  "Asia/Rangoon": "Asia/Yangon",
  "Europe/Kiev": "Europe/Kyiv",
  "America/Godthab": "America/Nuuk",
  "Atlantic/Faeroe": "Atlantic/Faroe",
  "Pacific/Enderbury": "Pacific/Kanton",
};

/** Every IANA zone the browser knows (by current names), UTC first. */
export function zoneNames(): string[] {
  const all = (Intl as unknown as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.("timeZone") ?? [];
  // A current name is used only where this browser's Intl accepts it.
  const names = new Set(all.map((z) => (RENAMED[z] && isValidZone(RENAMED[z]) ? RENAMED[z] : z)).filter((z) => z !== "UTC"));
  return ["UTC", ...[...names].sort()];
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(zone, f);
  }
  return f;
}

interface Fields {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock fields of instant `ms` in `zone`. */
export function wallClock(ms: number, zone: string): Fields {
  const out: Record<string, number> = {};
  for (const p of formatter(zone).formatToParts(new Date(ms))) if (p.type !== "literal") out[p.type] = Number(p.value);
  return { year: out.year, month: out.month, day: out.day, hour: out.hour % 24, minute: out.minute, second: out.second };
}

/** Offset of `zone` from UTC at instant `ms`, in ms (+5:30 is 19,800,000). */
export function zoneOffset(ms: number, zone: string): number {
  const w = wallClock(ms, zone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (ms - (((ms % 1000) + 1000) % 1000));
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** `YYYY-MM-DD HH:MM:SS.mmm` in `zone`. */
export function formatInZone(ms: number, zone: string): string {
  if (!Number.isFinite(ms)) return String(ms);
  const w = wallClock(ms, zone);
  const millis = ((ms % 1000) + 1000) % 1000;
  return `${w.year}-${pad(w.month)}-${pad(w.day)} ${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}.${pad(millis, 3)}`;
}

/** `+05:30` / `-08:00` / `Z` for the offset at `ms`. */
export function offsetLabel(ms: number, zone: string): string {
  const o = Math.round(zoneOffset(ms, zone) / 60_000);
  if (o === 0) return "UTC";
  const a = Math.abs(o);
  return `UTC${o < 0 ? "-" : "+"}${pad(Math.floor(a / 60))}:${pad(a % 60)}`;
}

/** Value for an `<input type="datetime-local">` showing instant `ms` in `zone`. */
export function toZonedInput(ms: number, zone: string): string {
  const w = wallClock(ms, zone);
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}`;
}

/** The instant a `datetime-local` value means in `zone`; null when empty or invalid. */
export function fromZonedInput(v: string, zone: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(v);
  if (!m) return null;
  const wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] ?? 0));
  // The offset at the guess, then again at the corrected instant (right across DST changes).
  let t = wall - zoneOffset(wall, zone);
  t = wall - zoneOffset(t, zone);
  return Number.isNaN(t) ? null : t;
}
