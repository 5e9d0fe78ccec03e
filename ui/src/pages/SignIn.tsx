// Sign-in with an API token; the server checks it (GraphQL `viewer`) before the UI opens.
import { useState } from "preact/hooks";
import { gql } from "../api";

export function SignIn({ initialError, onSignedIn }: { initialError: string | null; onSignedIn: (token: string, v: { username: string; isRoot: boolean }) => void }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(initialError);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const d = await gql<{ viewer: { username: string; isRoot: boolean } }>("{ viewer { username isRoot } }", {}, token.trim());
      onSignedIn(token.trim(), d.viewer);
    } catch (err) {
      setError(`The token was rejected: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="signin">
      <form onSubmit={submit} class="card">
        <h1>Strata</h1>
        <label>
          API token
          <input type="password" name="token" autoFocus value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" disabled={busy || !token.trim()}>
          Sign in
        </button>
      </form>
    </div>
  );
}
