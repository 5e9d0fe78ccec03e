// The search page's state in the URL (`/search?repo=&query=&start=&end=&live=`), so a search
// can be shared and survives a reload.

export interface SearchState {
  repo: string;
  query: string;
  start: string;
  end: string;
  live: boolean;
}

export const DEFAULT_START = "24h";

export function encodeSearch(s: SearchState): string {
  const p = new URLSearchParams();
  if (s.repo) p.set("repo", s.repo);
  if (s.query) p.set("query", s.query);
  p.set("start", s.start || DEFAULT_START);
  if (s.end && s.end !== "now") p.set("end", s.end);
  if (s.live) p.set("live", "1");
  return p.toString();
}

export function decodeSearch(search: string): SearchState {
  const p = new URLSearchParams(search);
  return {
    repo: p.get("repo") ?? "",
    query: p.get("query") ?? "",
    start: p.get("start") || DEFAULT_START,
    end: p.get("end") || "now",
    live: p.get("live") === "1",
  };
}
