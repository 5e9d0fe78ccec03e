// Per-user settings and query history, kept in the browser's localStorage under keys that
// carry the signed-in username (`strata.history.<user>`, `strata.tz.<user>`): two people
// sharing a browser profile keep separate lists. Nothing of it reaches the server.

export interface KeyValueStore {
  getItem(k: string): string | null;
  setItem(k: string, v: string): void;
}

export interface HistoryEntry {
  repo: string;
  query: string;
  start: string;
  end: string;
  /** Epoch ms of the last run. */
  at: number;
}

export const HISTORY_MAX = 50;

const historyKey = (user: string) => `strata.history.${user}`;
const zoneKey = (user: string) => `strata.tz.${user}`;

function defaultStore(): KeyValueStore | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

export function loadHistory(user: string, store = defaultStore()): HistoryEntry[] {
  try {
    const v = JSON.parse(store?.getItem(historyKey(user)) ?? "[]");
    return Array.isArray(v) ? v.filter((e) => typeof e?.query === "string" && typeof e?.repo === "string") : [];
  } catch {
    return [];
  }
}

/** The list with `e` on top: the same repo, query and range only once, at most HISTORY_MAX. */
export function withEntry(list: HistoryEntry[], e: HistoryEntry): HistoryEntry[] {
  const same = (x: HistoryEntry) => x.repo === e.repo && x.query === e.query && x.start === e.start && x.end === e.end;
  return [e, ...list.filter((x) => !same(x))].slice(0, HISTORY_MAX);
}

export function recordQuery(user: string, e: HistoryEntry, store = defaultStore()): HistoryEntry[] {
  const list = withEntry(loadHistory(user, store), e);
  try {
    store?.setItem(historyKey(user), JSON.stringify(list));
  } catch {
    // A full or disabled storage loses the history, not the search.
  }
  return list;
}

export function clearHistory(user: string, store = defaultStore()) {
  store?.setItem(historyKey(user), "[]");
}

/** The user's zone setting ("browser", "UTC" or an IANA name). */
export function loadZone(user: string, store = defaultStore()): string {
  return store?.getItem(zoneKey(user)) || "browser";
}

export function saveZone(user: string, zone: string, store = defaultStore()) {
  try {
    store?.setItem(zoneKey(user), zone);
  } catch {
    // ignored, as above
  }
}
