// Creating and editing an alert of any of LogScale's three kinds: a filter alert (every
// matching event triggers), an aggregate alert (an aggregate over a search interval triggers
// when it has rows, in complete or immediate trigger mode) or a legacy alert (a query over
// `queryStart`). The query is written in the query editor; "Preview" runs it over the
// window to show what would trigger now.
import { useState } from "preact/hooks";
import { gql } from "../api";
import { QueryEditor } from "../components/QueryEditor";
import { relativeMs } from "../lib/timerange";
import { ActionPicker, ActionRef, Field, fmtSecs, Preview } from "./AlertsCommon";

export type AlertKind = "filter" | "aggregate" | "legacy";

export const KIND_LABEL: Record<AlertKind, string> = { filter: "Filter alert", aggregate: "Aggregate alert", legacy: "Legacy alert" };

/** An alert as the form edits it (times as LogScale's relative strings). */
export interface AlertDraft {
  kind: AlertKind;
  id?: string;
  name: string;
  description: string;
  query: string;
  /** Aggregate: the search interval; legacy: `queryStart`. */
  window: string;
  throttle: string;
  throttleField: string;
  triggerMode: "CompleteMode" | "ImmediateMode";
  actionIds: string[];
  enabled: boolean;
}

export function newDraft(kind: AlertKind, query = ""): AlertDraft {
  return { kind, name: "", description: "", query, window: "5m", throttle: kind === "filter" ? "0s" : "5m", throttleField: "", triggerMode: "CompleteMode", actionIds: [], enabled: true };
}

function seconds(what: string, s: string): number {
  const t = s.trim();
  if (t === "" || t === "0") return 0;
  const ms = relativeMs(t);
  if (ms === null) throw new Error(`${what}: "${s}" is not a duration like 30s, 5m or 1h`);
  return Math.round(ms / 1000);
}

/** The GraphQL input of `d` for its kind (create, or update when it has an id). */
export function alertInput(repo: string, d: AlertDraft): Record<string, unknown> {
  const common = {
    ...(d.id ? { id: d.id } : {}),
    viewName: repo,
    name: d.name.trim(),
    description: d.description,
    queryString: d.query,
    throttleField: d.throttleField.trim() || null,
    enabled: d.enabled,
  };
  const throttle = seconds("Throttle", d.throttle);
  if (d.kind === "filter") return { ...common, actionIdsOrNames: d.actionIds, throttleTimeSeconds: throttle };
  if (d.kind === "aggregate")
    return { ...common, actionIdsOrNames: d.actionIds, throttleTimeSeconds: throttle, searchIntervalSeconds: seconds("Search interval", d.window), triggerMode: d.triggerMode };
  return { ...common, actions: d.actionIds, queryStart: d.window.trim(), throttleTimeMillis: throttle * 1000 };
}

const MUTATION: Record<AlertKind, [string, string]> = {
  filter: ["FilterAlert", "FilterAlert"],
  aggregate: ["AggregateAlert", "AggregateAlert"],
  legacy: ["Alert", "Alert"],
};

/** Creates or updates `d` in `repo`. */
export async function saveAlert(repo: string, d: AlertDraft): Promise<void> {
  const [field, type] = MUTATION[d.kind];
  const verb = d.id ? "update" : "create";
  const input = alertInput(repo, d);
  await gql(`mutation($i: ${d.id ? "Update" : "Create"}${type}!) { ${verb}${field}(input: $i) { id } }`, { i: input });
}

export function AlertForm({ repo, actions, initial, onSaved, onCancel }: { repo: string; actions: ActionRef[]; initial: AlertDraft; onSaved: () => void; onCancel: () => void }) {
  const [d, setD] = useState<AlertDraft>(initial);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const set = (p: Partial<AlertDraft>) => setD({ ...d, ...p });
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    setSaving(true);
    try {
      await saveAlert(repo, d);
      onSaved();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSaving(false);
    }
  };
  // What the preview runs over: the window, or for a filter alert the last throttle period
  // (at least 5 minutes) as a sample of the events that would trigger.
  let previewStart = d.window.trim() || "5m";
  if (d.kind === "filter") {
    let secs = 0;
    try {
      secs = seconds("Throttle", d.throttle);
    } catch {}
    previewStart = secs >= 300 ? fmtSecs(secs) : "5m";
  }
  return (
    <form class="card alert-form" data-testid="alert-form" onSubmit={save}>
      <h3>{d.id ? `Edit ${KIND_LABEL[d.kind].toLowerCase()}` : "New alert"}</h3>
      {error && (
        <div class="error" role="alert" data-testid="form-error">
          {error}
        </div>
      )}
      <div class="row">
        <label>
          Type
          <select data-testid="alert-kind" value={d.kind} disabled={!!d.id} onChange={(e) => set({ kind: (e.target as HTMLSelectElement).value as AlertKind })}>
            {(Object.keys(KIND_LABEL) as AlertKind[]).map((k) => (
              <option key={k} value={k}>
                {KIND_LABEL[k]}
              </option>
            ))}
          </select>
        </label>
        <Field label="Name" value={d.name} onInput={(v) => set({ name: v })} testid="alert-name" />
        <Field label="Description" value={d.description} onInput={(v) => set({ description: v })} />
      </div>
      <div class="field-label">Query</div>
      <QueryEditor value={d.query} onChange={(v) => set({ query: v })} onRun={() => {}} error={null} fields={[]} />
      <div class="row">
        {d.kind !== "filter" && (
          <Field label={d.kind === "aggregate" ? "Search interval" : "Query start (window)"} value={d.window} onInput={(v) => set({ window: v })} testid="alert-window" placeholder="5m" />
        )}
        <Field label="Throttle period" value={d.throttle} onInput={(v) => set({ throttle: v })} testid="alert-throttle" placeholder="5m" />
        <Field label="Throttle field (optional)" value={d.throttleField} onInput={(v) => set({ throttleField: v })} />
        {d.kind === "aggregate" && (
          <label>
            Trigger mode
            <select value={d.triggerMode} onChange={(e) => set({ triggerMode: (e.target as HTMLSelectElement).value as AlertDraft["triggerMode"] })}>
              <option value="CompleteMode">Complete: wait for a complete result</option>
              <option value="ImmediateMode">Immediate: trigger on partial results</option>
            </select>
          </label>
        )}
        <label class="inline-label">
          <input type="checkbox" checked={d.enabled} onChange={(e) => set({ enabled: (e.target as HTMLInputElement).checked })} /> Enabled
        </label>
      </div>
      <ActionPicker actions={actions} chosen={d.actionIds} onChange={(ids) => set({ actionIds: ids })} />
      <Preview repo={repo} query={d.query} start={previewStart} what={KIND_LABEL[d.kind].toLowerCase()} />
      <div class="row">
        <button type="submit" data-testid="save-alert" disabled={saving}>
          {d.id ? "Save" : "Create alert"}
        </button>
        <button type="button" class="secondary" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
