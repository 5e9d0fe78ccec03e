// A repository with no events at all: how to send the first one, as a curl line with a real
// ingest token of the repository (created here through GraphQL; tokens are stored hashed, so
// an existing one cannot be shown again).
import { useState } from "preact/hooks";
import { gql } from "../api";

export function EmptyRepo({ repo, isRoot, onCheck }: { repo: string; isRoot: boolean; onCheck: () => void }) {
  const [token, setToken] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = async () => {
    setError(null);
    try {
      const name = `first-events-${Math.random().toString(36).slice(2, 8)}`;
      const d = await gql<{ addIngestTokenV3: { token: string } }>("mutation($i:AddIngestTokenV3Input!){ addIngestTokenV3(input:$i) { token } }", {
        i: { repositoryName: repo, name, parser: "kv" },
      });
      setToken(d.addIngestTokenV3.token);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const curl = token
    ? `curl -X POST ${location.origin}/api/v1/ingest/raw \\\n  -H "Authorization: Bearer ${token}" \\\n  --data-binary 'level=INFO msg="my first event"'`
    : null;
  return (
    <section class="empty-repo card" data-testid="empty-repo" aria-labelledby="empty-repo-title">
      <h2 id="empty-repo-title">{repo} has no events yet</h2>
      <p>Send a first event over the HTTP API with an ingest token of this repository.</p>
      {curl ? (
        <>
          <p class="muted">A new ingest token (parser kv) was created for this; it is shown only now.</p>
          <pre class="curl" data-testid="curl-line" data-token={token}>
            {curl}
          </pre>
        </>
      ) : isRoot ? (
        <button type="button" data-testid="create-first-token" onClick={create}>
          Create an ingest token and show the curl line
        </button>
      ) : (
        <p class="muted">Ask an administrator for an ingest token of {repo} (Repositories → {repo} → Ingest tokens).</p>
      )}
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <p>
        <button type="button" class="secondary" data-testid="check-again" onClick={onCheck}>
          Search again
        </button>
      </p>
    </section>
  );
}
