// A repository's scheduled searches: a query over a relative window (`queryStart` to
// `queryEnd`) run on a cron schedule in a time zone, with a backfill limit after an outage.
// Lists them with their status (enabled, last run, next run, last triggered, last error) and
// creates, edits, enables, disables and deletes them; "Preview" runs the query over its
// window now.
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api";
import { QueryEditor } from "../components/QueryEditor";
import { ActionPicker, ActionRef, Field, fmtTime, Preview, STATE_FIELDS, TriggerState, useRunner } from "./AlertsCommon";

interface Draft {
  id?: string;
  name: string;
  description: string;
  queryString: string;
  start: string;
  end: string;
  schedule: string;
  timeZone: string;
  backfillLimit: string;
  actions: string[];
  enabled: boolean;
}

interface Row extends Draft {
  id: string;
  lastExecuted: number | null;
  timeOfNextPlannedExecution: number | null;
  st: TriggerState;
}

const EMPTY: Draft = { name: "", description: "", queryString: "", start: "1h", end: "now", schedule: "0 * * * *", timeZone: "UTC", backfillLimit: "0", actions: [], enabled: true };

const LIST = `query($r: String!) { searchDomain(name: $r) {
  scheduledSearches { id name description queryString start end schedule timeZone backfillLimit enabled actions lastExecuted timeOfNextPlannedExecution ${STATE_FIELDS} }
  actions { id name __typename }
} }`;

function input(repo: string, d: Draft) {
  const n = Number(d.backfillLimit || "0");
  if (!Number.isInteger(n) || n < 0) throw new Error(`Backfill limit: "${d.backfillLimit}" is not a whole number`);
  return {
    ...(d.id ? { id: d.id } : {}),
    viewName: repo,
    name: d.name.trim(),
    description: d.description,
    queryString: d.queryString,
    queryStart: d.start.trim(),
    queryEnd: d.end.trim() || "now",
    schedule: d.schedule.trim(),
    timeZone: d.timeZone.trim() || "UTC",
    backfillLimit: n,
    actionIdsOrNames: d.actions,
    enabled: d.enabled,
  };
}

async function save(repo: string, d: Draft) {
  const verb = d.id ? "update" : "create";
  await gql(`mutation($i: ${d.id ? "Update" : "Create"}ScheduledSearch!) { ${verb}ScheduledSearch(input: $i) { id } }`, { i: input(repo, d) });
}

function Form({ repo, actions, initial, onDone }: { repo: string; actions: ActionRef[]; initial: Draft; onDone: (saved: boolean) => void }) {
  const [d, setD] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const set = (p: Partial<Draft>) => setD({ ...d, ...p });
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await save(repo, d);
      onDone(true);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="card alert-form" data-testid="scheduled-form" onSubmit={submit}>
      <h3>{d.id ? "Edit scheduled search" : "New scheduled search"}</h3>
      {error && (
        <div class="error" role="alert" data-testid="form-error">
          {error}
        </div>
      )}
      <div class="row">
        <Field label="Name" value={d.name} onInput={(v) => set({ name: v })} testid="scheduled-name" />
        <Field label="Description" value={d.description} onInput={(v) => set({ description: v })} />
      </div>
      <div class="field-label">Query</div>
      <QueryEditor value={d.queryString} onChange={(v) => set({ queryString: v })} onRun={() => {}} error={null} fields={[]} />
      <div class="row">
        <Field label="Window start" value={d.start} onInput={(v) => set({ start: v })} placeholder="1h" />
        <Field label="Window end" value={d.end} onInput={(v) => set({ end: v })} placeholder="now" />
        <Field label="Schedule (cron: minute hour day month weekday)" value={d.schedule} onInput={(v) => set({ schedule: v })} testid="scheduled-cron" mono />
        <Field label="Time zone" value={d.timeZone} onInput={(v) => set({ timeZone: v })} placeholder="Europe/Copenhagen" />
        <Field label="Backfill limit" value={d.backfillLimit} onInput={(v) => set({ backfillLimit: v })} />
        <label class="inline-label">
          <input type="checkbox" checked={d.enabled} onChange={(e) => set({ enabled: (e.target as HTMLInputElement).checked })} /> Enabled
        </label>
      </div>
      <ActionPicker actions={actions} chosen={d.actions} onChange={(ids) => set({ actions: ids })} />
      <Preview repo={repo} query={d.queryString} start={d.start.trim() || "1h"} end={d.end.trim() || "now"} what="scheduled search" />
      <div class="row">
        <button type="submit" data-testid="save-scheduled">
          {d.id ? "Save" : "Create scheduled search"}
        </button>
        <button type="button" class="secondary" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export default function ScheduledSearchesTab({ repo }: { repo: string }) {
  const [list, setList] = useState<Row[] | null>(null);
  const [actions, setActions] = useState<ActionRef[]>([]);
  const [editing, setEditing] = useState<Draft | null>(null);
  const load = () =>
    gql(LIST, { r: repo })
      .then((d) => {
        setList(d.searchDomain.scheduledSearches.map((s: any) => ({ ...s, description: s.description ?? "", backfillLimit: String(s.backfillLimit), st: s })));
        setActions(d.searchDomain.actions);
      })
      .catch((e) => setError(e.message));
  const [error, run, setError] = useRunner(load);
  useEffect(() => {
    setList(null);
    setEditing(null);
    load();
  }, [repo]);
  const ref = (r: Row) => ({ i: { viewName: repo, id: r.id } });
  const toggle = (r: Row) => run(() => gql(`mutation($i: TriggerRef!) { ${r.enabled ? "disable" : "enable"}ScheduledSearch(input: $i) { id } }`, ref(r)));
  const remove = (r: Row) => {
    if (confirm(`Delete scheduled search "${r.name}"?`)) run(() => gql("mutation($i: TriggerRef!) { deleteScheduledSearch(input: $i) }", ref(r)));
  };
  return (
    <section>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {editing ? (
        <Form
          key={editing.id ?? "new"}
          repo={repo}
          actions={actions}
          initial={editing}
          onDone={(saved) => {
            setEditing(null);
            if (saved) load();
          }}
        />
      ) : (
        <div class="toolbar">
          <button data-testid="new-scheduled" onClick={() => setEditing({ ...EMPTY })}>
            New scheduled search
          </button>
        </div>
      )}
      <table class="list" data-testid="scheduled-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Schedule</th>
            <th>Window</th>
            <th>Enabled</th>
            <th>Last run</th>
            <th>Next run</th>
            <th>Last triggered</th>
            <th>Last error</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list?.map((r) => (
            <tr key={r.id} data-scheduled={r.name}>
              <td>
                {r.name}
                <div class="muted small mono">{r.queryString}</div>
              </td>
              <td class="mono">
                {r.schedule} <span class="muted">{r.timeZone}</span>
              </td>
              <td>
                {r.start} → {r.end}
              </td>
              <td>
                <label class="inline-label">
                  <input type="checkbox" data-testid="enabled" checked={r.enabled} onChange={() => toggle(r)} />
                  <span class="sr-only">Enabled</span>
                  {r.enabled ? "yes" : "no"}
                </label>
              </td>
              <td>{fmtTime(r.lastExecuted)}</td>
              <td>{r.enabled ? fmtTime(r.timeOfNextPlannedExecution) : "—"}</td>
              <td data-testid="last-triggered">{fmtTime(r.st.lastTriggered)}</td>
              <td data-testid="last-error">{r.st.lastError ? <span class="error-text">{r.st.lastError}</span> : <span class="muted">none</span>}</td>
              <td class="actions">
                <button class="link" data-testid="edit" onClick={() => setEditing({ ...r })}>
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
      {list?.length === 0 && <p class="muted">No scheduled searches in {repo} yet.</p>}
    </section>
  );
}
