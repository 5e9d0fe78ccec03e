// One repository's settings: description, retention, ingest tokens (the new token is shown
// once, with a copy button), parsers (built-ins listed; scripts created, edited and tested on
// sample lines), saved searches.
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api";
import { formatBytes, formatCount } from "../lib/format";
import { link } from "../router";

interface Token {
  name: string;
  parser: { name: string } | null;
}
interface Parser {
  id: string;
  name: string;
  script: string;
  isBuiltIn: boolean;
}
interface Repo {
  name: string;
  description: string;
  timeBasedRetention: number | null;
  ingestSizeBasedRetention: number | null;
  storageSizeBasedRetention: number | null;
  eventCount: number;
  compressedByteSize: number;
  uncompressedByteSize: number;
  segmentCount: number;
  ingestTokens: Token[];
  parsers: Parser[];
  savedQueries: { id: string; name: string; queryString: string; start: string; end: string }[];
}

const Q = `query($n:String!){ repository(name:$n) { name description timeBasedRetention ingestSizeBasedRetention storageSizeBasedRetention
  eventCount compressedByteSize uncompressedByteSize segmentCount
  ingestTokens { name parser { name } } parsers { id name script isBuiltIn }
  savedQueries { id name queryString start end } } }`;

const numOrNull = (s: string) => (s.trim() === "" ? null : Number(s));

function Settings({ repo, reload, setError }: { repo: Repo; reload: () => void; setError: (e: string | null) => void }) {
  const [desc, setDesc] = useState(repo.description);
  const [days, setDays] = useState(repo.timeBasedRetention?.toString() ?? "");
  const [ingestGb, setIngestGb] = useState(repo.ingestSizeBasedRetention?.toString() ?? "");
  const [storageGb, setStorageGb] = useState(repo.storageSizeBasedRetention?.toString() ?? "");
  const [saved, setSaved] = useState(false);
  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      if (desc !== repo.description) await gql("mutation($n:String!,$d:String!){ updateDescriptionForSearchDomain(name:$n, newDescription:$d) }", { n: repo.name, d: desc });
      await gql("mutation($n:String!,$t:Float,$i:Float,$s:Float){ updateRetention(repositoryName:$n, timeBasedRetention:$t, ingestSizeBasedRetention:$i, storageSizeBasedRetention:$s) }", {
        n: repo.name,
        t: numOrNull(days),
        i: numOrNull(ingestGb),
        s: numOrNull(storageGb),
      });
      setSaved(true);
      setTimeout(() => setSaved(false), 2000);
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <form class="card settings" onSubmit={save} data-testid="settings">
      <h3>Settings</h3>
      <label>
        Description
        <input value={desc} data-testid="description" onInput={(e) => setDesc((e.target as HTMLInputElement).value)} />
      </label>
      <div class="row">
        <label>
          Retention by age (days)
          <input type="number" min="1" data-testid="retention-days" value={days} placeholder="keep forever" onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          By ingested size (GB)
          <input type="number" min="0" step="any" value={ingestGb} placeholder="no limit" onInput={(e) => setIngestGb((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          By stored size (GB)
          <input type="number" min="0" step="any" value={storageGb} placeholder="no limit" onInput={(e) => setStorageGb((e.target as HTMLInputElement).value)} />
        </label>
      </div>
      <button type="submit" data-testid="save-settings">
        Save settings
      </button>
      {saved && <span class="ok"> Saved</span>}
    </form>
  );
}

function Tokens({ repo, reload, setError }: { repo: Repo; reload: () => void; setError: (e: string | null) => void }) {
  const [name, setName] = useState("");
  const [parser, setParser] = useState("");
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [copied, setCopied] = useState(false);
  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const d = await gql<{ addIngestTokenV3: { name: string; token: string } }>(
        "mutation($i:AddIngestTokenV3Input!){ addIngestTokenV3(input:$i) { name token } }",
        { i: { repositoryName: repo.name, name: name.trim(), parser: parser || null } },
      );
      setCreated(d.addIngestTokenV3);
      setCopied(false);
      setName("");
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const assign = async (token: string, p: string) => {
    try {
      await gql("mutation($i:AssignParserToIngestTokenInputV2!){ assignParserToIngestTokenV2(input:$i) { name } }", { i: { repositoryName: repo.name, tokenName: token, parser: p || null } });
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const remove = async (token: string) => {
    if (!window.confirm(`Delete ingest token ${token}? Shippers using it will be refused.`)) return;
    try {
      await gql("mutation($r:String!,$n:String!){ removeIngestToken(repositoryName:$r, name:$n) }", { r: repo.name, n: token });
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="card" data-testid="tokens">
      <h3>Ingest tokens</h3>
      {created && (
        <div class="token-once" data-testid="new-token">
          <div>
            Token <b>{created.name}</b> — copy it now, it is not shown again:
          </div>
          <code data-testid="token-value">{created.token}</code>
          <button
            type="button"
            onClick={() => {
              navigator.clipboard?.writeText(created.token).then(() => setCopied(true), () => setCopied(false));
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
        </div>
      )}
      <table class="list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Parser</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {repo.ingestTokens.map((t) => (
            <tr key={t.name} data-token={t.name}>
              <td>{t.name}</td>
              <td>
                <select aria-label={`Parser of token ${t.name}`} value={t.parser?.name ?? ""} onChange={(e) => assign(t.name, (e.target as HTMLSelectElement).value)}>
                  <option value="">(none)</option>
                  {repo.parsers.map((p) => (
                    <option key={p.name} value={p.name}>
                      {p.name}
                    </option>
                  ))}
                </select>
              </td>
              <td>
                <button class="link danger" onClick={() => remove(t.name)}>
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="inline-form" onSubmit={create}>
        <input placeholder="Token name" aria-label="Token name" data-testid="token-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <select aria-label="Parser of the new token" value={parser} data-testid="token-parser" onChange={(e) => setParser((e.target as HTMLSelectElement).value)}>
          <option value="">(no parser)</option>
          {repo.parsers.map((p) => (
            <option key={p.name} value={p.name}>
              {p.name}
            </option>
          ))}
        </select>
        <button type="submit" data-testid="create-token" disabled={!name.trim()}>
          Create token
        </button>
      </form>
    </div>
  );
}

interface TestResult {
  input: string;
  kept: boolean;
  timestamp: number | null;
  fields: { name: string; value: string }[];
  error: string | null;
}

function Parsers({ repo, reload, setError }: { repo: Repo; reload: () => void; setError: (e: string | null) => void }) {
  const [editing, setEditing] = useState<{ name: string; script: string; isNew: boolean } | null>(null);
  const [sample, setSample] = useState("");
  const [results, setResults] = useState<TestResult[] | null>(null);
  const [testError, setTestError] = useState<string | null>(null);
  const test = async () => {
    if (!editing) return;
    setTestError(null);
    try {
      const d = await gql<{ testParser: TestResult[] }>("query($r:String!,$s:String!,$t:[String!]!){ testParser(repositoryName:$r, script:$s, testData:$t) { input kept timestamp fields { name value } error } }", {
        r: repo.name,
        s: editing.script,
        t: sample.split("\n").filter((l) => l.trim() !== ""),
      });
      setResults(d.testParser);
    } catch (err) {
      setResults(null);
      setTestError((err as Error).message);
    }
  };
  const save = async () => {
    if (!editing) return;
    setError(null);
    try {
      const m = editing.isNew ? "createParser" : "updateParser";
      await gql(`mutation($i:CreateParserInput!){ ${m}(input:$i) { name } }`, { i: { repositoryName: repo.name, name: editing.name.trim(), script: editing.script } });
      setEditing(null);
      setResults(null);
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const remove = async (name: string) => {
    if (!window.confirm(`Delete parser ${name}?`)) return;
    try {
      await gql("mutation($i:DeleteParserInput!){ deleteParser(input:$i) }", { i: { repositoryName: repo.name, id: name } });
      reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <div class="card" data-testid="parsers">
      <h3>Parsers</h3>
      <table class="list">
        <tbody>
          {repo.parsers.map((p) => (
            <tr key={p.name} data-parser={p.name}>
              <td>{p.name}</td>
              <td class="muted">{p.isBuiltIn ? "built-in" : "script"}</td>
              <td>
                <code class="script-preview">{p.script.split("\n")[0]}</code>
              </td>
              <td class="actions">
                {!p.isBuiltIn && (
                  <>
                    <button class="link" onClick={() => setEditing({ name: p.name, script: p.script, isNew: false })}>
                      Edit
                    </button>
                    <button class="link danger" onClick={() => remove(p.name)}>
                      Delete
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {!editing && (
        <button data-testid="new-parser" onClick={() => setEditing({ name: "", script: "", isNew: true })}>
          New parser
        </button>
      )}
      {editing && (
        <div class="parser-editor">
          <label>
            Name
            <input value={editing.name} disabled={!editing.isNew} data-testid="parser-name" onInput={(e) => setEditing({ ...editing, name: (e.target as HTMLInputElement).value })} />
          </label>
          <label>
            Script (LogScale query language, run on each event: e.g. <code>/(?&lt;level&gt;\w+) (?&lt;msg&gt;.*)/</code> or <code>parseJson()</code>)
            <textarea rows={5} class="mono" data-testid="parser-script" value={editing.script} onInput={(e) => setEditing({ ...editing, script: (e.target as HTMLTextAreaElement).value })} />
          </label>
          <label>
            Sample lines (one event per line)
            <textarea rows={4} class="mono" data-testid="parser-sample" value={sample} onInput={(e) => setSample((e.target as HTMLTextAreaElement).value)} />
          </label>
          <div class="row">
            <button type="button" class="secondary" data-testid="test-parser" onClick={test}>
              Test
            </button>
            <button type="button" data-testid="save-parser" disabled={!editing.name.trim() || !editing.script.trim()} onClick={save}>
              Save parser
            </button>
            <button type="button" class="secondary" onClick={() => setEditing(null)}>
              Cancel
            </button>
          </div>
          {testError && <div class="error">{testError}</div>}
          {results && (
            <table class="results" data-testid="parser-results">
              <thead>
                <tr>
                  <th>Line</th>
                  <th>Result</th>
                </tr>
              </thead>
              <tbody>
                {results.map((r, i) => (
                  <tr key={i}>
                    <td class="mono">{r.input}</td>
                    <td>
                      {r.error ? (
                        <span class="error-text">{r.error}</span>
                      ) : !r.kept ? (
                        <span class="muted">dropped by the parser</span>
                      ) : (
                        r.fields.map((f) => (
                          <span class="pill" key={f.name}>
                            {f.name}={f.value}
                          </span>
                        ))
                      )}
                    </td>
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

export default function RepositoryPage({ name }: { name: string }) {
  const [repo, setRepo] = useState<Repo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [gen, setGen] = useState(0);
  const reload = () =>
    gql<{ repository: Repo }>(Q, { n: name })
      .then((d) => setRepo(d.repository))
      .catch((e) => setError(e.message));
  useEffect(() => {
    reload();
  }, [name]);
  if (!repo) return <div class="page">{error ? <div class="error">{error}</div> : "Loading…"}</div>;
  return (
    <div class="page">
      <h2>
        <a href="/repositories" onClick={link}>
          Repositories
        </a>{" "}
        / {repo.name}
      </h2>
      <p class="muted">
        {formatCount(repo.eventCount)} events · {formatBytes(repo.uncompressedByteSize)} ingested · {formatBytes(repo.compressedByteSize)} stored in {repo.segmentCount} segments ·{" "}
        <a href={`/search?repo=${encodeURIComponent(repo.name)}`} onClick={link}>
          Search
        </a>{" "}
        ·{" "}
        <a href={`/dashboards?repo=${encodeURIComponent(repo.name)}`} onClick={link}>
          Dashboards
        </a>
      </p>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <Settings key={gen} repo={repo} reload={() => reload().then(() => setGen(gen + 1))} setError={setError} />
      <Tokens repo={repo} reload={reload} setError={setError} />
      <Parsers repo={repo} reload={reload} setError={setError} />
      <div class="card">
        <h3>Saved searches</h3>
        {repo.savedQueries.length === 0 && <p class="muted">None yet: use "Save search" on the search page.</p>}
        <ul>
          {repo.savedQueries.map((q) => (
            <li key={q.id}>
              <a href={`/search?repo=${encodeURIComponent(repo.name)}&query=${encodeURIComponent(q.queryString)}&start=${encodeURIComponent(q.start)}`} onClick={link}>
                {q.name}
              </a>{" "}
              <code class="muted">{q.queryString}</code>
            </li>
          ))}
        </ul>
      </div>
    </div>
  );
}
