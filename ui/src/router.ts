// A small history-API router: the current path and query string as Preact state, `navigate`
// to change them, and `link` to make plain anchors route without a page load.
import { useEffect, useState } from "preact/hooks";

type Listener = () => void;
const listeners = new Set<Listener>();

export function navigate(url: string, replace = false) {
  const cur = location.pathname + location.search;
  if (url === cur) return;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  listeners.forEach((f) => f());
}

window.addEventListener("popstate", () => listeners.forEach((f) => f()));

export function useLocation(): { path: string; search: string } {
  const [, setTick] = useState(0);
  useEffect(() => {
    const f = () => setTick((t) => t + 1);
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return { path: location.pathname, search: location.search };
}

/** onClick for anchors: route in-app unless the user asked for a new tab. */
export function link(e: MouseEvent) {
  const a = (e.currentTarget as HTMLAnchorElement) ?? null;
  if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || a.target === "_blank") return;
  e.preventDefault();
  navigate(a.getAttribute("href")!);
}

/** The administration page's tabs (`/admin/<id>`). */
export const ADMIN_TABS = [
  { id: "users", label: "Users" },
  { id: "groups", label: "Groups" },
  { id: "roles", label: "Roles" },
  { id: "tokens", label: "API tokens" },
] as const;

/** True for the administration pages' paths. */
export function isAdminPath(path: string): boolean {
  return path === "/admin" || path.startsWith("/admin/");
}
