// Roles: named sets of LogScale permissions (repository, organization and system).
import { useEffect, useState } from "preact/hooks";
import { gql } from "../../api";

export const VIEW_PERMISSIONS = [
  "ReadAccess",
  "ChangeUserAccess",
  "ChangeTriggers",
  "ChangeActions",
  "ChangeDashboards",
  "ChangeSavedQueries",
  "ChangeParsers",
  "ChangeIngestTokens",
  "ChangeRetention",
  "ChangeViewOrRepositoryDescription",
  "DeleteDataSources",
  "DeleteRepositoryOrView",
];
export const ORGANIZATION_PERMISSIONS = ["CreateRepository", "ManageUsers", "ChangeOrganizationPermissions", "ChangeAllViewOrRepositoryPermissions"];
export const SYSTEM_PERMISSIONS = ["ManageCluster", "ReadHealthCheck"];

export interface Role {
  id: string;
  displayName: string;
  viewPermissions: string[];
  organizationPermissions: string[];
  systemPermissions: string[];
  groupsCount: number;
}

export const ROLE_FIELDS = "id displayName viewPermissions organizationPermissions systemPermissions groupsCount";

function Checks({ legend, all, chosen, onChange }: { legend: string; all: string[]; chosen: Set<string>; onChange: (s: Set<string>) => void }) {
  return (
    <fieldset class="checks">
      <legend>{legend}</legend>
      {all.map((p) => (
        <label key={p} class="check">
          <input
            type="checkbox"
            data-permission={p}
            checked={chosen.has(p)}
            onChange={(e) => {
              const s = new Set(chosen);
              if ((e.target as HTMLInputElement).checked) s.add(p);
              else s.delete(p);
              onChange(s);
            }}
          />{" "}
          {p}
        </label>
      ))}
    </fieldset>
  );
}

export function RolesTab() {
  const [roles, setRoles] = useState<Role[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [view, setView] = useState(new Set<string>());
  const [org, setOrg] = useState(new Set<string>());
  const [sys, setSys] = useState(new Set<string>());
  const load = () =>
    gql<{ roles: Role[] }>(`{ roles { ${ROLE_FIELDS} } }`)
      .then((d) => setRoles(d.roles))
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
    run(async () => {
      await gql(
        "mutation($n:String!,$v:[Permission!]!,$o:[OrganizationPermission!]!,$s:[SystemPermission!]!){ createRole(input:{displayName:$n, viewPermissions:$v, organizationPermissions:$o, systemPermissions:$s}) { role { id } } }",
        { n: name.trim(), v: [...view], o: [...org], s: [...sys] },
      );
      setName("");
      setView(new Set());
      setOrg(new Set());
      setSys(new Set());
    });
  };
  return (
    <section>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <form class="card" onSubmit={create}>
        <input placeholder="Role name" aria-label="New role's name" data-testid="new-role-name" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
        <Checks legend="Repository permissions" all={VIEW_PERMISSIONS} chosen={view} onChange={setView} />
        <Checks legend="Organization permissions" all={ORGANIZATION_PERMISSIONS} chosen={org} onChange={setOrg} />
        <Checks legend="System permissions" all={SYSTEM_PERMISSIONS} chosen={sys} onChange={setSys} />
        <button type="submit" data-testid="create-role" disabled={!name.trim()}>
          Create role
        </button>
      </form>
      <table class="list" data-testid="role-list">
        <thead>
          <tr>
            <th>Role</th>
            <th>Permissions</th>
            <th class="num">Groups</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {roles?.map((r) => (
            <tr key={r.id} data-role={r.displayName}>
              <td>{r.displayName}</td>
              <td class="muted">{[...r.viewPermissions, ...r.organizationPermissions, ...r.systemPermissions].join(", ")}</td>
              <td class="num">{r.groupsCount}</td>
              <td class="actions">
                <button class="link danger" onClick={() => run(() => gql("mutation($r:String!){ removeRole(roleId:$r) { result } }", { r: r.id }))}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
