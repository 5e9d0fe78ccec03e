// API tokens: the viewer's personal tokens (every user), and for user managers every
// organization and repository permissions token. A new token is shown once.
import { useEffect, useState } from "preact/hooks";
import { canManageUsers, gql, type Viewer } from "../../api";

interface Token {
  id: string;
  name: string;
  type: string;
  username: string;
  expireAt: number | null;
  permissions: string[];
  viewNames: string[];
}

export function TokensTab({ viewer }: { viewer: Viewer }) {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [days, setDays] = useState("");
  const [created, setCreated] = useState<string | null>(null);
  const load = () =>
    gql<{ tokens: Token[] }>("{ tokens { id name type username expireAt permissions viewNames } }")
      .then((d) => setTokens(d.tokens))
      .catch((e) => setError(e.message));
  useEffect(() => {
    load();
  }, []);
  const run = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
      load();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const create = (e: Event) => {
    e.preventDefault();
    const d = Number(days);
    const expireAt = days.trim() && d > 0 ? Date.now() + d * 86_400_000 : null;
    run(async () => {
      const r = await gql<{ createPersonalUserTokenV2: { token: string } }>(
        "mutation($n:String,$e:Int){ createPersonalUserTokenV2(input:{name:$n, expireAt:$e}) { token } }",
        { n: name.trim() || null, e: expireAt },
      );
      setCreated(r.createPersonalUserTokenV2.token);
      setName("");
      setDays("");
    });
  };
  return (
    <section>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {viewer.username !== "root" && (
        <form class="card inline-form" onSubmit={create}>
          <input placeholder="Token name" aria-label="New token's name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <input placeholder="Expires in days (empty: never)" aria-label="Expires in days" inputMode="numeric" value={days} onInput={(e) => setDays((e.target as HTMLInputElement).value)} />
          <button type="submit">Create personal token</button>
        </form>
      )}
      {created && (
        <div class="card" role="status" data-testid="new-token">
          Copy the new token now, it is not shown again: <code>{created}</code>
        </div>
      )}
      <table class="list" data-testid="token-list">
        <thead>
          <tr>
            <th>Name</th>
            <th>Type</th>
            {canManageUsers(viewer) && <th>Owner or creator</th>}
            <th>Permissions</th>
            <th>Expires</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {tokens?.map((t) => (
            <tr key={t.id}>
              <td>{t.name}</td>
              <td>{t.type}</td>
              {canManageUsers(viewer) && <td>{t.username}</td>}
              <td class="muted">{t.type === "personal" ? "the owner's" : `${t.permissions.join(", ")}${t.viewNames.length ? ` on ${t.viewNames.join(", ")}` : ""}`}</td>
              <td>{t.expireAt ? new Date(t.expireAt).toISOString().slice(0, 16).replace("T", " ") : "never"}</td>
              <td class="actions">
                <button class="link danger" onClick={() => run(() => gql("mutation($i:String!){ deleteToken(id:$i) }", { i: t.id }))}>
                  Revoke
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
