//! The HTTP API (axum): LogScale-compatible ingest and query endpoints, status, metrics,
//! sign-in and GraphQL. Authentication and authorisation are decided here
//! ([`NodeCtx::authenticate`], [`NodeCtx::authorize`], on `auth::Access`), searches are
//! audited here (`audit_searches`), and errors map to status codes in one place ([`ApiError`]).

pub mod files;
pub mod graphql;
pub mod ingest;
pub mod internal;
pub mod internal_raft;
pub mod limits;
pub mod query;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::auth::{self, Access, Denied, Permission, Scope, SystemPermission, ViewPermission};
use crate::ctx::NodeCtx;
use crate::error::ErrorKind;
use crate::search::SearchError;
use strata_global::TokenScope;

/// An error answered to a client: status plus a message naming what was wrong.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(m: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, m)
    }
    pub fn unauthorized(m: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, m)
    }
    pub fn forbidden(m: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, m)
    }
    pub fn not_found(m: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, m)
    }
    pub fn unavailable(m: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, m)
    }
}

/// The status code of each kind of error: the one place they are mapped. A limit is the
/// caller's to fix (a narrower query), so 400, never a 5xx a client would retry.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadInput | ErrorKind::Limit => StatusCode::BAD_REQUEST,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::Cancelled => StatusCode::CONFLICT,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        let message = match e.kind() {
            ErrorKind::Limit => format!("query limit exceeded: {e}"),
            ErrorKind::BadInput => e.to_string(),
            _ => format!("query failed: {e}"),
        };
        ApiError::new(status_of(e.kind()), message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, message = %self.message, "request failed");
        }
        (
            self.status,
            [("content-type", "text/plain; charset=utf-8")],
            self.message + "\n",
        )
            .into_response()
    }
}

impl From<crate::queue::QueueError> for ApiError {
    fn from(e: crate::queue::QueueError) -> Self {
        ApiError::unavailable(format!("the ingest queue could not store the events: {e}"))
    }
}

/// What kind of token a user caller presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// The configured root token (`STRATA_ROOT_TOKEN`).
    Root,
    Personal,
    Session,
    /// An organization permissions token.
    Organization,
    /// A repository (view) permissions token.
    Repository,
}

impl TokenKind {
    pub fn name(self) -> &'static str {
        match self {
            TokenKind::Root => "root",
            TokenKind::Personal => "personal",
            TokenKind::Session => "session",
            TokenKind::Organization => "organization",
            TokenKind::Repository => "repository",
        }
    }
    /// The audit log's actor type.
    pub fn actor_type(self) -> &'static str {
        match self {
            TokenKind::Root | TokenKind::Personal | TokenKind::Session => "user",
            TokenKind::Organization | TokenKind::Repository => "token",
        }
    }
}

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// A user's token (personal, session, root) or a permission token (`username` is its
    /// creator); `access` is what it may do.
    User {
        username: String,
        is_root: bool,
        access: Arc<Access>,
        token: TokenKind,
        token_id: Option<String>,
    },
    /// An ingest token: may ingest into one repository.
    Ingest {
        repo: String,
        name: String,
        parser: Option<String>,
    },
}

/// Extracts a token from `Authorization: Bearer|Splunk <t>`, basic auth (the password, as
/// Beats' and Fluent Bit's `http_passwd` send it) or `ApiKey <k>` (Elasticsearch clients'
/// `api_key`: `base64(id:key)` with the token as the key, or the token itself).
pub fn token_from_headers(h: &HeaderMap) -> Option<String> {
    use base64::Engine;
    let v = h.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    let rest = rest.trim();
    let decoded = || {
        let dec = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        String::from_utf8(dec).ok()
    };
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "splunk" => Some(rest.to_string()),
        "basic" => {
            let s = decoded()?;
            let (_, pass) = s.split_once(':')?;
            Some(pass.to_string())
        }
        "apikey" => Some(
            decoded()
                .and_then(|s| s.split_once(':').map(|(_, key)| key.to_string()))
                .unwrap_or_else(|| rest.to_string()),
        ),
        _ => None,
    }
}

/// The client's address for the audit log: the connection's peer when the server was started
/// with connect info, else the first `X-Forwarded-For` hop.
pub fn peer_addr(extensions: &axum::http::Extensions, h: &HeaderMap) -> Option<String> {
    use axum::extract::ConnectInfo;
    if let Some(ConnectInfo(addr)) = extensions.get::<ConnectInfo<std::net::SocketAddr>>() {
        return Some(addr.ip().to_string());
    }
    h.get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|v| v.trim().chars().take(64).collect())
}

/// [`peer_addr`] of a whole request.
pub fn peer_of(req: &axum::extract::Request) -> Option<String> {
    peer_addr(req.extensions(), req.headers())
}

/// How long a request with a token this node does not know waits for Global to catch up.
const TOKEN_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);

/// A token created on another node a moment ago may not have reached this node's Global yet:
/// before any handler refuses an unknown token, this node catches up to the end of
/// `global-events` once (bounded by [`TOKEN_CATCH_UP`]). So a token works on every live node
/// as soon as its mutation returned, and an unknown one costs one end-offset read.
async fn fresh_tokens(
    State(node): State<Arc<NodeCtx>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Some(token) = token_from_headers(req.headers()) {
        if !node.knows_token(&token) {
            let _ = tokio::time::timeout(TOKEN_CATCH_UP, node.global.catch_up()).await;
        }
    }
    next.run(req).await
}

/// The repository a search route's path names (`POST .../{repo}/queryjobs` or `/query`).
fn search_route_repo(method: &axum::http::Method, path: &str) -> Option<String> {
    if method != axum::http::Method::POST {
        return None;
    }
    let rest = path
        .strip_prefix("/api/v1/repositories/")
        .or_else(|| path.strip_prefix("/api/v1/dataspaces/"))?;
    let (repo, tail) = rest.split_once('/')?;
    matches!(tail, "queryjobs" | "query").then(|| repo.to_string())
}

/// Audits every search, whichever handler answers it: one `dataspace.query` event with the
/// caller, the query string and the answer's status, written after the answer is made (off
/// the request's path, so searching does not wait for the audit write).
async fn audit_searches(
    State(node): State<Arc<NodeCtx>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(repo) = search_route_repo(req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let peer = peer_of(&req);
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, node.cfg.max_body_bytes).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("could not read the query request: {e}"),
            )
            .into_response()
        }
    };
    let query = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v.get("queryString")?.as_str().map(str::to_string))
        .unwrap_or_default();
    let caller = node.authenticate(&parts.headers).ok();
    let resp = next
        .run(axum::extract::Request::from_parts(
            parts,
            axum::body::Body::from(bytes),
        ))
        .await;
    let status = resp.status().as_u16();
    let n = node.clone();
    tokio::spawn(async move {
        auth::audit::search(&n, caller.as_ref(), &repo, &query, peer.as_deref(), status).await;
    });
    resp
}

impl NodeCtx {
    /// True when the token is the root token or one Global holds.
    fn knows_token(&self, token: &str) -> bool {
        let hash = strata_global::hash_token(token);
        self.is_root_token_hash(&hash)
            || self.global.read(|s| {
                s.api_token_by_hash(&hash).is_some() || s.ingest_token_by_hash(&hash).is_some()
            })
    }

    fn is_root_token_hash(&self, hash: &str) -> bool {
        self.root_token_hash
            .as_deref()
            .is_some_and(|r| auth::secret_eq(r.as_bytes(), hash.as_bytes()))
    }

    /// Resolves the caller of a request; 401 when the token is missing, unknown or expired.
    pub fn authenticate(&self, h: &HeaderMap) -> Result<Caller, ApiError> {
        let token = token_from_headers(h).ok_or_else(|| {
            ApiError::unauthorized("missing token: send Authorization: Bearer <token>")
        })?;
        self.caller_of_token(&token)
    }

    /// The caller a token stands for.
    pub fn caller_of_token(&self, token: &str) -> Result<Caller, ApiError> {
        let hash = strata_global::hash_token(token);
        if self.is_root_token_hash(&hash) {
            return Ok(Caller::User {
                username: "root".into(),
                is_root: true,
                access: Arc::new(Access::root()),
                token: TokenKind::Root,
                token_id: None,
            });
        }
        let now = crate::text::now_ms();
        self.global.read(|s| {
            if let Some(t) = s.api_token_by_hash(&hash) {
                if t.expires_ms.is_some_and(|e| e <= now) {
                    return Err(ApiError::unauthorized(
                        "the token has expired: sign in again or create a new token",
                    ));
                }
                let access = Access::of_token(s, t)
                    .ok_or_else(|| ApiError::unauthorized("the token's user no longer exists"))?;
                let token = match t.scope {
                    TokenScope::Personal => TokenKind::Personal,
                    TokenScope::Session => TokenKind::Session,
                    TokenScope::Organization { .. } => TokenKind::Organization,
                    TokenScope::Repositories { .. } => TokenKind::Repository,
                };
                return Ok(Caller::User {
                    username: t.username.clone(),
                    is_root: access.root,
                    access: Arc::new(access),
                    token,
                    token_id: Some(t.id.clone()),
                });
            }
            s.ingest_token_by_hash(&hash)
                .map(|t| Caller::Ingest {
                    repo: t.repo.clone(),
                    name: t.name.clone(),
                    parser: t.parser.clone(),
                })
                .ok_or_else(|| ApiError::unauthorized("the token is not valid"))
        })
    }

    /// The one authorisation entry point of HTTP routes: the caller when it holds `p` in
    /// `scope`. 401 without a valid token, 404 for a repository that does not exist or that
    /// the caller holds no permission on (LogScale does not reveal it), 403 when the caller
    /// sees the repository (or is in the organization) but lacks `p`.
    pub fn authorize(
        &self,
        h: &HeaderMap,
        scope: Scope<'_>,
        p: impl Into<Permission>,
    ) -> Result<Caller, ApiError> {
        let caller = self.authenticate(h)?;
        self.check(&caller, scope, p.into())?;
        Ok(caller)
    }

    /// [`authorize`](Self::authorize) for a caller already resolved.
    pub fn check(&self, caller: &Caller, scope: Scope<'_>, p: Permission) -> Result<(), ApiError> {
        let (username, access) = match caller {
            Caller::User {
                username, access, ..
            } => (username, access),
            Caller::Ingest { .. } => {
                return Err(ApiError::forbidden(
                    "an ingest token can only ingest; use an API token",
                ))
            }
        };
        let missing = |r: &str| ApiError::not_found(format!("repository {r:?} does not exist"));
        if let Scope::Repository(r) = scope {
            if !self.global.read(|s| s.search_domain_exists(r)) {
                return Err(missing(r));
            }
        }
        access.check(scope, p).map_err(|d| match (d, scope) {
            (Denied::NotFound, Scope::Repository(r)) => missing(r),
            (_, Scope::Repository(r)) => ApiError::forbidden(format!(
                "{username} lacks the permission {p} on repository {r:?}"
            )),
            (_, Scope::Organization) => {
                ApiError::forbidden(format!("{username} lacks the permission {p}"))
            }
        })
    }

    /// An API user allowed to search `repo` (`ReadAccess`).
    pub fn authorize_read(&self, h: &HeaderMap, repo: &str) -> Result<(), ApiError> {
        let caller = self.authenticate(h)?;
        if let Caller::Ingest { .. } = caller {
            return Err(ApiError::forbidden("an ingest token cannot run searches"));
        }
        self.check(
            &caller,
            Scope::Repository(repo),
            ViewPermission::ReadAccess.into(),
        )
    }
}

/// `/metrics` and the details of `/api/v1/status` need a token with `ReadHealthCheck` unless the
/// node runs with `--open-monitoring-endpoints`. Without one, the status endpoint answers what
/// LogScale's does unauthenticated (status and version), which shippers' health checks (Vector's
/// `humio_logs`, load balancers) call without a token.
fn check_monitoring(node: &NodeCtx, h: &HeaderMap) -> Result<(), ApiError> {
    if node.cfg.open_monitoring_endpoints {
        return Ok(());
    }
    node.authorize(h, Scope::Organization, SystemPermission::ReadHealthCheck)
        .map(|_| ())
}

async fn status(State(node): State<Arc<NodeCtx>>, h: HeaderMap) -> Response {
    if check_monitoring(&node, &h).is_err() {
        return axum::Json(serde_json::json!({
            "status": "ok",
            "version": env!("CARGO_PKG_VERSION"),
        }))
        .into_response();
    }
    let backlog = crate::bucket::sync::backlog(&node.global, node.cfg.node_id);
    axum::Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "nodeId": node.cfg.node_id,
        "bucket": node.cfg.bucket,
        "bucketUploadBacklog": {
            "segments": backlog.len(),
            "bytes": backlog.iter().map(|s| s.file_bytes).sum::<u64>(),
        },
    }))
    .into_response()
}

async fn metrics(State(node): State<Arc<NodeCtx>>, h: HeaderMap) -> Response {
    if let Err(e) = check_monitoring(&node, &h) {
        return e.into_response();
    }
    let (segments, bytes, partitions) = node.global.read(|s| {
        let segs = s.segments.len() as f64;
        let bytes = s.segments.values().map(|x| x.file_bytes).sum::<u64>() as f64;
        (segs, bytes, s.partitions.len() as f64)
    });
    let backlog = if node.cfg.bucket.is_some() {
        crate::bucket::sync::backlog(&node.global, node.cfg.node_id).len() as f64
    } else {
        0.0
    };
    let body = crate::metrics::render(&[
        (
            "strata_bucket_upload_backlog",
            "Segments on this node waiting for upload to the bucket",
            backlog,
        ),
        ("strata_global_segments", "Segments in Global", segments),
        (
            "strata_global_segment_bytes",
            "Bytes of segment files in Global",
            bytes,
        ),
        (
            "strata_global_partitions",
            "Ingest partitions known to Global",
            partitions,
        ),
        (
            "strata_global_offset",
            "Next global-events offset applied here",
            node.global.next_offset() as f64,
        ),
    ]);
    ([("content-type", "text/plain; version=0.0.4")], body).into_response()
}

/// The web UI: the built `ui/dist` at `/`, with every unknown non-API path answered by
/// `index.html` (the UI routes in the browser). Hashed assets are cached for a year.
fn ui(dir: &std::path::Path) -> Router<Arc<NodeCtx>> {
    use tower_http::services::{ServeDir, ServeFile};
    let index = dir.join("index.html");
    if !index.exists() {
        let msg = format!(
            "The web UI is not built ({} is missing): run `bash scripts/run.sh`, or `npm ci && npm run build` in ui/.\n",
            index.display()
        );
        return Router::new().fallback(move || {
            let msg = msg.clone();
            async move { (StatusCode::SERVICE_UNAVAILABLE, msg) }
        });
    }
    let assets = Router::new()
        .nest_service("/assets", ServeDir::new(dir.join("assets")))
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("public, max-age=31536000, immutable"),
        ));
    let pages = ServeDir::new(dir).fallback(ServeFile::new(index));
    assets.fallback_service(tower_http::set_header::SetResponseHeader::overriding(
        pages,
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-cache"),
    ))
}

async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no API endpoint {}", uri.path()))
}

/// Builds the router.
pub fn router(node: Arc<NodeCtx>) -> Router {
    let limit = node.cfg.max_body_bytes;
    let ui = ui(&node.cfg.ui_dir);
    Router::new()
        .route("/api/v1/status", get(status))
        .route("/metrics", get(metrics))
        .merge(
            ingest::routes().route_layer(axum::middleware::from_fn_with_state(
                node.clone(),
                limits::ingest_gate,
            )),
        )
        .merge(query::routes())
        .merge(files::routes())
        .route("/graphql", post(graphql::handler).get(graphql::playground))
        .layer(axum::Extension(graphql::schema()))
        .merge(auth::login::routes())
        .merge(internal::routes())
        .merge(internal_raft::routes())
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/internal/{*rest}", axum::routing::any(api_not_found))
        .merge(ui)
        // Refuses an oversized Content-Length with 413 before reading the body; bodies without
        // one are cut at the same limit while they are read.
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            audit_searches,
        ))
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            ingest::es_root,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            fresh_tokens,
        ))
        .with_state(node)
}
