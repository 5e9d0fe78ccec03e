// The search page: repository, query (highlighted, autocompleted, errors at their position),
// time range and zone, histogram, events in chosen columns with a field sidebar, or a table
// and chart for aggregates; progress, cancel, live tail, export, history, saved searches,
// events in context. All of the search is in the URL, so it can be shared.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, gql, JobResult, QueryJob } from "../api";
import { ContextView } from "../components/ContextView";
import { EmptyRepo } from "../components/EmptyRepo";
import { EventList } from "../components/EventList";
import { ExportButton } from "../components/ExportButton";
import { FieldSidebar } from "../components/FieldSidebar";
import { HistoryMenu } from "../components/HistoryMenu";
import { Histogram, ResultChart } from "../components/Plot";
import { QueryEditor } from "../components/QueryEditor";
import { ResultTable, tableColumns } from "../components/ResultTable";
import { SavedSearches } from "../components/SavedSearches";
import { ShortcutsHelp, useShortcuts } from "../components/Shortcuts";
import { TimePicker } from "../components/TimePicker";
import { ZonePicker } from "../components/ZonePicker";
import { fieldNames } from "../lib/autocomplete";
import { chartData } from "../lib/chart";
import { Column, DEFAULT_COLUMNS } from "../lib/columns";
import { anchorOf } from "../lib/context";
import { addFilter, Event, fieldStats, newestFirst } from "../lib/fields";
import { formatCount } from "../lib/format";
import { parseErrorPosition } from "../lib/highlight";
import { clearHistory, HistoryEntry, loadHistory, loadZone, recordQuery, saveZone } from "../lib/prefs";
import { histogramSpan, resolve } from "../lib/timerange";
import { resolveZone } from "../lib/timezone";
import { DEFAULT_CONTEXT, decodeSearch, encodeSearch, SearchState } from "../lib/urlstate";
import { link, navigate } from "../router";

type View = "table" | "line" | "bar";

export function SearchPage({ search, user, isRoot }: { search: string; user: string; isRoot: boolean }) {
  const state = useMemo(() => decodeSearch(search), [search]);
  const [repos, setRepos] = useState<string[] | null>(null);
  const [draft, setDraft] = useState(state.query);
  const [result, setResult] = useState<JobResult | null>(null);
  const [hist, setHist] = useState<JobResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [cancelled, setCancelled] = useState(false);
  const [view, setView] = useState<View | null>(null);
  const [runId, setRunId] = useState(0);
  const [history, setHistory] = useState<HistoryEntry[]>(() => loadHistory(user));
  const [emptyRepo, setEmptyRepo] = useState<string | null>(null);
  const [help, setHelp] = useState(false);
  const jobs = useRef<QueryJob[]>([]);
  const editor = useRef<HTMLTextAreaElement | null>(null);
  // Set when this tab opened the context view, so "Back" can return through the history.
  const openedContext = useRef(false);
  // Numbers each run, so a watcher (the e2e tests) can tell a finished run from the one before it.
  const generation = useRef(0);
  const [resultGen, setResultGen] = useState(0);

  const zoneSetting = state.tz ?? loadZone(user);
  const zone = resolveZone(zoneSetting);
  const cols = state.cols ?? DEFAULT_COLUMNS;

  const go = (s: Partial<SearchState>, replace = false) => navigate("/search?" + encodeSearch({ ...state, ...s }), replace);

  useEffect(() => {
    // Repositories, then views: both are searched by name.
    gql<{ repositories: { name: string }[]; searchDomains: { __typename: string; name: string }[] }>("{ repositories { name } searchDomains { __typename name } }")
      .then((d) => {
        const names = [...d.repositories.map((r) => r.name), ...d.searchDomains.filter((s) => s.__typename === "View").map((s) => s.name)];
        setRepos(names);
        if (!state.repo && names.length > 0) go({ repo: names[0] }, true);
      })
      .catch((e) => setError(e.message));
  }, []);

  useEffect(() => setDraft(state.query), [state.query]);

  const stopJobs = () => {
    jobs.current.forEach((j) => j.cancel());
    jobs.current = [];
  };

  // Runs the search whenever the URL's search state changes (or "Run" is pressed again).
  useEffect(() => {
    stopJobs();
    setResult(null);
    setHist(null);
    setError(null);
    setCancelled(false);
    setEmptyRepo(null);
    if (!state.repo || state.ctx) return;
    setRunning(true);
    setHistory(recordQuery(user, { repo: state.repo, query: state.query, start: state.start, end: state.end, at: Date.now() }));
    const gen = ++generation.current;
    const range = { start: state.start, end: state.end };
    const [s, e] = resolve(range);
    const { span } = histogramSpan(e - s);
    let histStarted = false;
    const fail = (err: ApiError) => {
      setError(err.message);
      setRunning(false);
    };
    const main = new QueryJob(
      state.repo,
      { queryString: state.query, ...range, isLive: state.live, timeZone: zone },
      (r) => {
        setResult(r);
        setResultGen(gen);
        if (r.done) setRunning(false);
        if (r.done && !state.query.trim() && r.events.length === 0 && !r.metaData.isAggregate) checkEmpty(state.repo);
        if (!r.metaData.isAggregate && !histStarted) {
          histStarted = true;
          const h = new QueryJob(
            state.repo,
            { queryString: `${state.query}\n| timeChart(span=${span})`, ...range, isLive: state.live, timeZone: zone },
            setHist,
            () => {},
          );
          jobs.current.push(h);
          h.start();
        }
      },
      fail,
    );
    jobs.current.push(main);
    main.start();
    return stopJobs;
  }, [state.repo, state.query, state.start, state.end, state.live, !!state.ctx, zone, runId]);

  // An empty result of the whole range: does the repository hold any event at all?
  const checkEmpty = (repo: string) => {
    const j = new QueryJob(
      repo,
      { queryString: "count()", start: "0", end: "now" },
      (r) => {
        if (r.done && Number(r.events[0]?._count ?? 0) === 0) setEmptyRepo(repo);
      },
      () => {},
    );
    jobs.current.push(j);
    j.start();
  };

  const run = () => {
    if (draft === state.query && !state.ctx) setRunId((n) => n + 1);
    else go({ query: draft, ctx: undefined });
  };
  const cancel = () => {
    stopJobs();
    setRunning(false);
    setCancelled(true);
  };
  const filter = (f: string, v: string, negate = false) => go({ query: addFilter(state.query, f, v, negate), ctx: undefined });
  const setCols = (c: Column[]) => go({ cols: c }, true);
  const setZone = (z: string) => {
    saveZone(user, z);
    go({ tz: z }, true);
  };
  const toggleLive = () => {
    if (state.end === "now" && !state.ctx) go({ live: !state.live });
  };
  const openContext = (e: Event) => {
    openedContext.current = true;
    go({ ctx: anchorOf(e), ctxN: DEFAULT_CONTEXT });
  };
  const closeContext = () => {
    if (openedContext.current) {
      openedContext.current = false;
      window.history.back();
    } else go({ ctx: undefined });
  };
  useShortcuts({ run, focus: () => editor.current?.focus(), toggleLive, help: () => setHelp(true) });

  const errPos = error ? parseErrorPosition(state.query, error) : null;
  const isAgg = result?.metaData.isAggregate ?? false;
  const events = useMemo(() => (result && !isAgg ? newestFirst(result.events) : []), [result, isAgg]);
  const stats = useMemo(() => fieldStats(events), [events]);
  const fields = useMemo(() => fieldNames(result?.events ?? [], result?.metaData.fieldOrder ?? []), [result]);
  const chart = useMemo(() => (result && isAgg ? chartData(result.events, result.metaData.fieldOrder) : { kind: "none" as const }), [result, isAgg]);
  const histData = useMemo(() => {
    if (!hist) return null;
    const rows = [...hist.events].sort((a, b) => Number(a._bucket) - Number(b._bucket));
    return { x: rows.map((r) => Number(r._bucket) / 1000), counts: rows.map((r) => Number(r._count ?? 0)) };
  }, [hist]);
  const aggregate = useMemo(() => (result && isAgg ? { rows: result.events, cols: tableColumns(result.events, result.metaData.fieldOrder) } : null), [result, isAgg]);
  const autoView: View = chart.kind === "time" ? "line" : chart.kind === "bars" ? "bar" : "table";
  const shownView = chart.kind === "none" || chart.kind === "single" ? "table" : (view ?? autoView);
  const meta = result?.metaData;
  // A finished search is at 100% whatever the work counters last said.
  const pct = result?.done ? 100 : meta && meta.totalWork > 0 ? Math.min(99, Math.round((100 * meta.workDone) / meta.totalWork)) : 0;

  if (repos && repos.length === 0)
    return (
      <div class="page">
        <p>
          There are no repositories yet. <a href="/repositories">Create one</a> first.
        </p>
      </div>
    );

  return (
    <div class="search-page">
      <h1 class="sr-only">Search</h1>
      <div class="search-bar">
        <label class="inline-label">
          <span class="sr-only">Repository</span>
          <select data-testid="repo" value={state.repo} onChange={(e) => go({ repo: (e.target as HTMLSelectElement).value, ctx: undefined })}>
            {(repos ?? [state.repo]).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <QueryEditor value={draft} onChange={setDraft} onRun={run} error={errPos} fields={fields} inputRef={editor} />
        <TimePicker value={{ start: state.start, end: state.end }} zone={zone} onChange={(r) => go({ ...r, live: state.live && r.end === "now", ctx: undefined })} />
        <label class="live-toggle" title="Keep the results updated as new events arrive (Alt+L)">
          <input type="checkbox" data-testid="live" checked={state.live} disabled={state.end !== "now"} onChange={(e) => go({ live: (e.target as HTMLInputElement).checked })} /> Live
        </label>
        {running && !state.live ? (
          <button type="button" data-testid="cancel" class="secondary" onClick={cancel}>
            Cancel
          </button>
        ) : (
          <button type="button" data-testid="run" title="Run (Enter, or Ctrl+Enter anywhere)" onClick={run}>
            Run
          </button>
        )}
      </div>
      <div class="search-tools">
        <div
          class="progress"
          data-testid="progress"
          data-done={result?.done ? "1" : "0"}
          data-gen={resultGen}
          data-pct={pct}
          role="progressbar"
          aria-label="Search progress"
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={state.live && result ? 100 : pct}
        >
          <div class="bar" style={{ width: `${state.live && result ? 100 : pct}%`, transition: result?.done ? "none" : undefined }} />
          <span>
            {state.live && result
              ? "Live"
              : cancelled
                ? "Cancelled (partial results)"
                : running
                  ? `Searching… ${pct}%`
                  : result?.done
                    ? "Done"
                    : ""}
            {meta && ` · ${formatCount(meta.processedEvents)} events scanned`}
          </span>
        </div>
        <span class="spacer" />
        <ZonePicker value={zoneSetting} onChange={setZone} />
        <HistoryMenu
          entries={history}
          zone={zone}
          onPick={(h) => go({ repo: h.repo, query: h.query, start: h.start, end: h.end, live: false, ctx: undefined })}
          onClear={() => {
            clearHistory(user);
            setHistory([]);
          }}
        />
        {result && !state.ctx && <ExportButton repo={state.repo} query={state.query} start={state.start} end={state.end} zone={zone} aggregate={aggregate} ready={!isAgg || !!result.done || state.live} eventCols={cols.map((c) => c.field)} />}
        {state.repo && (
          <a class="button-link" data-testid="create-alert" href={`/alerts?repo=${encodeURIComponent(state.repo)}&new=${isAgg ? "aggregate" : "filter"}&query=${encodeURIComponent(state.query)}`} onClick={link}>
            Create alert
          </a>
        )}
        <SavedSearches repo={state.repo} query={state.query} start={state.start} end={state.end} onPick={(q) => go({ query: q.queryString, start: q.start, end: q.end, ctx: undefined })} />
        <button type="button" class="icon" aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)" data-testid="shortcuts-button" onClick={() => setHelp(true)}>
          ?
        </button>
      </div>
      {help && <ShortcutsHelp onClose={() => setHelp(false)} />}
      {error && !errPos && (
        <div class="error" role="alert" data-testid="search-error">
          {error}
        </div>
      )}
      {state.ctx && (
        <ContextView
          repo={state.repo}
          anchor={state.ctx}
          n={state.ctxN ?? DEFAULT_CONTEXT}
          zone={zone}
          cols={cols}
          onBack={closeContext}
          onN={(n) => go({ ctxN: n }, true)}
          onColumns={setCols}
          onFilter={filter}
        />
      )}
      {result?.messages?.map((m, i) => (
        <div key={i} class="warning">
          {m.text}
        </div>
      ))}
      {emptyRepo === state.repo && <EmptyRepo repo={state.repo} isRoot={isRoot} onCheck={() => setRunId((n) => n + 1)} />}
      {result && !isAgg && !state.ctx && emptyRepo !== state.repo && (
        <div class="results-events">
          {histData && <Histogram x={histData.x} counts={histData.counts} zone={zone} onSelect={(a, b) => go({ start: String(a), end: String(b), live: false })} />}
          <div class="events-layout">
            <FieldSidebar stats={stats} total={events.length} cols={cols} onFilter={filter} onColumns={setCols} />
            <div class="events-col">
              <div class="muted count" data-testid="event-count">
                {formatCount(events.length)} events shown (newest first)
              </div>
              <EventList events={events} cols={cols} zone={zone} onFilter={filter} onColumns={setCols} onContext={openContext} />
            </div>
          </div>
        </div>
      )}
      {result && isAgg && !state.ctx && (
        <div class="results-agg">
          {chart.kind === "single" ? (
            <div class="single-value" data-testid="single-value">
              <div class="big">{chart.value.toLocaleString("en-US")}</div>
              <div class="muted">{chart.name}</div>
            </div>
          ) : (
            chart.kind !== "none" && (
              <div class="view-tabs" role="group" aria-label="Result view">
                {(["table", "line", "bar"] as View[]).map((v) => (
                  <button type="button" key={v} data-testid={`view-${v}`} aria-pressed={shownView === v} class={shownView === v ? "tab active" : "tab"} onClick={() => setView(v)}>
                    {v === "table" ? "Table" : v === "line" ? "Line chart" : "Bar chart"}
                  </button>
                ))}
              </div>
            )
          )}
          {shownView !== "table" && chart.kind !== "none" && chart.kind !== "single" && <ResultChart data={chart} type={shownView} zone={zone} />}
          <ResultTable rows={result.events} order={result.metaData.fieldOrder} zone={zone} />
        </div>
      )}
    </div>
  );
}
