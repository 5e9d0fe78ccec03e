import { describe, expect, it } from "vitest";
import { csvField, csvRow, exportFilename, exportRows, FOLD_BYTES, LineSplitter, ndjsonToCsv, parseCsv, readToBlob } from "../src/lib/export";

const enc = new TextEncoder();

function streamOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(typeof ch === "string" ? enc.encode(ch) : ch);
      c.close();
    },
  });
}

describe("CSV", () => {
  it("quotes only what needs it", () => {
    expect(csvField("plain")).toBe("plain");
    expect(csvField('a "b", c')).toBe('"a ""b"", c"');
    expect(csvField("two\nlines")).toBe('"two\nlines"');
    expect(csvField(" edge")).toBe('" edge"');
    expect(csvField(undefined)).toBe("");
    expect(csvRow(["a", "b,c"])).toBe('a,"b,c"\r\n');
  });
  it("parses what it writes", () => {
    const rows = [["x", 'q"uote', "new\r\nline", ""], ["ü😀", ",", " s ", "end"]];
    expect(parseCsv(rows.map(csvRow).join(""))).toEqual(rows);
  });
  it("turns NDJSON split anywhere (even inside a character) into CSV rows", () => {
    const lines = ['{"@timestamp":"1","@rawstring":"a,b","host":"h1"}', '{"@timestamp":"2","@rawstring":"ü \\"q\\""}', ""].join("\n");
    const bytes = enc.encode(lines);
    const step = ndjsonToCsv(["@timestamp", "host", "@rawstring"]);
    let out = "";
    for (let i = 0; i < bytes.length; i += 7) out += step(bytes.slice(i, i + 7));
    out += step(null);
    expect(parseCsv(out)).toEqual([
      ["@timestamp", "host", "@rawstring"],
      ["1", "h1", "a,b"],
      ["2", "", 'ü "q"'],
    ]);
  });
  it("splits lines across chunks", () => {
    const s = new LineSplitter();
    expect(s.push("a\nb")).toEqual(["a"]);
    expect(s.push("c\n\nd")).toEqual(["bc", ""]);
    expect(s.flush()).toEqual(["d"]);
  });
});

describe("aggregate export", () => {
  const rows: Record<string, string>[] = [
    { host: "h1", _count: "2" },
    { host: "h,2", _count: "1", extra: "x" },
  ];
  it("writes the table's columns in every format", () => {
    expect(exportRows(rows, ["host", "_count"], "csv")).toBe('host,_count\r\nh1,2\r\n"h,2",1\r\n');
    expect(JSON.parse(exportRows(rows, ["host", "_count"], "json"))).toEqual([
      { host: "h1", _count: "2" },
      { host: "h,2", _count: "1" },
    ]);
    expect(exportRows(rows, ["_count", "host"], "ndjson")).toBe('{"_count":"2","host":"h1"}\n{"_count":"1","host":"h,2"}\n');
    expect(exportRows(rows, ["host", "_count"], "text")).toBe("host=h1, _count=2\nhost=h,2, _count=1\n");
  });
  it("names the file by repository, time and format", () => {
    expect(exportFilename("web logs", "ndjson", new Date(Date.UTC(2024, 4, 1, 12, 0, 9)))).toBe("strata-web_logs-2024-05-01T12-00-09.ndjson");
  });
});

describe("reading a body into a Blob", () => {
  it("keeps the bytes unchanged and reports progress", async () => {
    const seen: [number, number][] = [];
    const blob = await readToBlob(streamOf(["a\nb", "cü", "\n\n"]), "text/plain", { total: 8, onProgress: (p) => seen.push([p.bytes, p.lines]) });
    expect(await blob.text()).toBe("a\nbcü\n\n");
    expect(seen).toEqual([
      [3, 1],
      [6, 1],
      [8, 3],
    ]);
  });
  it("folds large bodies into one Blob", async () => {
    const chunk = new Uint8Array(1 << 20).fill(65);
    const blob = await readToBlob(streamOf(Array.from({ length: FOLD_BYTES / chunk.length + 3 }, () => chunk)), "text/plain");
    expect(blob.size).toBe(FOLD_BYTES + 3 * chunk.length);
  });
  it("applies a transform and its final flush", async () => {
    const blob = await readToBlob(streamOf(['{"a":"1"}\n{"a"', ':"2"}']), "text/csv", { transform: ndjsonToCsv(["a"]) });
    expect(await blob.text()).toBe("a\r\n1\r\n2\r\n");
  });
  it("stops with an AbortError when cancelled", async () => {
    const ctl = new AbortController();
    let pulls = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulls++;
        c.enqueue(enc.encode("x"));
        if (pulls === 3) ctl.abort();
      },
    });
    await expect(readToBlob(body, "text/plain", { signal: ctl.signal })).rejects.toMatchObject({ name: "AbortError" });
  });
});
