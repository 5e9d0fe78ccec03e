// The search page: repository, query (highlighted, errors at their position), time range,
// histogram, events with a field sidebar, or a table and chart for aggregates; progress,
// cancel, live tail, saved searches. All of it is in the URL, so a search can be shared.
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, gql, JobResult, QueryJob } from "../api";
import { EventList } from "../components/EventList";
import { FieldSidebar } from "../components/FieldSidebar";
import { Histogram, ResultChart } from "../components/Plot";
import { QueryEditor } from "../components/QueryEditor";
import { ResultTable } from "../components/ResultTable";
import { TimePicker } from "../components/TimePicker";
import { chartData } from "../lib/chart";
import { addFilter, fieldStats, newestFirst } from "../lib/fields";
import { formatCount } from "../lib/format";
import { parseErrorPosition } from "../lib/highlight";
import { histogramSpan, resolve } from "../lib/timerange";
import { decodeSearch, encodeSearch, SearchState } from "../lib/urlstate";
import { navigate } from "../router";

interface SavedQuery {
  id: string;
  name: string;
  queryString: string;
  start: string;
  end: string;
}

type View = "table" | "line" | "bar";

export function SearchPage({ search }: { search: string }) {
  const state = useMemo(() => decodeSearch(search), [search]);
  const [repos, setRepos] = useState<string[] | null>(null);
  const [draft, setDraft] = useState(state.query);
  const [result, setResult] = useState<JobResult | null>(null);
  const [hist, setHist] = useState<JobResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [running, setRunning] = useState(false);
  const [cancelled, setCancelled] = useState(false);
  const [view, setView] = useState<View | null>(null);
  const [saved, setSaved] = useState<SavedQuery[]>([]);
  const [saveName, setSaveName] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [runId, setRunId] = useState(0);
  const jobs = useRef<QueryJob[]>([]);
  // Numbers each run, so a watcher (the e2e tests) can tell a finished run from the one before it.
  const generation = useRef(0);
  const [resultGen, setResultGen] = useState(0);

  const go = (s: Partial<SearchState>, replace = false) => navigate("/search?" + encodeSearch({ ...state, ...s }), replace);

  useEffect(() => {
    gql<{ repositories: { name: string }[] }>("{ repositories { name } }")
      .then((d) => {
        const names = d.repositories.map((r) => r.name);
        setRepos(names);
        if (!state.repo && names.length > 0) go({ repo: names[0] }, true);
      })
      .catch((e) => setError(e.message));
  }, []);

  useEffect(() => setDraft(state.query), [state.query]);

  const loadSaved = () => {
    if (!state.repo) return;
    gql<{ repository: { savedQueries: SavedQuery[] } }>("query($r:String!){ repository(name:$r) { savedQueries { id name queryString start end } } }", { r: state.repo })
      .then((d) => setSaved(d.repository.savedQueries))
      .catch(() => setSaved([]));
  };
  useEffect(loadSaved, [state.repo]);

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
    if (!state.repo) return;
    setRunning(true);
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
      { queryString: state.query, ...range, isLive: state.live },
      (r) => {
        setResult(r);
        setResultGen(gen);
        if (r.done) setRunning(false);
        if (!r.metaData.isAggregate && !histStarted) {
          histStarted = true;
          const h = new QueryJob(
            state.repo,
            { queryString: `${state.query}\n| timeChart(span=${span})`, ...range, isLive: state.live },
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
  }, [state.repo, state.query, state.start, state.end, state.live, runId]);

  const run = () => {
    if (draft === state.query) setRunId((n) => n + 1);
    else go({ query: draft });
  };
  const cancel = () => {
    stopJobs();
    setRunning(false);
    setCancelled(true);
  };
  const filter = (f: string, v: string) => go({ query: addFilter(state.query, f, v) });

  const saveSearch = async (e: Event) => {
    e.preventDefault();
    if (!saveName?.trim()) return;
    try {
      await gql(
        "mutation($i:CreateSavedQueryInput!){ createSavedQuery(input:$i) { id } }",
        { i: { name: saveName.trim(), viewName: state.repo, queryString: state.query, start: state.start, end: state.end } },
      );
      setNotice(`Saved "${saveName.trim()}"`);
      setSaveName(null);
      loadSaved();
    } catch (err) {
      setNotice(`Could not save: ${(err as Error).message}`);
    }
  };

  const errPos = error ? parseErrorPosition(state.query, error) : null;
  const isAgg = result?.metaData.isAggregate ?? false;
  const events = useMemo(() => (result && !isAgg ? newestFirst(result.events) : []), [result, isAgg]);
  const stats = useMemo(() => fieldStats(events), [events]);
  const chart = useMemo(() => (result && isAgg ? chartData(result.events, result.metaData.fieldOrder) : { kind: "none" as const }), [result, isAgg]);
  const histData = useMemo(() => {
    if (!hist) return null;
    const rows = [...hist.events].sort((a, b) => Number(a._bucket) - Number(b._bucket));
    return { x: rows.map((r) => Number(r._bucket) / 1000), counts: rows.map((r) => Number(r._count ?? 0)) };
  }, [hist]);
  const autoView: View = chart.kind === "time" ? "line" : chart.kind === "bars" ? "bar" : "table";
  const shownView = chart.kind === "none" || chart.kind === "single" ? "table" : (view ?? autoView);
  const meta = result?.metaData;
  const pct = meta && meta.totalWork > 0 ? Math.round((100 * meta.workDone) / meta.totalWork) : result?.done ? 100 : 0;

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
      <div class="search-bar">
        <select data-testid="repo" value={state.repo} onChange={(e) => go({ repo: (e.target as HTMLSelectElement).value })}>
          {(repos ?? [state.repo]).map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <QueryEditor value={draft} onChange={setDraft} onRun={run} error={errPos} />
        <TimePicker value={{ start: state.start, end: state.end }} onChange={(r) => go({ ...r, live: state.live && r.end === "now" })} />
        <label class="live-toggle" title="Keep the results updated as new events arrive">
          <input type="checkbox" data-testid="live" checked={state.live} disabled={state.end !== "now"} onChange={(e) => go({ live: (e.target as HTMLInputElement).checked })} /> Live
        </label>
        {running && !state.live ? (
          <button data-testid="cancel" class="secondary" onClick={cancel}>
            Cancel
          </button>
        ) : (
          <button data-testid="run" onClick={run}>
            Run
          </button>
        )}
      </div>
      <div class="search-tools">
        <div class="progress" data-testid="progress" data-done={result?.done ? "1" : "0"} data-gen={resultGen}>
          <div class="bar" style={{ width: `${state.live && result ? 100 : pct}%` }} />
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
        {saved.length > 0 && (
          <select
            data-testid="saved"
            value=""
            onChange={(e) => {
              const q = saved.find((s) => s.id === (e.target as HTMLSelectElement).value);
              if (q) go({ query: q.queryString, start: q.start, end: q.end });
            }}
          >
            <option value="">Saved searches…</option>
            {saved.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        )}
        {saveName === null ? (
          <button class="secondary" data-testid="save-search" onClick={() => setSaveName("")}>
            Save search
          </button>
        ) : (
          <form class="inline" onSubmit={saveSearch}>
            <input placeholder="Name" autoFocus value={saveName} data-testid="save-name" onInput={(e) => setSaveName((e.target as HTMLInputElement).value)} />
            <button type="submit">Save</button>
            <button type="button" class="secondary" onClick={() => setSaveName(null)}>
              ×
            </button>
          </form>
        )}
      </div>
      {notice && (
        <div class="notice" onClick={() => setNotice(null)}>
          {notice}
        </div>
      )}
      {error && !errPos && (
        <div class="error" role="alert" data-testid="search-error">
          {error}
        </div>
      )}
      {result?.messages?.map((m, i) => (
        <div key={i} class="warning">
          {m.text}
        </div>
      ))}
      {result && !isAgg && (
        <div class="results-events">
          {histData && <Histogram x={histData.x} counts={histData.counts} onSelect={(a, b) => go({ start: String(a), end: String(b), live: false })} />}
          <div class="events-layout">
            <FieldSidebar stats={stats} total={events.length} onFilter={filter} />
            <div class="events-col">
              <div class="muted count" data-testid="event-count">
                {formatCount(events.length)} events shown (newest first)
              </div>
              <EventList events={events} onFilter={filter} />
            </div>
          </div>
        </div>
      )}
      {result && isAgg && (
        <div class="results-agg">
          {chart.kind === "single" ? (
            <div class="single-value" data-testid="single-value">
              <div class="big">{chart.value.toLocaleString("en-US")}</div>
              <div class="muted">{chart.name}</div>
            </div>
          ) : (
            chart.kind !== "none" && (
              <div class="view-tabs">
                {(["table", "line", "bar"] as View[]).map((v) => (
                  <button key={v} data-testid={`view-${v}`} class={shownView === v ? "tab active" : "tab"} onClick={() => setView(v)}>
                    {v === "table" ? "Table" : v === "line" ? "Line chart" : "Bar chart"}
                  </button>
                ))}
              </div>
            )
          )}
          {shownView !== "table" && chart.kind !== "none" && chart.kind !== "single" && <ResultChart data={chart} type={shownView} />}
          <ResultTable rows={result.events} order={result.metaData.fieldOrder} />
        </div>
      )}
    </div>
  );
}
