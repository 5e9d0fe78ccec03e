// Exporting a search: the four formats, CSV encoding (RFC 4180), the NDJSON-to-CSV stream
// transform, aggregate tables in every format, and reading a response body into a Blob.
//
// Memory: the body is read chunk by chunk; pending chunks are folded into a Blob every
// FOLD_BYTES, so the page's JS heap holds at most that much of the export at a time. The
// Blob's bytes live in the browser's blob storage (Chromium keeps it in the browser process
// and pages large blobs to disk), not in the page. The server builds the whole answer before
// sending it (api/query.rs), so the first byte comes when the search is done.

export type ExportFormat = "csv" | "json" | "ndjson" | "text";

export const FORMATS: Record<ExportFormat, { label: string; accept: string; ext: string; mime: string }> = {
  csv: { label: "CSV", accept: "application/x-ndjson", ext: "csv", mime: "text/csv" },
  json: { label: "JSON", accept: "application/json", ext: "json", mime: "application/json" },
  ndjson: { label: "NDJSON", accept: "application/x-ndjson", ext: "ndjson", mime: "application/x-ndjson" },
  text: { label: "Plain text", accept: "text/plain", ext: "txt", mime: "text/plain" },
};

export const FOLD_BYTES = 8 << 20;

/** One CSV field: quoted when it holds a comma, quote, line break or edge space. */
export function csvField(v: string | undefined): string {
  const s = v ?? "";
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvRow(values: (string | undefined)[]): string {
  return values.map(csvField).join(",") + "\r\n";
}

/** Parses CSV text into rows of fields (RFC 4180; for tests and checks). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** A value as the server's text format writes it (`k=v, k=v` for rows without a raw string). */
function textLine(row: Record<string, unknown>, cols: string[], isAggregate: boolean): string {
  const raw = row["@rawstring"];
  if (!isAggregate && typeof raw === "string") return raw;
  return cols
    .filter((c) => row[c] !== undefined)
    .map((c) => `${c}=${typeof row[c] === "string" ? row[c] : JSON.stringify(row[c])}`)
    .join(", ");
}

/** An aggregate table (the rows a query job returned, in the shown column order) in `format`. */
export function exportRows(rows: Record<string, string>[], cols: string[], format: ExportFormat): string {
  const pick = (r: Record<string, string>) => Object.fromEntries(cols.filter((c) => r[c] !== undefined).map((c) => [c, r[c]]));
  switch (format) {
    case "csv":
      return csvRow(cols) + rows.map((r) => csvRow(cols.map((c) => r[c]))).join("");
    case "json":
      return JSON.stringify(rows.map(pick));
    case "ndjson":
      return rows.map((r) => JSON.stringify(pick(r)) + "\n").join("");
    case "text":
      return rows.map((r) => textLine(r, cols, true) + "\n").join("");
  }
}

/** Splits streamed text into whole lines; `push` returns the lines a chunk completed. */
export class LineSplitter {
  private rest = "";
  push(text: string): string[] {
    const parts = (this.rest + text).split("\n");
    this.rest = parts.pop() ?? "";
    return parts;
  }
  flush(): string[] {
    const r = this.rest;
    this.rest = "";
    return r === "" ? [] : [r];
  }
}

/** A stream step turning NDJSON bytes into CSV text with `cols` (a header line first). */
export function ndjsonToCsv(cols: string[]): (chunk: Uint8Array | null) => string {
  const dec = new TextDecoder();
  const lines = new LineSplitter();
  let header = false;
  const rowOf = (line: string) => {
    if (!line.trim()) return "";
    const o = JSON.parse(line) as Record<string, unknown>;
    return csvRow(cols.map((c) => (o[c] === undefined ? "" : typeof o[c] === "string" ? (o[c] as string) : JSON.stringify(o[c]))));
  };
  return (chunk) => {
    let out = header ? "" : csvRow(cols);
    header = true;
    const text = chunk ? dec.decode(chunk, { stream: true }) : dec.decode();
    for (const l of lines.push(text)) out += rowOf(l);
    if (!chunk) for (const l of lines.flush()) out += rowOf(l);
    return out;
  };
}

export interface ReadProgress {
  bytes: number;
  /** Line feeds read (events, for NDJSON). */
  lines: number;
  /** The body's length when the server said it (Content-Length). */
  total: number | null;
}

/**
 * Reads `body` to the end into a Blob of type `mime`, passing each chunk through `transform`
 * (null at the end) when given. `onProgress` hears the bytes read so far. Aborting `signal`
 * cancels the read and rejects with an AbortError.
 */
export async function readToBlob(
  body: ReadableStream<Uint8Array>,
  mime: string,
  opts: { total?: number | null; transform?: (chunk: Uint8Array | null) => string; onProgress?: (p: ReadProgress) => void; signal?: AbortSignal } = {},
): Promise<Blob> {
  const reader = body.getReader();
  const abort = () => reader.cancel().catch(() => {});
  opts.signal?.addEventListener("abort", abort);
  let blob = new Blob([], { type: mime });
  let pending: BlobPart[] = [];
  let pendingBytes = 0;
  let bytes = 0;
  let lines = 0;
  const add = (part: Uint8Array | string) => {
    const n = typeof part === "string" ? part.length : part.byteLength;
    if (n === 0) return;
    pending.push(part as BlobPart);
    pendingBytes += n;
    if (pendingBytes >= FOLD_BYTES) {
      blob = new Blob([blob, ...pending], { type: mime });
      pending = [];
      pendingBytes = 0;
    }
  };
  try {
    for (;;) {
      if (opts.signal?.aborted) throw new DOMException("export cancelled", "AbortError");
      const { done, value } = await reader.read();
      if (opts.signal?.aborted) throw new DOMException("export cancelled", "AbortError");
      if (done) break;
      bytes += value.byteLength;
      for (let i = value.indexOf(10); i >= 0; i = value.indexOf(10, i + 1)) lines++;
      add(opts.transform ? opts.transform(value) : value);
      opts.onProgress?.({ bytes, lines, total: opts.total ?? null });
    }
    if (opts.transform) add(opts.transform(null));
    return new Blob([blob, ...pending], { type: mime });
  } finally {
    opts.signal?.removeEventListener("abort", abort);
  }
}

/** `strata-web-2024-05-01T12-00-00.csv` */
export function exportFilename(repo: string, format: ExportFormat, now = new Date()): string {
  const stamp = now.toISOString().slice(0, 19).replace(/:/g, "-");
  return `strata-${repo.replace(/[^A-Za-z0-9_.-]+/g, "_")}-${stamp}.${FORMATS[format].ext}`;
}
