import { describe, expect, it } from "vitest";
import { chartData } from "../src/lib/chart";
import { addFilter, fieldStats, newestFirst, quote } from "../src/lib/fields";
import { formatBytes, prettyJson } from "../src/lib/format";
import { describe as describeRange, histogramSpan, isValidTime, relativeMs, resolve } from "../src/lib/timerange";
import { decodeSearch, encodeSearch } from "../src/lib/urlstate";

describe("time ranges", () => {
  it("parses relative durations", () => {
    expect(relativeMs("15m")).toBe(900_000);
    expect(relativeMs("24 hours")).toBe(86_400_000);
    expect(relativeMs("7d")).toBe(604_800_000);
    expect(relativeMs("3 fortnights")).toBeNull();
    expect(isValidTime("now")).toBe(true);
    expect(isValidTime("1717000000000")).toBe(true);
    expect(isValidTime("yesterday")).toBe(false);
  });
  it("resolves relative and absolute ranges", () => {
    const now = 1_700_000_000_000;
    expect(resolve({ start: "1h", end: "now" }, now)).toEqual([now - 3_600_000, now]);
    expect(resolve({ start: "1690000000000", end: "1690000600000" }, now)).toEqual([1_690_000_000_000, 1_690_000_600_000]);
  });
  it("labels presets", () => {
    expect(describeRange({ start: "15m", end: "now" })).toBe("Last 15 minutes");
    expect(describeRange({ start: "2h", end: "now" })).toBe("Last 2h");
  });
  it("keeps histograms within 1,500 buckets with nice spans", () => {
    expect(histogramSpan(15 * 60_000)).toEqual({ span: "1s", ms: 1000 });
    expect(histogramSpan(86_400_000)).toEqual({ span: "1m", ms: 60_000 });
    expect(histogramSpan(7 * 86_400_000)).toEqual({ span: "10m", ms: 600_000 });
    for (const r of [1, 60_000, 3_600_000, 30 * 86_400_000, 365 * 86_400_000]) {
      const { ms } = histogramSpan(r);
      expect(r / ms <= 1500 || ms === 604_800_000).toBe(true);
    }
  });
});

describe("field sidebar", () => {
  const events: Record<string, string>[] = [
    { "@timestamp": "3", "@rawstring": "a", level: "ERROR", host: "h1", "#type": "app" },
    { "@timestamp": "2", "@rawstring": "b", level: "INFO", host: "h1", "#type": "app" },
    { "@timestamp": "1", "@rawstring": "c", level: "ERROR", "#type": "app" },
  ];
  it("counts fields and top values, tags first", () => {
    const s = fieldStats(events);
    expect(s.map((f) => f.name)).toEqual(["#type", "level", "host"]);
    expect(s[1].top).toEqual([
      { value: "ERROR", count: 2 },
      { value: "INFO", count: 1 },
    ]);
    expect(s[2].count).toBe(2);
  });
  it("adds a quoted filter clause", () => {
    expect(addFilter("", "level", "ERROR")).toBe('level="ERROR"');
    expect(addFilter("disk | x := 1", "host", 'a"b\\c')).toBe('disk | x := 1 | host="a\\"b\\\\c"');
    expect(addFilter("disk // note", "host", "h")).toBe('disk // note\n| host="h"');
    expect(addFilter("a", "level", "INFO", true)).toBe('a | level!="INFO"');
    expect(quote("x")).toBe('"x"');
  });
  it("orders events newest first", () => {
    expect(newestFirst([events[2], events[0], events[1]]).map((e) => e["@rawstring"])).toEqual(["a", "b", "c"]);
  });
});

describe("charts", () => {
  it("makes a time series from timeChart rows", () => {
    const d = chartData([
      { _bucket: "2000", ERROR: "1", INFO: "4" },
      { _bucket: "1000", ERROR: "3", INFO: "0" },
    ]);
    expect(d).toEqual({
      kind: "time",
      x: [1, 2],
      series: [
        { name: "ERROR", values: [3, 1] },
        { name: "INFO", values: [0, 4] },
      ],
    });
  });
  it("makes bars from groupBy rows and a single value from count()", () => {
    // LogScale's long timeChart rows: one row per bucket and series value, gaps stay null.
    expect(
      chartData([
        { _bucket: "1000", level: "ERROR", _count: "3" },
        { _bucket: "1000", level: "INFO", _count: "0" },
        { _bucket: "2000", level: "INFO", _count: "4" },
      ]),
    ).toEqual({
      kind: "time",
      x: [1, 2],
      series: [
        { name: "ERROR", values: [3, null] },
        { name: "INFO", values: [0, 4] },
      ],
    });
    // A numeric series field (status codes) is told from the function's `_count`.
    expect(
      chartData([
        { _bucket: "1000", status: "200", _count: "5" },
        { _bucket: "1000", status: "500", _count: "1" },
      ]),
    ).toEqual({ kind: "time", x: [1], series: [{ name: "200", values: [5] }, { name: "500", values: [1] }] });
    expect(chartData([{ host: "a", _count: "5" }, { host: "b", _count: "2" }], ["host", "_count"])).toEqual({
      kind: "bars",
      labels: ["a", "b"],
      series: [{ name: "_count", values: [5, 2] }],
    });
    expect(chartData([{ _count: "42" }])).toEqual({ kind: "single", name: "_count", value: 42 });
    expect(chartData([{ msg: "x" }])).toEqual({ kind: "none" });
    expect(chartData([])).toEqual({ kind: "none" });
  });
});

describe("url state", () => {
  it("round-trips the search state", () => {
    const s = { repo: "web logs", query: 'level="ERROR" | count()', start: "1h", end: "now", live: true };
    expect(decodeSearch(encodeSearch(s))).toEqual(s);
    expect(decodeSearch("")).toEqual({ repo: "", query: "", start: "24h", end: "now", live: false });
  });
});

describe("formatting", () => {
  it("formats bytes and JSON", () => {
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1_500_000)).toBe("1.50 MB");
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson("{not json}")).toBeNull();
    expect(prettyJson("plain")).toBeNull();
  });
});
