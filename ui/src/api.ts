// The server's public APIs as the UI uses them: GraphQL (`/graphql`) for metadata and
// administration, query jobs (`/api/v1/repositories/{repo}/queryjobs`) for searches, sign-in
// (`/api/v1/login`). The token (an API token, or the session token a sign-in returns) lives in
// sessionStorage: kept for the browser tab's session, gone when it closes.

const TOKEN_KEY = "strata.token";

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(t: string | null) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** Listeners told when the server rejects the token (the app shows the sign-in page). */
const unauthorizedListeners = new Set<(msg: string) => void>();
export function onUnauthorized(f: (msg: string) => void): () => void {
  unauthorizedListeners.add(f);
  return () => unauthorizedListeners.delete(f);
}

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
  ) {
    super(message);
  }
}

async function request(path: string, init: RequestInit = {}, token = getToken()): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token) headers.set("authorization", `Bearer ${token}`);
  if (init.body) headers.set("content-type", "application/json");
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) {
    const text = (await res.text()).trim();
    if (res.status === 401) unauthorizedListeners.forEach((f) => f(text));
    throw new ApiError(text || `${res.status} ${res.statusText}`, res.status);
  }
  return res;
}

/** Runs a GraphQL operation; the first error's message becomes the thrown error. */
export async function gql<T = any>(query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  const res = await request("/graphql", { method: "POST", body: JSON.stringify({ query, variables }) }, token ?? getToken());
  const body = await res.json();
  if (body.errors?.length) {
    const msg: string = body.errors[0].message;
    // A refusal carries the HTTP status it stands for (401, 403, 404) in its extensions.
    const status: number = body.errors[0].extensions?.status ?? 200;
    if (status === 401) unauthorizedListeners.forEach((f) => f(msg));
    throw new ApiError(msg, status);
  }
  return body.data as T;
}

/** The signed-in user and what they may do organization-wide (GraphQL `viewer`). */
export interface Viewer {
  username: string;
  isRoot: boolean;
  organizationPermissions: string[];
  systemPermissions: string[];
}

export const VIEWER_QUERY = "{ viewer { username isRoot organizationPermissions systemPermissions } }";

/** True when the viewer may manage users, groups, roles and tokens (the admin pages). */
export function canManageUsers(v: Viewer): boolean {
  return v.isRoot || v.organizationPermissions.includes("ManageUsers");
}

/** True when the viewer may see the cluster page. */
export function canViewCluster(v: Viewer): boolean {
  return v.isRoot || v.systemPermissions.includes("ReadHealthCheck");
}

/** Signs in with a username and password (`POST /api/v1/login`); returns the session token. */
export async function login(username: string, password: string): Promise<string> {
  const res = await fetch("/api/v1/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  if (!res.ok) throw new ApiError((await res.text()).trim() || `${res.status} ${res.statusText}`, res.status);
  return (await res.json()).token as string;
}

/** Ends a sign-in session (`POST /api/v1/logout`); API tokens are left alone. */
export async function logout(): Promise<void> {
  const token = getToken();
  if (!token) return;
  await fetch("/api/v1/logout", { method: "POST", headers: { authorization: `Bearer ${token}` } }).catch(() => {});
}

export interface JobRequest {
  queryString: string;
  start: string;
  end: string;
  isLive?: boolean;
  /** IANA zone the user reads times in (sent as the job's `timeZone`). */
  timeZone?: string;
}

export interface JobResult {
  done: boolean;
  cancelled: boolean;
  events: Record<string, string>[];
  messages: { severity: string; text: string }[];
  metaData: {
    eventCount: number;
    processedEvents: number;
    processedBytes: number;
    isAggregate: boolean;
    pollAfter: number;
    totalWork: number;
    workDone: number;
    fieldOrder: string[];
    warnings: string[];
  };
}

/** The API sends `@timestamp` as a number; the UI holds every value as the string it shows. */
function stringValues(events: Record<string, unknown>[]) {
  for (const e of events) for (const k in e) if (typeof e[k] !== "string") e[k] = e[k] === null ? "" : typeof e[k] === "object" ? JSON.stringify(e[k]) : String(e[k]);
}

const jobTime = (s: string) => (/^\d{10,16}$/.test(s) ? Number(s) : s);

/**
 * A running query job: polls until done (or forever, for a live job), handing every
 * intermediate result to `onResult`. `cancel()` stops polling and deletes the job.
 */
export class QueryJob {
  private id: string | null = null;
  private stopped = false;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private repo: string,
    private req: JobRequest,
    private onResult: (r: JobResult) => void,
    private onError: (e: ApiError) => void,
  ) {}

  async start(): Promise<void> {
    const base = `/api/v1/repositories/${encodeURIComponent(this.repo)}/queryjobs`;
    try {
      const res = await request(base, {
        method: "POST",
        body: JSON.stringify({
          queryString: this.req.queryString,
          start: jobTime(this.req.start),
          end: jobTime(this.req.end),
          isLive: !!this.req.isLive,
          ...(this.req.timeZone ? { timeZone: this.req.timeZone } : {}),
        }),
      });
      this.id = (await res.json()).id;
    } catch (e) {
      if (!this.stopped) this.onError(e as ApiError);
      return;
    }
    if (this.stopped) {
      this.deleteJob();
      return;
    }
    const poll = async () => {
      if (this.stopped) return;
      try {
        const r: JobResult = await (await request(`${base}/${encodeURIComponent(this.id!)}`)).json();
        if (this.stopped) return;
        stringValues(r.events);
        this.onResult(r);
        if (!r.done) this.timer = setTimeout(poll, this.req.isLive ? 1000 : Math.max(100, r.metaData.pollAfter || 250));
      } catch (e) {
        if (!this.stopped) this.onError(e as ApiError);
      }
    };
    await poll();
  }

  private deleteJob() {
    if (!this.id) return;
    const url = `/api/v1/repositories/${encodeURIComponent(this.repo)}/queryjobs/${encodeURIComponent(this.id)}`;
    request(url, { method: "DELETE" }).catch(() => {});
  }

  cancel() {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.deleteJob();
  }
}

/**
 * The streaming query endpoint (`POST /api/v1/repositories/{repo}/query`): the whole result
 * (up to 100,000 events for a list without a limit) in the `Accept` format. The caller reads
 * the body stream; `warnings` is the `X-Strata-Warnings` header (set when incomplete).
 */
export async function streamQuery(
  repo: string,
  req: JobRequest,
  accept: string,
  signal?: AbortSignal,
): Promise<{ body: ReadableStream<Uint8Array>; length: number | null; warnings: string }> {
  const res = await request(`/api/v1/repositories/${encodeURIComponent(repo)}/query`, {
    method: "POST",
    headers: { accept },
    signal,
    body: JSON.stringify({
      queryString: req.queryString,
      start: jobTime(req.start),
      end: jobTime(req.end),
      ...(req.timeZone ? { timeZone: req.timeZone } : {}),
    }),
  });
  const len = res.headers.get("content-length");
  return { body: res.body!, length: len === null ? null : Number(len), warnings: res.headers.get("x-strata-warnings") ?? "" };
}
