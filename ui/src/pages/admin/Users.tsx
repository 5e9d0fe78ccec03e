// Users: list, add (with a password for local sign-in), make root (root only), remove.
import { useEffect, useState } from "preact/hooks";
import { gql, type Viewer } from "../../api";

interface User {
  username: string;
  fullName: string | null;
  isRoot: boolean;
  hasPassword: boolean;
  groupIds: string[];
}

export function UsersTab({ viewer }: { viewer: Viewer }) {
  const [users, setUsers] = useState<User[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [isRoot, setIsRoot] = useState(false);
  const load = () =>
    gql<{ users: User[] }>("{ users { username fullName isRoot hasPassword groupIds } }")
      .then((d) => setUsers(d.users))
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
  const add = (e: Event) => {
    e.preventDefault();
    run(async () => {
      await gql("mutation($u:String!,$p:String,$r:Boolean){ addUserV2(input:{username:$u, password:$p, isRoot:$r}) { username } }", {
        u: username.trim(),
        p: password || null,
        r: isRoot,
      });
      setUsername("");
      setPassword("");
      setIsRoot(false);
    });
  };
  return (
    <section>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <form class="card inline-form" onSubmit={add}>
        <input placeholder="Username" aria-label="New user's username" data-testid="new-user-name" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        <input type="password" placeholder="Password (8+ characters)" aria-label="New user's password" data-testid="new-user-password" autoComplete="new-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        {viewer.isRoot && (
          <label class="check">
            <input type="checkbox" checked={isRoot} onChange={(e) => setIsRoot((e.target as HTMLInputElement).checked)} /> Root
          </label>
        )}
        <button type="submit" data-testid="add-user" disabled={!username.trim()}>
          Add user
        </button>
      </form>
      <table class="list" data-testid="user-list">
        <thead>
          <tr>
            <th>Username</th>
            <th>Root</th>
            <th>Password sign-in</th>
            <th class="num">Groups</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {users?.map((u) => (
            <tr key={u.username} data-user={u.username}>
              <td>{u.username}</td>
              <td>{u.isRoot ? "yes" : "no"}</td>
              <td>{u.hasPassword ? "yes" : "no"}</td>
              <td class="num">{u.groupIds.length}</td>
              <td class="actions">
                {(!u.isRoot || viewer.isRoot) && (
                  <button class="link danger" onClick={() => run(() => gql("mutation($u:String!){ removeUser(input:{username:$u}) { user { username } } }", { u: u.username }))}>
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
