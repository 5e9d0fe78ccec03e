// Sign-in with a username and password (a session from `POST /api/v1/login`) or with an API
// token; either way the server checks the token (GraphQL `viewer`) before the UI opens.
import { useState } from "preact/hooks";
import { gql, login, VIEWER_QUERY, type Viewer } from "../api";

export function SignIn({ initialError, onSignedIn }: { initialError: string | null; onSignedIn: (token: string, v: Viewer) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(initialError);
  const [busy, setBusy] = useState(false);
  const withToken = !!token.trim();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const t = withToken ? token.trim() : await login(username.trim(), password);
      const d = await gql<{ viewer: Viewer }>(VIEWER_QUERY, {}, t);
      onSignedIn(t, d.viewer);
    } catch (err) {
      setError(withToken ? `The token was rejected: ${(err as Error).message}` : `Sign-in failed: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const ready = withToken || (!!username.trim() && !!password);
  return (
    <div class="signin">
      <form onSubmit={submit} class="card">
        <h1>Strata</h1>
        <label>
          Username
          <input name="username" autoComplete="username" autoFocus value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        </label>
        <label>
          Password
          <input type="password" name="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        </label>
        <p class="muted">or</p>
        <label>
          API token
          <input type="password" name="token" autoComplete="off" value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        </label>
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" disabled={busy || !ready}>
          Sign in
        </button>
      </form>
    </div>
  );
}
