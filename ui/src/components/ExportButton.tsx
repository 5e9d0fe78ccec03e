// Export of a search as CSV, JSON, NDJSON or plain text. An event list is the whole result
// from the streaming query endpoint (every event: the server streams the whole list and states any gap), read as a stream into a Blob
// (lib/export.ts says what that costs in memory) with progress and cancel; NDJSON, JSON and
// text are the server's bytes unchanged, CSV is made from its NDJSON with the shown columns.
// An aggregate is the table as shown (its rows and columns, values exact).
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, streamQuery } from "../api";
import { exportFilename, ExportFormat, exportRows, FORMATS, ndjsonToCsv, ReadProgress, readToBlob } from "../lib/export";
import { formatBytes } from "../lib/format";

type Status = { phase: "idle" } | { phase: "searching" } | { phase: "reading"; p: ReadProgress } | { phase: "done"; bytes: number; warnings: string; events: number | null } | { phase: "error"; message: string } | { phase: "cancelled" };

function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.style.display = "none";
  document.body.appendChild(a);
  a.click();
  a.remove();
  // The download has its own reference once started; the page's goes after a while.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export function ExportButton({
  repo,
  query,
  start,
  end,
  zone,
  aggregate,
  ready,
  eventCols,
}: {
  repo: string;
  query: string;
  start: string;
  end: string;
  zone: string;
  /** The aggregate table as shown, when the result is one. */
  aggregate: { rows: Record<string, string>[]; cols: string[] } | null;
  /** False while an aggregate is still being computed (its table is not final). */
  ready: boolean;
  /** The event list's columns (the CSV's columns). */
  eventCols: string[];
}) {
  const [open, setOpen] = useState(false);
  const [format, setFormat] = useState<ExportFormat>("csv");
  const [status, setStatus] = useState<Status>({ phase: "idle" });
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);
  const busy = status.phase === "searching" || status.phase === "reading";

  const run = async () => {
    const name = exportFilename(repo, format);
    const mime = FORMATS[format].mime;
    if (aggregate) {
      const text = exportRows(aggregate.rows, aggregate.cols, format);
      const blob = new Blob([text], { type: mime });
      download(blob, name);
      setStatus({ phase: "done", bytes: blob.size, warnings: "", events: aggregate.rows.length });
      return;
    }
    const ctl = new AbortController();
    abort.current = ctl;
    setStatus({ phase: "searching" });
    try {
      const res = await streamQuery(repo, { queryString: query, start, end, timeZone: zone }, FORMATS[format].accept, ctl.signal);
      setStatus({ phase: "reading", p: { bytes: 0, lines: 0, total: res.length } });
      let lines = 0;
      const blob = await readToBlob(res.body, mime, {
        total: res.length,
        transform: format === "csv" ? ndjsonToCsv(eventCols) : undefined,
        onProgress: (p) => {
          lines = p.lines;
          setStatus({ phase: "reading", p });
        },
        signal: ctl.signal,
      });
      download(blob, name);
      // NDJSON (and so CSV) has one line per event; raw text may hold line breaks, JSON none.
      setStatus({ phase: "done", bytes: blob.size, warnings: res.warnings, events: format === "ndjson" || format === "csv" ? lines : null });
    } catch (e) {
      if ((e as Error).name === "AbortError") setStatus({ phase: "cancelled" });
      else setStatus({ phase: "error", message: e instanceof ApiError ? e.message : String((e as Error).message ?? e) });
    } finally {
      if (abort.current === ctl) abort.current = null;
    }
  };

  const pct = status.phase === "reading" && status.p.total ? Math.min(100, Math.round((100 * status.p.bytes) / status.p.total)) : null;
  return (
    <div class="export">
      <button type="button" class="secondary" data-testid="export" aria-expanded={open} onClick={() => setOpen(!open)}>
        Export
      </button>
      {open && (
        <div class="export-menu card" role="group" aria-label="Export the result">
          <fieldset class="formats">
            <legend>{aggregate ? "Export the table as" : "Export every event of the search as"}</legend>
            {(Object.keys(FORMATS) as ExportFormat[]).map((f) => (
              <label key={f} class="radio">
                <input type="radio" name="export-format" value={f} data-testid={`export-${f}`} checked={format === f} onChange={() => setFormat(f)} /> {FORMATS[f].label}
              </label>
            ))}
          </fieldset>
          {format === "csv" && !aggregate && <div class="muted small">Columns: {eventCols.join(", ")} (the list's columns)</div>}
          <div class="row">
            <button type="button" data-testid="export-start" disabled={busy || !ready} onClick={run}>
              Download
            </button>
            {busy && (
              <button type="button" class="secondary" data-testid="export-cancel" onClick={() => abort.current?.abort()}>
                Cancel
              </button>
            )}
          </div>
          <div role="status" data-testid="export-status" data-phase={status.phase} class="export-status">
            {status.phase === "searching" && "Running the search…"}
            {status.phase === "reading" && (
              <>
                <progress max={100} value={pct ?? undefined} aria-label="Export progress" />
                {` ${formatBytes(status.p.bytes)}${status.p.total ? ` of ${formatBytes(status.p.total)}` : ""}`}
              </>
            )}
            {status.phase === "done" && `Exported ${status.events === null ? "" : `${status.events.toLocaleString("en-US")} ${aggregate ? "rows" : "events"}, `}${formatBytes(status.bytes)}.`}
            {status.phase === "done" && status.warnings && <div class="warning">Incomplete: {status.warnings}</div>}
            {status.phase === "cancelled" && "Export cancelled."}
            {status.phase === "error" && <span class="error-text">Export failed: {status.message}</span>}
          </div>
        </div>
      )}
    </div>
  );
}
