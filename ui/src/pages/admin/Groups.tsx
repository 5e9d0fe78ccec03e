// Groups: members, and the roles they hold on a repository or organization-wide.
import { useEffect, useState } from "preact/hooks";
import { gql } from "../../api";
import { ROLE_FIELDS, type Role } from "./Roles";

interface Group {
  id: string;
  displayName: string;
  users: { username: string }[];
  roles: { role: { id: string; displayName: string }; viewName: string | null }[];
}

const ORGANIZATION = "";

export function GroupsTab() {
  const [groups, setGroups] = useState<Group[] | null>(null);
  const [roles, setRoles] = useState<Role[]>([]);
  const [users, setUsers] = useState<string[]>([]);
  const [repos, setRepos] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [pick, setPick] = useState<Record<string, { user: string; role: string; repo: string }>>({});
  const load = () =>
    gql<{ groups: Group[]; roles: Role[]; users: { username: string }[]; searchDomains: { name: string }[] }>(
      `{ groups { id displayName users { username } roles { role { id displayName } viewName } } roles { ${ROLE_FIELDS} } users { username } searchDomains { name } }`,
    )
      .then((d) => {
        setGroups(d.groups);
        setRoles(d.roles);
        setUsers(d.users.map((u) => u.username));
        setRepos(d.searchDomains.map((s) => s.name));
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
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const sel = (g: string) => pick[g] ?? { user: users[0] ?? "", role: roles[0]?.id ?? "", repo: repos[0] ?? ORGANIZATION };
  const set = (g: string, k: "user" | "role" | "repo", v: string) => setPick({ ...pick, [g]: { ...sel(g), [k]: v } });
  const assign = (g: Group) => {
    const { role, repo } = sel(g.id);
    return run(() =>
      repo === ORGANIZATION
        ? gql("mutation($g:String!,$r:String!){ assignOrganizationRoleToGroup(input:{groupId:$g, roleId:$r}) { group { id } } }", { g: g.id, r: role })
        : gql("mutation($v:String!,$g:String!,$r:String!){ assignRoleToGroup(input:{viewId:$v, groupId:$g, roleId:$r}) { group { id } } }", { v: repo, g: g.id, r: role }),
    );
  };
  return (
    <section>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <form
        class="card inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          run(async () => {
            await gql("mutation($n:String!){ addGroup(displayName:$n) { group { id } } }", { n: name.trim() });
            setName("");
          });
        }}
      >
        <input placeholder="Group name" aria-label="New group's name" data-testid="new-group-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit" data-testid="add-group" disabled={!name.trim()}>
          Add group
        </button>
      </form>
      {groups?.map((g) => (
        <div class="card" key={g.id} data-group={g.displayName}>
          <h3>{g.displayName}</h3>
          <p>
            Members: {g.users.map((u) => u.username).join(", ") || <span class="muted">none</span>}
          </p>
          <p>
            Roles:{" "}
            {g.roles.map((r) => `${r.role.displayName} on ${r.viewName ?? "the organization"}`).join("; ") || <span class="muted">none</span>}
          </p>
          <div class="inline-form">
            <select aria-label={`User to add to ${g.displayName}`} data-testid="group-user" value={sel(g.id).user} onChange={(e) => set(g.id, "user", (e.target as HTMLSelectElement).value)}>
              {users.map((u) => (
                <option key={u} value={u}>
                  {u}
                </option>
              ))}
            </select>
            <button
              data-testid="group-add-user"
              disabled={!sel(g.id).user}
              onClick={() => run(() => gql("mutation($g:String!,$u:String!){ addUsersToGroup(input:{groupId:$g, users:[$u]}) { group { id } } }", { g: g.id, u: sel(g.id).user }))}
            >
              Add member
            </button>
          </div>
          <div class="inline-form">
            <select aria-label={`Role for ${g.displayName}`} data-testid="group-role" value={sel(g.id).role} onChange={(e) => set(g.id, "role", (e.target as HTMLSelectElement).value)}>
              {roles.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.displayName}
                </option>
              ))}
            </select>
            <select aria-label={`Where ${g.displayName} holds the role`} data-testid="group-repo" value={sel(g.id).repo} onChange={(e) => set(g.id, "repo", (e.target as HTMLSelectElement).value)}>
              {repos.map((r) => (
                <option key={r} value={r}>
                  on {r}
                </option>
              ))}
              <option value={ORGANIZATION}>organization-wide</option>
            </select>
            <button data-testid="group-assign-role" disabled={!sel(g.id).role} onClick={() => assign(g)}>
              Give role
            </button>
            <button class="link danger" onClick={() => run(() => gql("mutation($g:String!){ removeGroup(groupId:$g) { group { id } } }", { g: g.id }))}>
              Remove group
            </button>
          </div>
        </div>
      ))}
    </section>
  );
}
