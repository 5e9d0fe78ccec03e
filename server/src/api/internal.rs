//! The internal API between nodes (`/internal/v1/...`), the HTTP side of the `Peers` seam
//! (`search/peers.rs`; the client is `cluster/rpc.rs`). Every route requires the cluster
//! secret (`X-Strata-Cluster-Secret`, compared as SHA-256 digests so the time taken does not
//! depend on the secret's bytes); a node without a configured secret keeps the API closed.
//! Bodies are bincode; errors are a JSON `PeerError` whose kind the caller keeps.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use super::status_of;
use crate::cluster::rpc::SECRET_HEADER;
use crate::ctx::NodeCtx;
use crate::error::ErrorKind;
use crate::search::peers::PeerError;
use crate::search::{leaf, SearchError};

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/internal/v1/search", post(sub_search))
        .route("/internal/v1/rows", post(fetch_rows))
        .route("/internal/v1/live/{id}", get(live_state))
        .route("/internal/v1/live-stream/{id}", get(live_rows))
        .route("/internal/v1/segments/{id}", get(segment_file))
        .route("/internal/v1/ping", get(ping))
}

/// An internal API error: the status of its kind, the `PeerError` as JSON.
struct InternalError(PeerError);

impl IntoResponse for InternalError {
    fn into_response(self) -> Response {
        let status = status_of(self.0.kind);
        if status.is_server_error() {
            tracing::warn!(%status, message = %self.0.message, "internal request failed");
        }
        (status, axum::Json(self.0)).into_response()
    }
}

impl From<SearchError> for InternalError {
    fn from(e: SearchError) -> Self {
        InternalError(e.into())
    }
}

fn error(kind: ErrorKind, message: impl Into<String>) -> InternalError {
    InternalError(PeerError {
        kind,
        message: message.into(),
    })
}

/// Checks the cluster secret in constant time.
fn check_secret(node: &NodeCtx, headers: &HeaderMap) -> Result<(), InternalError> {
    let Some(secret) = node.cfg.cluster_secret.as_deref() else {
        return Err(error(
            ErrorKind::Unauthorized,
            "the internal API is closed: this node has no --cluster-secret",
        ));
    };
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let a = strata_global::hash_token(&String::from_utf8_lossy(given));
    let b = strata_global::hash_token(secret);
    if given.is_empty() || !crate::auth::secret_eq(a.as_bytes(), b.as_bytes()) {
        return Err(error(
            ErrorKind::Unauthorized,
            format!("the internal API needs the cluster secret in {SECRET_HEADER}"),
        ));
    }
    Ok(())
}

/// Decodes a bincode request body; `what` names it in the error.
fn decode_body<T: serde::de::DeserializeOwned>(
    body: &[u8],
    what: &str,
) -> Result<T, InternalError> {
    bincode::serde::decode_from_slice(body, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| error(ErrorKind::BadInput, format!("invalid {what}: {e}")))
}

/// A 200 answer with an octet-stream body.
fn octets(bytes: impl IntoResponse) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/octet-stream")],
        bytes,
    )
        .into_response()
}

/// A bincode-encoded 200 answer.
fn bincode_response<T: Serialize>(v: &T) -> Result<Response, InternalError> {
    let bytes = bincode::serde::encode_to_vec(v, bincode::config::standard())
        .map_err(|e| error(ErrorKind::Internal, e.to_string()))?;
    Ok(octets(bytes))
}

async fn ping(
    AxState(node): AxState<Arc<NodeCtx>>,
    headers: HeaderMap,
) -> Result<Response, InternalError> {
    check_secret(&node, &headers)?;
    Ok(axum::Json(serde_json::json!({"node": node.cfg.node_id})).into_response())
}

/// Serves a local segment file (for nodes replicating or searching it).
async fn segment_file(
    AxState(node): AxState<Arc<NodeCtx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, InternalError> {
    check_secret(&node, &headers)?;
    Ok(octets(leaf::segment_bytes(&node.searcher, &id).await?))
}

async fn sub_search(
    AxState(node): AxState<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, InternalError> {
    check_secret(&node, &headers)?;
    let q = decode_body(&body, "sub-query")?;
    bincode_response(&leaf::sub_search(&node.searcher, q).await?)
}

/// The window state of the live sub this node holds for another node's job.
async fn live_state(
    AxState(node): AxState<Arc<NodeCtx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, InternalError> {
    check_secret(&node, &headers)?;
    bincode_response(&leaf::live_state(&node.searcher, &id)?)
}

/// The rows of the live stream this node holds for another node's streaming query.
async fn live_rows(
    AxState(node): AxState<Arc<NodeCtx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, InternalError> {
    check_secret(&node, &headers)?;
    bincode_response(&leaf::live_rows(&node.searcher, &id)?)
}

/// Materialises events of this node's segments for a query-then-fetch.
async fn fetch_rows(
    AxState(node): AxState<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, InternalError> {
    check_secret(&node, &headers)?;
    let req = decode_body(&body, "row fetch")?;
    bincode_response(&leaf::fetch_rows(&node.searcher, req).await?)
}
