// Administration (users, groups, roles, API tokens): tabs at /admin/<tab>. Only for viewers
// who may manage users; others see a refusal (and the server refuses every call anyway).
import { canManageUsers, type Viewer } from "../api";
import { ADMIN_TABS, link } from "../router";
import { UsersTab } from "./admin/Users";
import { GroupsTab } from "./admin/Groups";
import { RolesTab } from "./admin/Roles";
import { TokensTab } from "./admin/Tokens";

export default function AdminPage({ path, viewer }: { path: string; viewer: Viewer }) {
  const tab = path.split("/")[2] || "users";
  // Personal tokens are every user's own; the rest is for user managers.
  if (!canManageUsers(viewer) && tab !== "tokens")
    return (
      <div class="page">
        <h2>Administration</h2>
        <div class="error" role="alert" data-testid="admin-denied">
          You do not have permission to manage users, groups or roles.
        </div>
      </div>
    );
  return (
    <div class="page">
      <h2>Administration</h2>
      <nav class="view-tabs" aria-label="Administration">
        {ADMIN_TABS.filter((t) => canManageUsers(viewer) || t.id === "tokens").map((t) => (
          <a key={t.id} href={`/admin/${t.id}`} onClick={link} class={tab === t.id ? "active" : ""} aria-current={tab === t.id ? "page" : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      {tab === "users" && <UsersTab viewer={viewer} />}
      {tab === "groups" && <GroupsTab />}
      {tab === "roles" && <RolesTab />}
      {tab === "tokens" && <TokensTab viewer={viewer} />}
    </div>
  );
}
