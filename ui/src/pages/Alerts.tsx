// Alerts, scheduled searches and actions of a repository (LogScale's triggers and actions):
// tabs at /alerts, /alerts/scheduled and /alerts/actions, the repository in `?repo=`. The
// alerts tab lists filter, aggregate and legacy alerts with their status (enabled, last
// triggered, last error, throttle) and creates, edits, enables, disables and deletes them.
// `?new=filter|aggregate&query=…` opens the form prefilled ("Create alert from this search").
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api";
import { link, navigate } from "../router";
import ActionsTab from "./Actions";
import { ActionRef, STATE_FIELDS, StatusCells, TriggerState, useRunner } from "./AlertsCommon";
import { AlertDraft, AlertForm, AlertKind, alertInput, KIND_LABEL, newDraft } from "./AlertsForm";
import ScheduledSearchesTab from "./ScheduledSearches";

const TABS = [
  { id: "", label: "Alerts" },
  { id: "scheduled", label: "Scheduled searches" },
  { id: "actions", label: "Actions" },
];

interface Row extends AlertDraft {
  id: string;
  throttleSecs: number;
  windowLabel: string;
  st: TriggerState;
}

const COMMON = `id name description queryString throttleField enabled ${STATE_FIELDS}`;
const LIST = `query($r: String!) { searchDomain(name: $r) {
  filterAlerts { ${COMMON} throttleTimeSeconds actions { id } }
  aggregateAlerts { ${COMMON} throttleTimeSeconds searchIntervalSeconds triggerMode actions { id } }
  alerts { ${COMMON} throttleTimeMillis queryStart actions }
  actions { id name __typename }
} }`;

function rows(d: any): Row[] {
  const base = (kind: AlertKind, a: any, throttleSecs: number, window: string, actionIds: string[]): Row => ({
    ...newDraft(kind, a.queryString),
    id: a.id,
    name: a.name,
    description: a.description ?? "",
    throttle: `${throttleSecs}s`,
    throttleField: a.throttleField ?? "",
    enabled: a.enabled,
    actionIds,
    window,
    windowLabel: window,
    triggerMode: a.triggerMode ?? "CompleteMode",
    throttleSecs,
    st: a,
  });
  return [
    ...d.filterAlerts.map((a: any) => ({ ...base("filter", a, a.throttleTimeSeconds, "", a.actions.map((x: any) => x.id)), windowLabel: "every event" })),
    ...d.aggregateAlerts.map((a: any) => base("aggregate", a, a.throttleTimeSeconds, `${a.searchIntervalSeconds}s`, a.actions.map((x: any) => x.id))),
    ...d.alerts.map((a: any) => base("legacy", a, Math.ceil(a.throttleTimeMillis / 1000), a.queryStart, a.actions)),
  ].sort((a, b) => a.name.localeCompare(b.name));
}

function AlertsTab({ repo, search }: { repo: string; search: string }) {
  const [list, setList] = useState<Row[] | null>(null);
  const [actions, setActions] = useState<ActionRef[]>([]);
  const [editing, setEditing] = useState<AlertDraft | null>(null);
  const load = () =>
    gql(LIST, { r: repo })
      .then((d) => {
        setList(rows(d.searchDomain));
        setActions(d.searchDomain.actions);
      })
      .catch((e) => setError(e.message));
  const [error, run, setError] = useRunner(load);
  useEffect(() => {
    setList(null);
    setEditing(null);
    load();
    const p = new URLSearchParams(search);
    const kind = p.get("new");
    if (kind === "filter" || kind === "aggregate" || kind === "legacy") setEditing(newDraft(kind, p.get("query") ?? ""));
  }, [repo]);
  // Status changes as the evaluator works: refresh while the list is shown.
  useEffect(() => {
    if (editing) return;
    const t = setInterval(load, 2000);
    return () => clearInterval(t);
  }, [repo, !!editing]);

  const type = (k: AlertKind) => (k === "legacy" ? "Alert" : k === "filter" ? "FilterAlert" : "AggregateAlert");
  const toggle = (r: Row) =>
    run(() =>
      r.kind === "legacy"
        ? gql("mutation($i: UpdateAlert!) { updateAlert(input: $i) { id } }", { i: alertInput(repo, { ...r, enabled: !r.enabled }) })
        : gql(`mutation($i: TriggerRef!) { ${r.enabled ? "disable" : "enable"}${type(r.kind)}(input: $i) { id } }`, { i: { viewName: repo, id: r.id } }),
    );
  const remove = (r: Row) => {
    if (!confirm(`Delete ${KIND_LABEL[r.kind].toLowerCase()} "${r.name}"?`)) return;
    run(() => gql(`mutation($i: TriggerRef!) { delete${type(r.kind)}(input: $i) }`, { i: { viewName: repo, id: r.id } }));
  };
  const clearError = (r: Row) => run(() => gql(`mutation($i: TriggerRef!) { clearErrorOn${type(r.kind)}(input: $i) { id } }`, { i: { viewName: repo, id: r.id } }));

  return (
    <section>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {editing ? (
        <AlertForm
          key={editing.id ?? "new"}
          repo={repo}
          actions={actions}
          initial={editing}
          onCancel={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            load();
          }}
        />
      ) : (
        <div class="toolbar">
          <button data-testid="new-alert" onClick={() => setEditing(newDraft("filter"))}>
            New alert
          </button>
        </div>
      )}
      <table class="list" data-testid="alert-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Window</th>
            <th>Enabled</th>
            <th>Last triggered</th>
            <th>Last error</th>
            <th>Throttle</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list?.map((r) => (
            <tr key={r.id} data-alert={r.name}>
              <td>
                {r.name}
                <div class="muted small mono">{r.query}</div>
              </td>
              <td>{KIND_LABEL[r.kind]}</td>
              <td>{r.windowLabel}</td>
              <td>
                <label class="inline-label">
                  <input type="checkbox" data-testid="enabled" checked={r.enabled} onChange={() => toggle(r)} />
                  <span class="sr-only">Enabled</span>
                  {r.enabled ? "yes" : "no"}
                </label>
              </td>
              <StatusCells st={r.st} throttleSecs={r.throttleSecs} throttleField={r.throttleField} />
              <td class="actions">
                {r.st.lastError && (
                  <button class="link" onClick={() => clearError(r)}>
                    Clear error
                  </button>
                )}
                <button class="link" data-testid="edit" onClick={() => setEditing(r)}>
                  Edit
                </button>
                <button class="link danger" data-testid="delete" onClick={() => remove(r)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list?.length === 0 && <p class="muted">No alerts in {repo} yet.</p>}
    </section>
  );
}

export default function AlertsPage({ path, search }: { path: string; search: string }) {
  const tab = path.split("/")[2] ?? "";
  const params = new URLSearchParams(search);
  const repo = params.get("repo") ?? "";
  const [repos, setRepos] = useState<string[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    gql<{ repositories: { name: string }[] }>("{ repositories { name } }")
      .then((d) => {
        const names = d.repositories.map((r) => r.name);
        setRepos(names);
        if (!repo && names.length > 0) navigate(`${path}?repo=${encodeURIComponent(names[0])}`, true);
      })
      .catch((e) => setError(e.message));
  }, []);
  const q = `?repo=${encodeURIComponent(repo)}`;
  return (
    <div class="page">
      <h2>Alerts</h2>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <div class="toolbar">
        <label class="inline-label">
          Repository
          <select data-testid="alerts-repo" value={repo} onChange={(e) => navigate(`${path}?repo=${encodeURIComponent((e.target as HTMLSelectElement).value)}`)}>
            {(repos ?? [repo]).map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
      </div>
      <nav class="view-tabs" aria-label="Alerts">
        {TABS.map((t) => (
          <a key={t.id} href={`/alerts${t.id ? "/" + t.id : ""}${q}`} onClick={link} class={tab === t.id ? "tab active" : "tab"} aria-current={tab === t.id ? "page" : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      {repos && repos.length === 0 && <p class="muted">There are no repositories yet.</p>}
      {repo && tab === "" && <AlertsTab repo={repo} search={search} />}
      {repo && tab === "scheduled" && <ScheduledSearchesTab repo={repo} />}
      {repo && tab === "actions" && <ActionsTab repo={repo} />}
    </div>
  );
}
