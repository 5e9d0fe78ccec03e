// What the alerts, scheduled searches and actions pages share: the trigger state every
// trigger type reports (GraphQL `TriggerState`), its status cells, the action picker, the
// "what would trigger now" preview (the query run over the trigger's window as a query job)
// and a small runner for mutations that shows their error.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, JobResult, QueryJob } from "../api";

/** The state fields of every trigger type. */
export const STATE_FIELDS = "lastTriggered lastError lastErrorTime throttledUntil throttledFieldValues { value until } evaluatingNode";

export interface TriggerState {
  lastTriggered: number | null;
  lastError: string | null;
  lastErrorTime: number | null;
  throttledUntil: number | null;
  throttledFieldValues: { value: string; until: number }[];
  evaluatingNode: number | null;
}

export interface ActionRef {
  id: string;
  name: string;
  __typename?: string;
}

export function fmtTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "never";
  return new Date(ms).toISOString().slice(0, 19).replace("T", " ") + " UTC";
}

/** Seconds as the largest whole unit (`90` → `90s`, `300` → `5m`). */
export function fmtSecs(s: number): string {
  if (s === 0) return "none";
  for (const [u, n] of [
    ["d", 86400],
    ["h", 3600],
    ["m", 60],
  ] as const)
    if (s % n === 0) return `${s / n}${u}`;
  return `${s}s`;
}

/** The "last triggered", "last error" and throttle cells of a trigger's row. */
export function StatusCells({ st, throttleSecs, throttleField }: { st: TriggerState; throttleSecs: number; throttleField?: string | null }) {
  const throttled = st.throttledUntil ? `throttled until ${fmtTime(st.throttledUntil)}` : st.throttledFieldValues.length ? `${st.throttledFieldValues.length} value(s) throttled` : "";
  return (
    <>
      <td data-testid="last-triggered">{fmtTime(st.lastTriggered)}</td>
      <td data-testid="last-error">{st.lastError ? <span class="error-text">{st.lastError}</span> : <span class="muted">none</span>}</td>
      <td data-testid="throttle">
        {fmtSecs(throttleSecs)}
        {throttleField ? ` per ${throttleField}` : ""}
        {throttled && <div class="muted small">{throttled}</div>}
      </td>
    </>
  );
}

/** Checkboxes choosing the trigger's actions, by id. */
export function ActionPicker({ actions, chosen, onChange }: { actions: ActionRef[]; chosen: string[]; onChange: (ids: string[]) => void }) {
  if (actions.length === 0) return <p class="muted">This repository has no actions yet: create one on the Actions tab.</p>;
  return (
    <fieldset class="checks">
      <legend>Actions</legend>
      {actions.map((a) => (
        <label key={a.id} class="check">
          <input
            type="checkbox"
            data-action={a.name}
            checked={chosen.includes(a.id)}
            onChange={(e) => onChange((e.target as HTMLInputElement).checked ? [...chosen, a.id] : chosen.filter((x) => x !== a.id))}
          />{" "}
          {a.name} <span class="muted small">{a.__typename}</span>
        </label>
      ))}
    </fieldset>
  );
}

/**
 * Runs `query` over `[start, end)` (relative times such as `5m`) and shows what the trigger
 * would act on now: the number of events or rows and the first few of them.
 */
export function Preview({ repo, query, start, end = "now", what }: { repo: string; query: string; start: string; end?: string; what: string }) {
  const [res, setRes] = useState<JobResult | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const job = useRef<QueryJob | null>(null);
  useEffect(() => () => job.current?.cancel(), []);
  const run = () => {
    job.current?.cancel();
    setRes(null);
    setErr(null);
    job.current = new QueryJob(repo, { queryString: query, start, end }, setRes, (e: ApiError) => setErr(e.message));
    job.current.start();
  };
  const rows = res?.events ?? [];
  const cols = res ? (res.metaData.fieldOrder.length ? res.metaData.fieldOrder : Object.keys(rows[0] ?? {})).slice(0, 6) : [];
  return (
    <div class="preview">
      <button type="button" class="secondary" data-testid="preview" onClick={run} disabled={!query.trim()}>
        Preview: what would trigger now
      </button>
      {err && (
        <div class="error" role="alert">
          {err}
        </div>
      )}
      {res && (
        <div data-testid="preview-result" data-done={res.done ? "1" : "0"} data-count={rows.length}>
          <p>
            {!res.done ? "Searching… " : ""}
            {rows.length === 0 ? `Nothing in the last ${start}: the ${what} would not trigger now.` : `${rows.length} ${res.metaData.isAggregate ? "row(s)" : "event(s)"} in the last ${start}: the ${what} would trigger now.`}
          </p>
          {rows.length > 0 && (
            <table class="list small">
              <thead>
                <tr>
                  {cols.map((c) => (
                    <th key={c}>{c}</th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {rows.slice(0, 5).map((r, i) => (
                  <tr key={i}>
                    {cols.map((c) => (
                      <td key={c} class="mono">
                        {String(r[c] ?? "")}
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </div>
  );
}

/** Runs `f`, keeping its error for display; resolves to whether it succeeded. */
export function useRunner(reload: () => void): [string | null, (f: () => Promise<unknown>) => Promise<boolean>, (e: string | null) => void] {
  const [error, setError] = useState<string | null>(null);
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      reload();
      return true;
    } catch (e) {
      setError((e as Error).message);
      return false;
    }
  };
  return [error, run, setError];
}

/** A labelled text input bound to a string. */
export function Field({ label, value, onInput, testid, placeholder, mono }: { label: string; value: string; onInput: (v: string) => void; testid?: string; placeholder?: string; mono?: boolean }) {
  return (
    <label>
      {label}
      <input class={mono ? "mono" : ""} data-testid={testid} value={value} placeholder={placeholder} onInput={(e) => onInput((e.target as HTMLInputElement).value)} />
    </label>
  );
}
