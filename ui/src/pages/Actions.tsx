// A repository's actions (LogScale's names and fields): webhook, Slack, email, "ingest into
// a repository" (HumioRepo), PagerDuty and Opsgenie. Lists them, creates and edits them,
// sends a test ("Test" runs `testAction` with a sample event and shows the answer) and
// deletes them (the server refuses while a trigger uses the action).
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api";
import { Field, useRunner } from "./AlertsCommon";

type Kind = "Webhook" | "Slack" | "Email" | "HumioRepo" | "PagerDuty" | "OpsGenie";
const KINDS: Record<Kind, string> = { Webhook: "Webhook", Slack: "Slack", Email: "Email", HumioRepo: "Ingest into a repository", PagerDuty: "PagerDuty", OpsGenie: "Opsgenie" };

interface Draft {
  kind: Kind;
  id?: string;
  name: string;
  url: string;
  method: string;
  /** `Header: value` per line (webhook), `Field: value template` per line (Slack). */
  pairs: string;
  bodyTemplate: string;
  ignoreSSL: boolean;
  recipients: string;
  subjectTemplate: string;
  attachCsv: boolean;
  ingestToken: string;
  severity: string;
  routingKey: string;
  genieKey: string;
}

const EMPTY: Draft = { kind: "Webhook", name: "", url: "", method: "POST", pairs: "", bodyTemplate: "", ignoreSSL: false, recipients: "", subjectTemplate: "", attachCsv: false, ingestToken: "", severity: "critical", routingKey: "", genieKey: "" };

const LIST = `query($r: String!) { searchDomain(name: $r) { actions { id name __typename
  ... on WebhookAction { url method headers { header value } bodyTemplate ignoreSSL }
  ... on SlackAction { url fields { fieldName value } }
  ... on EmailAction { recipients subjectTemplate bodyTemplate attachCsv }
  ... on HumioRepoAction { repositoryName }
  ... on PagerDutyAction { severity routingKey }
  ... on OpsGenieAction { apiUrl genieKey }
} } }`;

function draftOf(a: any): Draft {
  const kind = a.__typename.replace(/Action$/, "") as Kind;
  return {
    ...EMPTY,
    kind,
    id: a.id,
    name: a.name,
    url: a.url ?? a.apiUrl ?? "",
    method: a.method ?? "POST",
    pairs: (a.headers ?? []).map((h: any) => `${h.header}: ${h.value}`).concat((a.fields ?? []).map((f: any) => `${f.fieldName}: ${f.value}`)).join("\n"),
    bodyTemplate: a.bodyTemplate ?? "",
    ignoreSSL: !!a.ignoreSSL,
    recipients: (a.recipients ?? []).join(", "),
    subjectTemplate: a.subjectTemplate ?? "",
    attachCsv: !!a.attachCsv,
    severity: a.severity ?? "critical",
    routingKey: a.routingKey ?? "",
    genieKey: a.genieKey ?? "",
  };
}

function pairs(text: string, k: string, v: string) {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const i = l.indexOf(":");
      if (i < 1) throw new Error(`"${l}" must be "name: value"`);
      return { [k]: l.slice(0, i).trim(), [v]: l.slice(i + 1).trim() };
    });
}

function input(repo: string, d: Draft): Record<string, unknown> {
  const base = { ...(d.id ? { id: d.id } : {}), viewName: repo, name: d.name.trim() };
  switch (d.kind) {
    case "Webhook":
      return { ...base, url: d.url, method: d.method, headers: pairs(d.pairs, "header", "value"), bodyTemplate: d.bodyTemplate, ignoreSSL: d.ignoreSSL };
    case "Slack":
      return { ...base, url: d.url, fields: pairs(d.pairs, "fieldName", "value") };
    case "Email":
      return { ...base, recipients: d.recipients.split(",").map((s) => s.trim()).filter(Boolean), subjectTemplate: d.subjectTemplate || null, bodyTemplate: d.bodyTemplate || null, attachCsv: d.attachCsv };
    case "HumioRepo":
      return { ...base, ingestToken: d.ingestToken };
    case "PagerDuty":
      return { ...base, severity: d.severity, routingKey: d.routingKey };
    case "OpsGenie":
      return { ...base, apiUrl: d.url, genieKey: d.genieKey };
  }
}

function ActionForm({ repo, initial, onDone }: { repo: string; initial: Draft; onDone: (saved: boolean) => void }) {
  const [d, setD] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const set = (p: Partial<Draft>) => setD({ ...d, ...p });
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const verb = d.id ? "update" : "create";
      const type = `${d.id ? "Update" : "Create"}${d.kind}Action`;
      await gql(`mutation($i: ${type}!) { ${verb}${d.kind}Action(input: $i) { id } }`, { i: input(repo, d) });
      onDone(true);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const text = (label: string, k: keyof Draft, testid?: string, placeholder?: string) => <Field label={label} value={d[k] as string} onInput={(v) => set({ [k]: v })} testid={testid} placeholder={placeholder} />;
  return (
    <form class="card alert-form" data-testid="action-form" onSubmit={save}>
      <h3>{d.id ? `Edit ${KINDS[d.kind]} action` : "New action"}</h3>
      {error && (
        <div class="error" role="alert" data-testid="form-error">
          {error}
        </div>
      )}
      <div class="row">
        <label>
          Type
          <select data-testid="action-kind" value={d.kind} disabled={!!d.id} onChange={(e) => set({ kind: (e.target as HTMLSelectElement).value as Kind })}>
            {(Object.keys(KINDS) as Kind[]).map((k) => (
              <option key={k} value={k}>
                {KINDS[k]}
              </option>
            ))}
          </select>
        </label>
        {text("Name", "name", "action-name")}
      </div>
      {(d.kind === "Webhook" || d.kind === "Slack" || d.kind === "OpsGenie") && (
        <div class="row">
          {text(d.kind === "OpsGenie" ? "API URL" : "URL", "url", "action-url", "https://…")}
          {d.kind === "Webhook" && (
            <label>
              Method
              <select value={d.method} onChange={(e) => set({ method: (e.target as HTMLSelectElement).value })}>
                {["POST", "PUT", "GET"].map((m) => (
                  <option key={m}>{m}</option>
                ))}
              </select>
            </label>
          )}
        </div>
      )}
      {(d.kind === "Webhook" || d.kind === "Slack") && (
        <label>
          {d.kind === "Webhook" ? "Headers (one “Name: value” a line)" : "Fields (one “Title: value template” a line)"}
          <textarea class="mono" rows={3} value={d.pairs} onInput={(e) => set({ pairs: (e.target as HTMLTextAreaElement).value })} />
        </label>
      )}
      {d.kind === "Email" && (
        <div class="row">
          {text("Recipients (comma separated)", "recipients", "action-recipients")}
          {text("Subject template", "subjectTemplate")}
        </div>
      )}
      {(d.kind === "Webhook" || d.kind === "Email") && (
        <label>
          Body template (message templates such as {"{alert_name}"}, {"{events_str}"}, {"{event_count}"}, {"{url}"})
          <textarea class="mono" rows={4} data-testid="action-body" value={d.bodyTemplate} onInput={(e) => set({ bodyTemplate: (e.target as HTMLTextAreaElement).value })} />
        </label>
      )}
      {d.kind === "Webhook" && (
        <label class="inline-label">
          <input type="checkbox" checked={d.ignoreSSL} onChange={(e) => set({ ignoreSSL: (e.target as HTMLInputElement).checked })} /> Ignore TLS certificate errors
        </label>
      )}
      {d.kind === "Email" && (
        <label class="inline-label">
          <input type="checkbox" checked={d.attachCsv} onChange={(e) => set({ attachCsv: (e.target as HTMLInputElement).checked })} /> Attach the events as CSV
        </label>
      )}
      {d.kind === "HumioRepo" && text("Ingest token of the target repository", "ingestToken", "action-token")}
      {d.kind === "PagerDuty" && (
        <div class="row">
          {text("Severity", "severity")}
          {text("Routing key", "routingKey")}
        </div>
      )}
      {d.kind === "OpsGenie" && text("Genie key", "genieKey")}
      <div class="row">
        <button type="submit" data-testid="save-action">
          {d.id ? "Save" : "Create action"}
        </button>
        <button type="button" class="secondary" onClick={() => onDone(false)}>
          Cancel
        </button>
      </div>
    </form>
  );
}

export default function ActionsTab({ repo }: { repo: string }) {
  const [list, setList] = useState<any[] | null>(null);
  const [editing, setEditing] = useState<Draft | null>(null);
  const [tested, setTested] = useState<Record<string, { success: boolean; message: string }>>({});
  const load = () =>
    gql(LIST, { r: repo })
      .then((d) => setList(d.searchDomain.actions))
      .catch((e) => setError(e.message));
  const [error, run, setError] = useRunner(load);
  useEffect(() => {
    setList(null);
    setEditing(null);
    load();
  }, [repo]);
  const test = (a: any) =>
    run(async () => {
      const r = await gql("mutation($i: TestAction!) { testAction(input: $i) { success message } }", { i: { viewName: repo, id: a.id } });
      setTested({ ...tested, [a.id]: r.testAction });
    });
  const remove = (a: any) => {
    if (confirm(`Delete action "${a.name}"?`)) run(() => gql("mutation($i: DeleteAction!) { deleteAction(input: $i) }", { i: { viewName: repo, id: a.id } }));
  };
  const summary = (a: any) => a.url ?? a.apiUrl ?? (a.recipients ? a.recipients.join(", ") : a.repositoryName ? `into ${a.repositoryName}` : a.severity ? `severity ${a.severity}` : "");
  return (
    <section>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {editing ? (
        <ActionForm
          key={editing.id ?? "new"}
          repo={repo}
          initial={editing}
          onDone={(saved) => {
            setEditing(null);
            if (saved) load();
          }}
        />
      ) : (
        <div class="toolbar">
          <button data-testid="new-action" onClick={() => setEditing({ ...EMPTY })}>
            New action
          </button>
        </div>
      )}
      <table class="list" data-testid="action-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            <th>Target</th>
            <th>Last test</th>
            <th>
              <span class="sr-only">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {list?.map((a) => (
            <tr key={a.id} data-action={a.name}>
              <td>{a.name}</td>
              <td>{KINDS[a.__typename.replace(/Action$/, "") as Kind] ?? a.__typename}</td>
              <td class="mono small">{summary(a)}</td>
              <td data-testid="test-result">{tested[a.id] ? <span class={tested[a.id].success ? "ok" : "error-text"}>{tested[a.id].message}</span> : <span class="muted">not tested</span>}</td>
              <td class="actions">
                <button class="link" data-testid="test" onClick={() => test(a)}>
                  Test
                </button>
                <button class="link" data-testid="edit" onClick={() => setEditing(draftOf(a))}>
                  Edit
                </button>
                <button class="link danger" data-testid="delete" onClick={() => remove(a)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list?.length === 0 && <p class="muted">No actions in {repo} yet.</p>}
    </section>
  );
}
