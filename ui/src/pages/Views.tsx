// Views: a view searches several repositories at once, each connection with its own filter
// (LogScale's model). List, create with connections, edit connections, delete (the name must
// be typed to confirm), and a link to search the view. Create and delete show only to viewers
// who may do them; the server refuses them anyway.
import { useEffect, useState } from "preact/hooks";
import { gql, type Viewer } from "../api";
import { link } from "../router";

interface Connection {
  repositoryName: string;
  filter: string;
}
interface ViewItem {
  name: string;
  description: string;
  permissions: string[];
  connections: Connection[];
}

const VIEWS_QUERY = `{ repositories { name } searchDomains { __typename name ... on View { description permissions connections { repository { name } filter } } } }`;

/** Connection rows being edited: a repository and its filter. */
function ConnectionsEditor({ rows, repos, onChange }: { rows: Connection[]; repos: string[]; onChange: (rows: Connection[]) => void }) {
  const set = (i: number, c: Partial<Connection>) => onChange(rows.map((r, j) => (j === i ? { ...r, ...c } : r)));
  return (
    <div class="connections" data-testid="connections">
      {rows.map((r, i) => (
        <div class="row" key={i} data-connection={i}>
          <label>
            <span class="sr-only">Repository</span>
            <select data-testid="connection-repo" value={r.repositoryName} onChange={(e) => set(i, { repositoryName: (e.target as HTMLSelectElement).value })}>
              <option value="">Repository…</option>
              {repos.map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <input
            placeholder="Filter (empty: every event)"
            aria-label="Filter"
            data-testid="connection-filter"
            value={r.filter}
            onInput={(e) => set(i, { filter: (e.target as HTMLInputElement).value })}
          />
          <button type="button" class="link danger" onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" class="secondary" data-testid="add-connection" onClick={() => onChange([...rows, { repositoryName: "", filter: "" }])}>
        Add repository
      </button>
    </div>
  );
}

export default function ViewsPage({ viewer }: { viewer: Viewer }) {
  const [views, setViews] = useState<ViewItem[] | null>(null);
  const [repos, setRepos] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [rows, setRows] = useState<Connection[]>([{ repositoryName: "", filter: "" }]);
  const [editing, setEditing] = useState<{ name: string; rows: Connection[] } | null>(null);
  const [confirm, setConfirm] = useState<{ name: string; typed: string } | null>(null);
  const canCreate = viewer.isRoot || viewer.organizationPermissions.includes("CreateRepository");

  const load = () =>
    gql<{ repositories: { name: string }[]; searchDomains: any[] }>(VIEWS_QUERY)
      .then((d) => {
        setRepos(d.repositories.map((r) => r.name));
        setViews(
          d.searchDomains
            .filter((s) => s.__typename === "View")
            .map((s) => ({
              name: s.name,
              description: s.description,
              permissions: s.permissions,
              connections: s.connections.map((c: any) => ({ repositoryName: c.repository.name, filter: c.filter })),
            })),
        );
      })
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);

  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      load();
      return true;
    } catch (err) {
      setError((err as Error).message);
      return false;
    }
  };
  const used = (rs: Connection[]) => rs.filter((r) => r.repositoryName);
  const create = async (e: Event) => {
    e.preventDefault();
    const ok = await run(() =>
      gql("mutation($n:String!,$d:String,$c:[ViewConnectionInput!]){ createView(name:$n, description:$d, connections:$c) { name } }", {
        n: name.trim(),
        d: description,
        c: used(rows),
      }),
    );
    if (ok) {
      setName("");
      setDescription("");
      setRows([{ repositoryName: "", filter: "" }]);
    }
  };
  const save = async () => {
    if (!editing) return;
    const ok = await run(() =>
      gql("mutation($n:String!,$c:[ViewConnectionInput!]!){ updateView(viewName:$n, connections:$c) { name } }", { n: editing.name, c: used(editing.rows) }),
    );
    if (ok) setEditing(null);
  };
  const remove = async () => {
    if (!confirm) return;
    if (await run(() => gql("mutation($n:String!){ deleteSearchDomain(name:$n) }", { n: confirm.name }))) setConfirm(null);
  };

  return (
    <div class="page">
      <h2>Views</h2>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {canCreate && (
        <form class="card" onSubmit={create} data-testid="new-view">
          <div class="inline-form">
            <input placeholder="New view name" aria-label="New view name" data-testid="new-view-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
            <input placeholder="Description (optional)" aria-label="View description (optional)" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
          </div>
          <ConnectionsEditor rows={rows} repos={repos} onChange={setRows} />
          <button type="submit" data-testid="create-view" disabled={!name.trim()}>
            Create view
          </button>
        </form>
      )}
      <table class="list" data-testid="view-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Description</th>
            <th>Repositories and filters</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {views?.map((v) => (
            <tr key={v.name} data-view={v.name}>
              <td>{v.name}</td>
              <td class="muted">{v.description}</td>
              <td>
                {editing?.name === v.name ? (
                  <>
                    <ConnectionsEditor rows={editing.rows} repos={repos} onChange={(rs) => setEditing({ ...editing, rows: rs })} />
                    <div class="row">
                      <button data-testid="save-view" onClick={save}>
                        Save
                      </button>
                      <button class="secondary" onClick={() => setEditing(null)}>
                        Cancel
                      </button>
                    </div>
                  </>
                ) : (
                  <ul class="plain" data-testid="view-connections">
                    {v.connections.map((c) => (
                      <li key={c.repositoryName}>
                        <b>{c.repositoryName}</b>
                        {c.filter ? <code> {c.filter}</code> : <span class="muted"> every event</span>}
                      </li>
                    ))}
                  </ul>
                )}
              </td>
              <td class="actions">
                <a href={`/search?repo=${encodeURIComponent(v.name)}`} onClick={link}>
                  Search
                </a>
                {v.permissions.includes("ChangeViewOrRepositoryDescription") && editing?.name !== v.name && (
                  <button class="link" data-testid="edit-view" onClick={() => setEditing({ name: v.name, rows: v.connections.map((c) => ({ ...c })) })}>
                    Edit
                  </button>
                )}
                {v.permissions.includes("DeleteRepositoryOrView") && (
                  <button class="link danger" data-testid="delete-view" onClick={() => setConfirm({ name: v.name, typed: "" })}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {views?.length === 0 && <p class="muted">No views yet.</p>}
      {confirm && (
        <div class="modal-backdrop">
          <div class="card modal" role="dialog" data-testid="confirm-delete">
            <h3>Delete view {confirm.name}?</h3>
            <p>Only the view goes: the repositories it reads keep their events.</p>
            <label>
              Type <b>{confirm.name}</b> to confirm
              <input data-testid="confirm-name" value={confirm.typed} onInput={(e) => setConfirm({ ...confirm, typed: (e.target as HTMLInputElement).value })} />
            </label>
            <div class="row">
              <button class="danger" data-testid="confirm-delete-button" disabled={confirm.typed !== confirm.name} onClick={remove}>
                Delete
              </button>
              <button class="secondary" onClick={() => setConfirm(null)}>
                Cancel
              </button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
