import { describe, expect, it } from "vitest";
import { accept, complete, fieldNames } from "../src/lib/autocomplete";
import { decodeColumns, DEFAULT_COLUMNS, encodeColumns, moveColumn, moveColumnTo, resizeColumn, toggleColumn } from "../src/lib/columns";
import { anchorOf, compareEvents, contextQueries, contextWindow, datasourceFilter } from "../src/lib/context";
import { formatCell, roundNumber } from "../src/lib/format";
import { findFunction, FUNCTIONS, signature } from "../src/lib/functions";
import { HISTORY_MAX, loadHistory, loadZone, recordQuery, saveZone, withEntry } from "../src/lib/prefs";
import { formatInZone, fromZonedInput, offsetLabel, resolveZone, toZonedInput, zoneOffset } from "../src/lib/timezone";
import { decodeSearch, encodeSearch } from "../src/lib/urlstate";

describe("function table", () => {
  it("finds functions case-insensitively, with aliases", () => {
    expect(findFunction("GROUPBY")?.name).toBe("groupBy");
    expect(findFunction("lower")?.name).toBe("lowercase");
    expect(findFunction("nosuch")).toBeUndefined();
    expect(signature(findFunction("groupBy")!)).toBe("groupBy(field, function, limit)");
    expect(new Set(FUNCTIONS.map((f) => f.name.toLowerCase())).size).toBe(FUNCTIONS.length);
  });
});

describe("autocomplete", () => {
  const fields = ["@timestamp", "#type", "host", "hostname", "level"];
  const labels = (t: string, caret = t.length, explicit = false) => complete(t, caret, fields, explicit)?.items.map((i) => i.label) ?? null;

  it("offers fields seen in the result and functions by prefix", () => {
    expect(labels("ho")).toEqual(["host", "hostname"]);
    expect(labels("error | gro")).toEqual(["groupBy"]);
    expect(labels("#t")).toEqual(["#type"]);
    // After a pipe, functions come first.
    expect(labels("x | h")![0]).toBe("head");
    expect(labels("x h")![0]).toBe("host");
  });
  it("offers a function's parameters inside its call", () => {
    // Parameters first, then fields, then functions (an argument may be a call).
    expect(labels("groupBy(host, l")).toEqual(["limit=", "level", "lowercase", "length"]);
    expect(labels("timeChart(sp")).toEqual(["span=", "splitString", "split"]);
    // Namespaced functions complete with their namespace.
    expect(labels("math:ab")).toContain("math:abs");
    // Not a parameter position: a field.
    expect(labels("groupBy(host l")).toEqual(["level", "lowercase", "length"]);
  });
  it("stays quiet in strings, comments, values and on an empty word", () => {
    expect(labels('msg="ho')).toBeNull();
    expect(labels("// ho")).toBeNull();
    expect(labels("level=ho")).toBeNull();
    expect(labels("x | ")).toBeNull();
    expect(labels("x | ", 4, true)!.length).toBeGreaterThan(10);
    expect(labels("host")).toEqual(["hostname"]);
  });
  it("replaces the word and puts the caret inside a function's parentheses", () => {
    const t = "error | grou";
    const c = complete(t, t.length, fields)!;
    expect(accept(t, c, c.items[0])).toEqual({ text: "error | groupBy()", caret: 16 });
    const t2 = "lev | count()";
    const c2 = complete(t2, 3, fields)!;
    expect(accept(t2, c2, c2.items[0])).toEqual({ text: "level | count()", caret: 5 });
    const t3 = "x | cou(host)";
    const c3 = complete(t3, 7, fields)!;
    expect(accept(t3, c3, c3.items[0]).text).toBe("x | count(host)");
  });
  it("collects field names from rows", () => {
    expect(fieldNames([{ b: "1", a: "2" }, { c: "3" }], ["_count"])).toEqual(["_count", "a", "b", "c"]);
  });
});

describe("columns", () => {
  it("round-trips through the URL, with widths and odd names", () => {
    const cols = [{ field: "@timestamp", width: 180 }, { field: "a,b:c%" }, { field: "@rawstring" }];
    expect(decodeColumns(encodeColumns(cols))).toEqual(cols);
    expect(decodeColumns(null)).toBe(DEFAULT_COLUMNS);
    expect(decodeColumns(",,")).toBe(DEFAULT_COLUMNS);
    expect(decodeColumns("x:5,x:90")).toEqual([{ field: "x", width: 40 }]);
  });
  it("adds before the raw string, removes, moves and resizes", () => {
    const c = toggleColumn(DEFAULT_COLUMNS, "host");
    expect(c.map((x) => x.field)).toEqual(["@timestamp", "host", "@rawstring"]);
    expect(toggleColumn(c, "host")).toEqual(DEFAULT_COLUMNS);
    expect(toggleColumn([{ field: "host" }], "host")).toBe(DEFAULT_COLUMNS);
    expect(moveColumn(c, "host", -1).map((x) => x.field)).toEqual(["host", "@timestamp", "@rawstring"]);
    expect(moveColumn(c, "host", 9).map((x) => x.field)).toEqual(["@timestamp", "@rawstring", "host"]);
    expect(moveColumnTo(c, "@rawstring", "@timestamp").map((x) => x.field)).toEqual(["@rawstring", "@timestamp", "host"]);
    expect(resizeColumn(c, "host", 5)[1]).toEqual({ field: "host", width: 40 });
  });
});

describe("url state", () => {
  it("keeps columns, zone and the context anchor", () => {
    const s = {
      repo: "web",
      query: "x",
      start: "1h",
      end: "now",
      live: false,
      cols: [{ field: "@timestamp" }, { field: "host", width: 120 }, { field: "@rawstring" }],
      tz: "Asia/Kolkata",
      ctx: { id: "1_20_3", ts: 1_700_000_000_000, tags: { "#host": "a" } },
      ctxN: 5,
    };
    expect(decodeSearch(encodeSearch(s))).toEqual(s);
    expect(encodeSearch({ ...s, cols: DEFAULT_COLUMNS, ctx: undefined, tz: undefined })).toBe("repo=web&query=x&start=1h");
  });
});

describe("context", () => {
  const ev = (ts: number, id: string, extra: Record<string, string> = {}) => ({ "@timestamp": String(ts), "@id": id, "#repo": "r", ...extra });
  it("takes the datasource from the event's tags", () => {
    const a = anchorOf(ev(5, "0_1_0", { "#host": "a", "#type": "kv", level: "x" }));
    expect(a).toEqual({ id: "0_1_0", ts: 5, tags: { "#host": "a", "#type": "kv" } });
    expect(datasourceFilter(a.tags)).toBe('#host="a" #type="kv"');
    const q = contextQueries(a, 3);
    expect(q.before).toEqual({ queryString: '#host="a" #type="kv" | tail(limit=7)', start: "0", end: "5" });
    expect(q.after).toEqual({ queryString: '#host="a" #type="kv" | head(limit=7)', start: "5", end: "now" });
    expect(contextQueries({ id: "x", ts: 1, tags: {} }, 1).before.queryString).toBe("tail(limit=3)");
  });
  it("orders by time, then the event id numerically", () => {
    expect(compareEvents(ev(1, "0_10_0"), ev(1, "0_9_0"))).toBeGreaterThan(0);
    expect(compareEvents(ev(1, "0_10_0"), ev(2, "0_9_0"))).toBeLessThan(0);
  });
  it("merges both sides around the anchor, ties and duplicates included", () => {
    const before = [ev(1, "0_1_0"), ev(2, "0_2_0"), ev(3, "0_3_0"), ev(3, "0_4_0")];
    const after = [ev(3, "0_3_0"), ev(3, "0_4_0"), ev(4, "0_5_0"), ev(5, "0_6_0")];
    const w = contextWindow(before, after, "0_3_0", 2);
    expect(w.events.map((e) => e["@id"])).toEqual(["0_1_0", "0_2_0", "0_3_0", "0_4_0", "0_5_0"]);
    expect(w.index).toBe(2);
    expect(contextWindow(before, after, "nope", 2).index).toBe(-1);
  });
});

describe("time zones", () => {
  const t = Date.UTC(2024, 0, 15, 12, 30, 45, 7);
  it("formats in UTC and IANA zones", () => {
    expect(formatInZone(t, "UTC")).toBe("2024-01-15 12:30:45.007");
    expect(formatInZone(t, "Asia/Kolkata")).toBe("2024-01-15 18:00:45.007");
    expect(formatInZone(t, "America/New_York")).toBe("2024-01-15 07:30:45.007");
    expect(offsetLabel(t, "Asia/Kolkata")).toBe("UTC+05:30");
    expect(zoneOffset(Date.UTC(2024, 6, 1), "Europe/Oslo")).toBe(2 * 3_600_000);
  });
  it("reads datetime-local values in the zone", () => {
    expect(toZonedInput(t, "Asia/Kolkata")).toBe("2024-01-15T18:00");
    expect(fromZonedInput("2024-01-15T18:00", "Asia/Kolkata")).toBe(Date.UTC(2024, 0, 15, 12, 30));
    expect(fromZonedInput("2024-07-01T02:00", "Europe/Oslo")).toBe(Date.UTC(2024, 6, 1, 0, 0));
    expect(fromZonedInput("nonsense", "UTC")).toBeNull();
  });
  it("resolves settings", () => {
    expect(resolveZone("UTC")).toBe("UTC");
    expect(resolveZone("Not/AZone")).toBe("UTC");
    expect(resolveZone("browser")).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });
});

describe("per-user preferences", () => {
  const store = () => {
    const m = new Map<string, string>();
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
  };
  const e = (query: string, at = 1) => ({ repo: "web", query, start: "1h", end: "now", at });
  it("keeps recent queries per user, newest first, each once", () => {
    const s = store();
    recordQuery("ann", e("a"), s);
    recordQuery("ann", e("b"), s);
    recordQuery("ann", e("a", 5), s);
    recordQuery("bob", e("z"), s);
    expect(loadHistory("ann", s).map((x) => [x.query, x.at])).toEqual([
      ["a", 5],
      ["b", 1],
    ]);
    expect(loadHistory("bob", s).map((x) => x.query)).toEqual(["z"]);
    let list = [e("0")];
    for (let i = 1; i < 80; i++) list = withEntry(list, e(String(i)));
    expect(list.length).toBe(HISTORY_MAX);
    expect(list[0].query).toBe("79");
  });
  it("survives garbage and keeps the zone per user", () => {
    const s = store();
    s.setItem("strata.history.ann", "{not json");
    expect(loadHistory("ann", s)).toEqual([]);
    expect(loadZone("ann", s)).toBe("browser");
    saveZone("ann", "UTC", s);
    expect(loadZone("ann", s)).toBe("UTC");
    expect(loadZone("bob", s)).toBe("browser");
  });
});

describe("aggregate cells", () => {
  it("rounds long decimals sensibly", () => {
    expect(roundNumber("24.500000000000004")).toBe("24.5");
    expect(roundNumber("12.345678901234")).toBe("12.346");
    expect(roundNumber("0.000123456789")).toBe("0.000123");
    expect(roundNumber("42")).toBe("42");
    expect(roundNumber("12345678901234567890")).toBe("12345678901234567890");
    expect(roundNumber("h1")).toBeNull();
    expect(roundNumber("1.5e3")).toBe("1500");
  });
  it("draws time fields as times", () => {
    const fmt = (ms: number) => `T${ms}`;
    expect(formatCell("_bucket", "1700000000000", fmt)).toBe("T1700000000000");
    expect(formatCell("_avg", "3.14159265", fmt)).toBe("3.142");
    expect(formatCell("host", "h1", fmt)).toBe("h1");
    expect(formatCell("_bucket", undefined, fmt)).toBe("");
  });
});

describe("zone list", () => {
  it("uses current IANA names", async () => {
    const { zoneNames } = await import("../src/lib/timezone");
    const z = zoneNames();
    expect(z[0]).toBe("UTC");
    expect(z).toContain("Asia/Kolkata");
    expect(z).not.toContain("Asia/Calcutta");
  });
});
