// Dashboards (loaded on demand): a list per repository, and a dashboard of widgets — each a
// query rendered as a table, line or bar chart, or single value — with a shared time range,
// auto-refresh, and an editor to add and remove widgets.
import { useEffect, useMemo, useState } from "preact/hooks";
import { gql, JobResult, QueryJob } from "../api";
import { ResultChart } from "../components/Plot";
import { ResultTable } from "../components/ResultTable";
import { TimePicker } from "../components/TimePicker";
import { chartData } from "../lib/chart";
import { link, navigate } from "../router";

type Visualization = "TABLE" | "LINE_CHART" | "BAR_CHART" | "SINGLE_VALUE";
interface Widget {
  id?: string;
  title: string;
  queryString: string;
  visualization: Visualization;
}
interface Dashboard {
  id: string;
  name: string;
  description: string;
  start: string;
  refreshIntervalSeconds: number;
  widgets: Widget[];
}

const FIELDS = "id name description start refreshIntervalSeconds widgets { id title queryString visualization }";
const VIS_LABEL: Record<Visualization, string> = { TABLE: "Table", LINE_CHART: "Line chart", BAR_CHART: "Bar chart", SINGLE_VALUE: "Single value" };

function WidgetView({ repo, w, start, tick }: { repo: string; w: Widget; start: string; tick: number }) {
  const [res, setRes] = useState<JobResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    setError(null);
    const job = new QueryJob(repo, { queryString: w.queryString, start, end: "now" }, (r) => r.done && setRes(r), (e) => setError(e.message));
    job.start();
    return () => job.cancel();
  }, [repo, w.queryString, start, tick]);
  const data = useMemo(() => (res ? chartData(res.events, res.metaData.fieldOrder) : { kind: "none" as const }), [res]);
  let body;
  if (error) body = <div class="error">{error}</div>;
  else if (!res) body = <div class="muted">Loading…</div>;
  else if (w.visualization === "SINGLE_VALUE") {
    const first = res.events[0] ?? {};
    const v = data.kind === "single" ? data.value : Number(Object.values(first).find((x) => Number.isFinite(Number(x))) ?? NaN);
    body = (
      <div class="single-value">
        <div class="big">{Number.isFinite(v) ? v.toLocaleString("en-US") : "–"}</div>
      </div>
    );
  } else if (w.visualization === "TABLE" || data.kind === "none" || data.kind === "single") body = <ResultTable rows={res.events} order={res.metaData.fieldOrder} />;
  else body = <ResultChart data={data} type={w.visualization === "LINE_CHART" ? "line" : "bar"} />;
  return (
    <div class="card widget" data-testid="widget" data-done={res ? "1" : "0"}>
      <h4>{w.title}</h4>
      {body}
    </div>
  );
}

function DashboardView({ repo, id }: { repo: string; id: string }) {
  const [d, setD] = useState<Dashboard | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState<Widget>({ title: "", queryString: "", visualization: "TABLE" });
  useEffect(() => {
    gql<{ repository: { dashboard: Dashboard } }>(`query($r:String!,$id:String!){ repository(name:$r) { dashboard(id:$id) { ${FIELDS} } } }`, { r: repo, id })
      .then((x) => setD(x.repository.dashboard))
      .catch((e) => setError(e.message));
  }, [repo, id]);
  useEffect(() => {
    if (!d || d.refreshIntervalSeconds <= 0) return;
    const t = setInterval(() => setTick((n) => n + 1), d.refreshIntervalSeconds * 1000);
    return () => clearInterval(t);
  }, [d?.refreshIntervalSeconds]);

  const save = async (next: Dashboard) => {
    setError(null);
    try {
      const x = await gql<{ updateDashboard: Dashboard }>(`mutation($i:UpdateDashboardInput!){ updateDashboard(input:$i) { ${FIELDS} } }`, {
        i: {
          id: next.id,
          searchDomainName: repo,
          name: next.name,
          description: next.description,
          start: next.start,
          refreshIntervalSeconds: next.refreshIntervalSeconds,
          widgets: next.widgets.map((w) => ({ title: w.title, queryString: w.queryString, visualization: w.visualization })),
        },
      });
      setD(x.updateDashboard);
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    }
  };

  if (!d) return <div class="page">{error ? <div class="error">{error}</div> : "Loading…"}</div>;
  return (
    <div class="page">
      <h2>
        <a href={`/dashboards?repo=${encodeURIComponent(repo)}`} onClick={link}>
          Dashboards
        </a>{" "}
        / {d.name}
      </h2>
      <div class="toolbar">
        <TimePicker value={{ start: d.start, end: "now" }} onChange={(r) => /^\d+$/.test(r.start) || save({ ...d, start: r.start })} />
        <label>
          Auto-refresh{" "}
          <select data-testid="refresh" value={String(d.refreshIntervalSeconds)} onChange={(e) => save({ ...d, refreshIntervalSeconds: Number((e.target as HTMLSelectElement).value) })}>
            {[0, 10, 30, 60, 300].map((s) => (
              <option key={s} value={String(s)}>
                {s === 0 ? "off" : s < 60 ? `${s} s` : `${s / 60} min`}
              </option>
            ))}
          </select>
        </label>
        <button class="secondary" onClick={() => setTick(tick + 1)}>
          Refresh
        </button>
        <button data-testid="edit-dashboard" class="secondary" onClick={() => setEditing(!editing)}>
          {editing ? "Done editing" : "Edit"}
        </button>
      </div>
      {error && <div class="error">{error}</div>}
      {editing && (
        <form
          class="card widget-form"
          data-testid="widget-form"
          onSubmit={async (e) => {
            e.preventDefault();
            if (await save({ ...d, widgets: [...d.widgets, draft] })) setDraft({ title: "", queryString: "", visualization: "TABLE" });
          }}
        >
          <input placeholder="Widget title" aria-label="Widget title" data-testid="widget-title" value={draft.title} onInput={(e) => setDraft({ ...draft, title: (e.target as HTMLInputElement).value })} />
          <input placeholder="Query, e.g. groupBy(level)" aria-label="Widget query" class="mono" data-testid="widget-query" value={draft.queryString} onInput={(e) => setDraft({ ...draft, queryString: (e.target as HTMLInputElement).value })} />
          <select aria-label="Visualization" data-testid="widget-vis" value={draft.visualization} onChange={(e) => setDraft({ ...draft, visualization: (e.target as HTMLSelectElement).value as Visualization })}>
            {(Object.keys(VIS_LABEL) as Visualization[]).map((v) => (
              <option key={v} value={v}>
                {VIS_LABEL[v]}
              </option>
            ))}
          </select>
          <button type="submit" data-testid="add-widget" disabled={!draft.title.trim() || !draft.queryString.trim()}>
            Add widget
          </button>
        </form>
      )}
      <div class="widgets">
        {d.widgets.length === 0 && <p class="muted">No widgets yet: press Edit to add one.</p>}
        {d.widgets.map((w, i) => (
          <div key={w.id ?? i} class="widget-cell">
            <WidgetView repo={repo} w={w} start={d.start} tick={tick} />
            {editing && (
              <button class="link danger" onClick={() => save({ ...d, widgets: d.widgets.filter((_, k) => k !== i) })}>
                Remove
              </button>
            )}
          </div>
        ))}
      </div>
    </div>
  );
}

function DashboardList({ search }: { search: string }) {
  const repo = new URLSearchParams(search).get("repo") ?? "";
  const [repos, setRepos] = useState<string[]>([]);
  const [list, setList] = useState<Dashboard[] | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    gql<{ repositories: { name: string }[] }>("{ repositories { name } }").then((d) => {
      const names = d.repositories.map((r) => r.name);
      setRepos(names);
      if (!repo && names.length) navigate(`/dashboards?repo=${encodeURIComponent(names[0])}`, true);
    });
  }, []);
  const load = () => {
    if (!repo) return;
    gql<{ repository: { dashboards: Dashboard[] } }>(`query($r:String!){ repository(name:$r) { dashboards { ${FIELDS} } } }`, { r: repo })
      .then((d) => setList(d.repository.dashboards))
      .catch((e) => setError(e.message));
  };
  useEffect(load, [repo]);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const d = await gql<{ createDashboard: { id: string } }>("mutation($i:CreateDashboardInput!){ createDashboard(input:$i) { id } }", { i: { searchDomainName: repo, name: name.trim() } });
      navigate(`/dashboards/${encodeURIComponent(repo)}/${d.createDashboard.id}`);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const remove = async (id: string, n: string) => {
    if (!window.confirm(`Delete dashboard ${n}?`)) return;
    try {
      await gql("mutation($i:DeleteDashboardInput!){ deleteDashboard(input:$i) }", { i: { id, searchDomainName: repo } });
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="page">
      <h2>Dashboards</h2>
      <div class="toolbar">
        <select aria-label="Repository" value={repo} onChange={(e) => navigate(`/dashboards?repo=${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}>
          {repos.map((r) => (
            <option key={r} value={r}>
              {r}
            </option>
          ))}
        </select>
        <form class="inline" onSubmit={create}>
          <input placeholder="New dashboard name" aria-label="New dashboard name" data-testid="dashboard-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <button type="submit" data-testid="create-dashboard" disabled={!name.trim() || !repo}>
            Create dashboard
          </button>
        </form>
      </div>
      {error && <div class="error">{error}</div>}
      <ul class="dashboard-list">
        {list?.map((d) => (
          <li key={d.id}>
            <a href={`/dashboards/${encodeURIComponent(repo)}/${d.id}`} onClick={link}>
              {d.name}
            </a>{" "}
            <span class="muted">{d.widgets.length} widgets</span>{" "}
            <button class="link danger" onClick={() => remove(d.id, d.name)}>
              Delete
            </button>
          </li>
        ))}
      </ul>
      {list?.length === 0 && <p class="muted">No dashboards in {repo} yet.</p>}
    </div>
  );
}

export default function DashboardsPage({ path, search }: { path: string; search: string }) {
  const m = /^\/dashboards\/([^/]+)\/([^/]+)$/.exec(path);
  if (m) return <DashboardView repo={decodeURIComponent(m[1])} id={decodeURIComponent(m[2])} />;
  return <DashboardList search={search} />;
}
