// Events around one event: N before and N after it in its datasource (same repository, same
// tags), oldest first, the chosen event marked and scrolled to. Two query jobs (see
// lib/context.ts); "Back to results" returns to the search the event came from.
import { useEffect, useState } from "preact/hooks";
import { JobResult, QueryJob } from "../api";
import type { Column } from "../lib/columns";
import { ContextAnchor, contextQueries, contextWindow, datasourceFilter } from "../lib/context";
import type { Event } from "../lib/fields";
import { formatTime } from "../lib/timerange";
import { EventList, FilterFn } from "./EventList";

const SIZES = [5, 10, 20, 50, 100];

export function ContextView({
  repo,
  anchor,
  n,
  zone,
  cols,
  onBack,
  onN,
  onColumns,
  onFilter,
}: {
  repo: string;
  anchor: ContextAnchor;
  n: number;
  zone: string;
  cols: Column[];
  onBack: () => void;
  onN: (n: number) => void;
  onColumns: (c: Column[]) => void;
  onFilter: FilterFn;
}) {
  const [win, setWin] = useState<{ events: Event[]; index: number } | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setWin(null);
    setError(null);
    const q = contextQueries(anchor, n);
    const got: { before?: Event[]; after?: Event[] } = {};
    const done = () => {
      if (got.before && got.after) setWin(contextWindow(got.before, got.after, anchor.id, n));
    };
    const job = (which: "before" | "after") =>
      new QueryJob(
        repo,
        { ...q[which], timeZone: zone },
        (r: JobResult) => {
          if (!r.done) return;
          got[which] = r.events;
          done();
        },
        (e) => setError(e.message),
      );
    const jobs = [job("before"), job("after")];
    jobs.forEach((j) => j.start());
    return () => jobs.forEach((j) => j.cancel());
  }, [repo, anchor.id, anchor.ts, JSON.stringify(anchor.tags), n]);

  const ds = datasourceFilter(anchor.tags);
  const before = win && win.index >= 0 ? win.index : 0;
  const after = win && win.index >= 0 ? win.events.length - win.index - 1 : 0;
  return (
    <section class="context-view" data-testid="context" data-done={win ? "1" : "0"} aria-label="Events in context">
      <div class="context-bar">
        <button type="button" class="secondary" data-testid="context-back" onClick={onBack}>
          ← Back to results
        </button>
        <h2 class="h3">
          Events around {formatTime(anchor.ts, zone)} in {repo}
          {ds && <code class="ds"> {ds}</code>}
        </h2>
        <label class="inline-label">
          Events on each side
          <select data-testid="context-n" value={String(n)} onChange={(e) => onN(Number((e.target as HTMLSelectElement).value))}>
            {[...new Set([...SIZES, n])].sort((a, b) => a - b).map((s) => (
              <option key={s} value={String(s)}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {!win && !error && <div class="loading">Loading the events around it…</div>}
      {win && (
        <>
          <div class="muted count" data-testid="context-count">
            {win.index < 0 ? "The event is no longer stored; events near its time, oldest first." : `${before} before, ${after} after (oldest first)`}
          </div>
          <EventList events={win.events} cols={cols} zone={zone} marked={anchor.id} onFilter={onFilter} onColumns={onColumns} emptyText="No events around it." />
        </>
      )}
    </section>
  );
}
