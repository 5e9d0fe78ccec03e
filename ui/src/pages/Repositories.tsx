// Repositories: list with sizes, create, delete (the name must be typed to confirm). Create and
// delete show only to viewers who may do them (the server refuses them anyway).
import { useEffect, useState } from "preact/hooks";
import { gql, type Viewer } from "../api";
import { formatBytes, formatCount } from "../lib/format";
import { link } from "../router";

interface Repo {
  name: string;
  description: string;
  eventCount: number;
  compressedByteSize: number;
  uncompressedByteSize: number;
  /** The viewer's permissions on it. */
  permissions: string[];
}

export default function RepositoriesPage({ viewer }: { viewer: Viewer }) {
  const canCreate = viewer.isRoot || viewer.organizationPermissions.includes("CreateRepository");
  const [repos, setRepos] = useState<Repo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [confirm, setConfirm] = useState<{ name: string; typed: string } | null>(null);

  const load = () =>
    gql<{ repositories: Repo[] }>("{ repositories { name description eventCount compressedByteSize uncompressedByteSize permissions } }")
      .then((d) => setRepos(d.repositories))
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);

  const create = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await gql("mutation($n:String!,$d:String){ createRepository(name:$n, description:$d) { repository { name } } }", { n: name.trim(), d: description });
      setName("");
      setDescription("");
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const remove = async () => {
    if (!confirm) return;
    try {
      await gql("mutation($n:String!){ deleteSearchDomain(name:$n) }", { n: confirm.name });
      setConfirm(null);
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <div class="page">
      <h2>Repositories</h2>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {canCreate && (
      <form class="card inline-form" onSubmit={create}>
        <input placeholder="New repository name" aria-label="New repository name" data-testid="new-repo-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <input placeholder="Description (optional)" aria-label="Description (optional)" value={description} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
        <button type="submit" data-testid="create-repo" disabled={!name.trim()}>
          Create repository
        </button>
      </form>
      )}
      <table class="list" data-testid="repo-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Description</th>
            <th class="num">Events</th>
            <th class="num">Ingested</th>
            <th class="num">Stored</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {repos?.map((r) => (
            <tr key={r.name} data-repo={r.name}>
              <td>
                <a href={`/repositories/${encodeURIComponent(r.name)}`} onClick={link}>
                  {r.name}
                </a>
              </td>
              <td class="muted">{r.description}</td>
              <td class="num">{formatCount(r.eventCount)}</td>
              <td class="num">{formatBytes(r.uncompressedByteSize)}</td>
              <td class="num">{formatBytes(r.compressedByteSize)}</td>
              <td class="actions">
                <a href={`/search?repo=${encodeURIComponent(r.name)}`} onClick={link}>
                  Search
                </a>
                {r.permissions.includes("DeleteRepositoryOrView") && (
                  <button class="link danger" data-testid="delete-repo" onClick={() => setConfirm({ name: r.name, typed: "" })}>
                    Delete
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {repos?.length === 0 && <p class="muted">No repositories yet.</p>}
      {confirm && (
        <div class="modal-backdrop">
          <div class="card modal" role="dialog" data-testid="confirm-delete">
            <h3>Delete repository {confirm.name}?</h3>
            <p>Its events, ingest tokens, parsers, saved searches and dashboards are deleted. This cannot be undone.</p>
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
