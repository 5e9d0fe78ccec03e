//! The HTTP API (axum): LogScale-compatible ingest and query endpoints, status, metrics and
//! GraphQL. Authentication is checked here, once per request; errors map to status codes in
//! one place ([`ApiError`]).

pub mod graphql;
pub mod ingest;
pub mod internal;
pub mod query;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::ctx::NodeCtx;
use crate::error::ErrorKind;
use crate::search::SearchError;

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

/// Who is calling.
#[derive(Debug, Clone)]
pub enum Caller {
    /// An API token's user (root: every permission).
    User { username: String, is_root: bool },
    /// An ingest token: may ingest into one repository.
    Ingest {
        repo: String,
        name: String,
        parser: Option<String>,
    },
}

/// Extracts a token from `Authorization: Bearer|Splunk <t>` or basic auth (the password).
pub fn token_from_headers(h: &HeaderMap) -> Option<String> {
    let v = h.get("authorization")?.to_str().ok()?.trim();
    let (scheme, rest) = v.split_once(' ')?;
    let rest = rest.trim();
    match scheme.to_ascii_lowercase().as_str() {
        "bearer" | "splunk" => Some(rest.to_string()),
        "basic" => {
            use base64::Engine;
            let dec = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let s = String::from_utf8(dec).ok()?;
            let (_, pass) = s.split_once(':')?;
            Some(pass.to_string())
        }
        _ => None,
    }
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

impl NodeCtx {
    /// True when the token is the root token or one Global holds.
    fn knows_token(&self, token: &str) -> bool {
        let hash = strata_global::hash_token(token);
        self.root_token_hash.as_deref() == Some(hash.as_str())
            || self.global.read(|s| {
                s.user_by_api_token_hash(&hash).is_some() || s.ingest_token_by_hash(&hash).is_some()
            })
    }

    /// Resolves the caller of a request; 401 when the token is missing or unknown.
    pub fn authenticate(&self, h: &HeaderMap) -> Result<Caller, ApiError> {
        let token = token_from_headers(h).ok_or_else(|| {
            ApiError::unauthorized("missing token: send Authorization: Bearer <token>")
        })?;
        let hash = strata_global::hash_token(&token);
        if self.root_token_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Caller::User {
                username: "root".into(),
                is_root: true,
            });
        }
        let found = self.global.read(|s| {
            if let Some(u) = s.user_by_api_token_hash(&hash) {
                return Some(Caller::User {
                    username: u.username.clone(),
                    is_root: u.is_root,
                });
            }
            s.ingest_token_by_hash(&hash).map(|t| Caller::Ingest {
                repo: t.repo.clone(),
                name: t.name.clone(),
                parser: t.parser.clone(),
            })
        });
        found.ok_or_else(|| ApiError::unauthorized("the token is not valid"))
    }

    /// An API user allowed to read `repo` (root users may read every repository).
    pub fn authorize_read(&self, h: &HeaderMap, repo: &str) -> Result<(), ApiError> {
        match self.authenticate(h)? {
            Caller::User { is_root: true, .. } => {}
            Caller::User { username, .. } => {
                return Err(ApiError::forbidden(format!(
                    "user {username} may not search {repo:?}"
                )))
            }
            Caller::Ingest { .. } => {
                return Err(ApiError::forbidden("an ingest token cannot run searches"))
            }
        }
        if !self.global.read(|s| s.repositories.contains_key(repo)) {
            return Err(ApiError::not_found(format!(
                "repository {repo:?} does not exist"
            )));
        }
        Ok(())
    }
}

async fn status(State(node): State<Arc<NodeCtx>>) -> impl IntoResponse {
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
}

async fn metrics(State(node): State<Arc<NodeCtx>>) -> impl IntoResponse {
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
    ([("content-type", "text/plain; version=0.0.4")], body)
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
        .merge(ingest::routes())
        .merge(query::routes())
        .route("/graphql", post(graphql::handler).get(graphql::playground))
        .layer(axum::Extension(graphql::schema()))
        .merge(internal::routes())
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .route("/internal/{*rest}", axum::routing::any(api_not_found))
        .merge(ui)
        // Refuses an oversized Content-Length with 413 before reading the body; bodies without
        // one are cut at the same limit while they are read.
        .layer(DefaultBodyLimit::max(limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(limit))
        .layer(axum::middleware::from_fn_with_state(
            node.clone(),
            fresh_tokens,
        ))
        .with_state(node)
}
