// Saved searches of the repository (Global items, through GraphQL): pick one to run it, or
// save the current search under a name.
import { useEffect, useState } from "preact/hooks";
import { gql } from "../api";

export interface SavedQuery {
  id: string;
  name: string;
  queryString: string;
  start: string;
  end: string;
}

export function SavedSearches({ repo, query, start, end, onPick }: { repo: string; query: string; start: string; end: string; onPick: (q: SavedQuery) => void }) {
  const [saved, setSaved] = useState<SavedQuery[]>([]);
  const [saveName, setSaveName] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const load = () => {
    if (!repo) return;
    gql<{ repository: { savedQueries: SavedQuery[] } }>("query($r:String!){ repository(name:$r) { savedQueries { id name queryString start end } } }", { r: repo })
      .then((d) => setSaved(d.repository.savedQueries))
      .catch(() => setSaved([]));
  };
  useEffect(load, [repo]);

  const save = async (e: Event) => {
    e.preventDefault();
    if (!saveName?.trim()) return;
    try {
      await gql("mutation($i:CreateSavedQueryInput!){ createSavedQuery(input:$i) { id } }", {
        i: { name: saveName.trim(), viewName: repo, queryString: query, start, end },
      });
      setNotice(`Saved "${saveName.trim()}"`);
      setSaveName(null);
      load();
    } catch (err) {
      setNotice(`Could not save: ${(err as Error).message}`);
    }
  };

  return (
    <>
      {saved.length > 0 && (
        <label class="inline-label">
          <span class="sr-only">Saved searches</span>
          <select
            data-testid="saved"
            value=""
            onChange={(e) => {
              const q = saved.find((s) => s.id === (e.target as HTMLSelectElement).value);
              if (q) onPick(q);
            }}
          >
            <option value="">Saved searches…</option>
            {saved.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
      )}
      {saveName === null ? (
        <button type="button" class="secondary" data-testid="save-search" onClick={() => setSaveName("")}>
          Save search
        </button>
      ) : (
        <form class="inline" onSubmit={save}>
          <input placeholder="Name" aria-label="Name of the saved search" autoFocus value={saveName} data-testid="save-name" onInput={(e) => setSaveName((e.target as HTMLInputElement).value)} />
          <button type="submit">Save</button>
          <button type="button" class="secondary" aria-label="Do not save" onClick={() => setSaveName(null)}>
            ×
          </button>
        </form>
      )}
      {notice && (
        <button type="button" class="notice" role="status" onClick={() => setNotice(null)}>
          {notice}
        </button>
      )}
    </>
  );
}
