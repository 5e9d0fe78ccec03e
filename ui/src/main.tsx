// The Strata web UI: sign-in gate, navigation and routes. The dashboards and admin pages are
// loaded on demand so the search page never downloads them. Navigation shows only what the
// viewer may use (the server refuses the rest anyway).
import { render } from "preact";
import { lazy, Suspense } from "preact/compat";
import { useEffect, useState } from "preact/hooks";
import { canManageUsers, canViewCluster, getToken, gql, logout, onUnauthorized, setToken, VIEWER_QUERY, type Viewer } from "./api";
import { isAdminPath, link, navigate, useLocation } from "./router";
import { SearchPage } from "./pages/Search";
import { SignIn } from "./pages/SignIn";
import "./styles.css";

const RepositoriesPage = lazy(() => import("./pages/Repositories"));
const RepositoryPage = lazy(() => import("./pages/Repository"));
const DashboardsPage = lazy(() => import("./pages/Dashboards"));
const ClusterPage = lazy(() => import("./pages/Cluster"));
const AdminPage = lazy(() => import("./pages/Admin"));
const AlertsPage = lazy(() => import("./pages/Alerts"));
const ViewsPage = lazy(() => import("./pages/Views"));

function Nav({ viewer, path, onSignOut }: { viewer: Viewer; path: string; onSignOut: () => void }) {
  const item = (href: string, label: string) => (
    <a href={href} onClick={link} class={path.startsWith(href) ? "active" : ""}>
      {label}
    </a>
  );
  return (
    <nav class="topnav">
      <span class="brand">Strata</span>
      {item("/search", "Search")}
      {item("/repositories", "Repositories")}
      {item("/views", "Views")}
      {item("/dashboards", "Dashboards")}
      {item("/alerts", "Alerts")}
      {canViewCluster(viewer) && item("/cluster", "Cluster")}
      {canManageUsers(viewer) ? item("/admin", "Administration") : item("/admin/tokens", "API tokens")}
      <span class="spacer" />
      <span class="user" data-testid="user">
        {viewer.username}
      </span>
      <button class="link" onClick={onSignOut}>
        Sign out
      </button>
    </nav>
  );
}

function App() {
  const { path, search } = useLocation();
  const [viewer, setViewer] = useState<Viewer | null>(null);
  const [checking, setChecking] = useState(!!getToken());
  const [signInError, setSignInError] = useState<string | null>(null);

  useEffect(() => {
    const off = onUnauthorized((msg) => {
      setToken(null);
      setViewer(null);
      setSignInError(`Your token was rejected: ${msg}`);
    });
    if (getToken()) {
      gql<{ viewer: Viewer }>(VIEWER_QUERY)
        .then((d) => setViewer(d.viewer))
        .catch(() => setToken(null))
        .finally(() => setChecking(false));
    }
    return off;
  }, []);

  useEffect(() => {
    if (path === "/" || path === "") navigate("/search" + search, true);
  }, [path]);

  if (checking) return <div class="loading">Loading…</div>;
  if (!viewer)
    return (
      <SignIn
        initialError={signInError}
        onSignedIn={(token, v) => {
          setToken(token);
          setSignInError(null);
          setViewer(v);
        }}
      />
    );

  let page;
  const m = /^\/repositories\/([^/]+)$/.exec(path);
  if (path.startsWith("/search")) page = <SearchPage search={search} user={viewer.username} isRoot={viewer.isRoot} />;
  else if (m) page = <RepositoryPage name={decodeURIComponent(m[1])} />;
  else if (path.startsWith("/repositories")) page = <RepositoriesPage viewer={viewer} />;
  else if (path.startsWith("/views")) page = <ViewsPage viewer={viewer} />;
  else if (path.startsWith("/dashboards")) page = <DashboardsPage path={path} search={search} />;
  else if (path.startsWith("/cluster")) page = <ClusterPage />;
  else if (path === "/alerts" || path.startsWith("/alerts/")) page = <AlertsPage path={path} search={search} />;
  else if (isAdminPath(path)) page = <AdminPage path={path} viewer={viewer} />;
  else page = <div class="page">Not found: {path}</div>;

  return (
    <>
      <Nav
        viewer={viewer}
        path={path}
        onSignOut={() => {
          void logout().finally(() => {
            setToken(null);
            setViewer(null);
          });
        }}
      />
      <main>
        <Suspense fallback={<div class="loading">Loading…</div>}>{page}</Suspense>
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
