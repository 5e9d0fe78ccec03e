//! The internal API's raft routes (`/internal/v1/raft/...`): the answering side of the raft
//! queue's RPCs (`queue/raft/network.rs` is the calling side and does the decoding). Like every
//! internal route they require the cluster secret (`X-Strata-Cluster-Secret`, compared as
//! SHA-256 digests in constant time); a node that does not run the raft queue answers 404.
//! Generic over the router's state so the in-process conformance test serves the same routes
//! without a whole node.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{MatchedPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::cluster::rpc::SECRET_HEADER;
use crate::ctx::NodeCtx;
use crate::error::ErrorKind;
use crate::queue::raft::{network, RaftQueue};
use crate::search::peers::PeerError;

/// What the raft routes need from the router's state.
pub trait RaftHost: Clone + Send + Sync + 'static {
    /// This node's raft queue, when it runs one.
    fn raft_queue(&self) -> Option<&RaftQueue>;
    /// The cluster secret; `None` keeps the internal API closed.
    fn cluster_secret(&self) -> Option<&str>;
}

impl RaftHost for Arc<NodeCtx> {
    fn raft_queue(&self) -> Option<&RaftQueue> {
        self.queue.raft()
    }
    fn cluster_secret(&self) -> Option<&str> {
        self.cfg.cluster_secret.as_deref()
    }
}

impl RaftHost for Arc<RaftQueue> {
    fn raft_queue(&self) -> Option<&RaftQueue> {
        Some(self)
    }
    fn cluster_secret(&self) -> Option<&str> {
        Some(self.secret())
    }
}

pub fn routes<S: RaftHost>() -> Router<S> {
    Router::new()
        .route("/internal/v1/raft/append", post(handle::<S>))
        .route("/internal/v1/raft/vote", post(handle::<S>))
        .route("/internal/v1/raft/snapshot", post(handle::<S>))
        .route("/internal/v1/raft/write", post(handle::<S>))
        .route("/internal/v1/raft/status", get(status::<S>))
}

/// This replica's view of the group as JSON: id, leader, term, last applied index, voters.
async fn status<S: RaftHost>(State(host): State<S>, headers: HeaderMap) -> Response {
    let q = match checked(&host, &headers) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let m = q.raft().metrics().borrow().clone();
    let voters: Vec<u64> = m.membership_config.membership().voter_ids().collect();
    axum::Json(serde_json::json!({
        "id": m.id,
        "leader": m.current_leader,
        "term": m.current_term,
        "lastApplied": m.last_applied.map(|l| l.index),
        "lastLogIndex": m.last_log_index,
        "snapshot": m.snapshot.map(|l| l.index),
        "voters": voters,
    }))
    .into_response()
}

/// The raft routes alone, for serving one replica without a node (tests).
pub fn router(q: Arc<RaftQueue>) -> Router {
    routes().with_state(q)
}

fn refuse(status: StatusCode, kind: ErrorKind, message: String) -> Response {
    (status, axum::Json(PeerError { kind, message })).into_response()
}

async fn handle<S: RaftHost>(
    State(host): State<S>,
    path: MatchedPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let q = match checked(&host, &headers) {
        Ok(q) => q,
        Err(r) => return r,
    };
    match network::serve(q, path.as_str(), &body).await {
        Ok(bytes) => (StatusCode::OK, bytes).into_response(),
        Err(e) => refuse(StatusCode::BAD_REQUEST, ErrorKind::BadInput, e),
    }
}

/// The cluster secret first (401), then whether this node runs the raft queue (404).
#[allow(clippy::result_large_err)]
fn checked<'a, S: RaftHost>(host: &'a S, headers: &HeaderMap) -> Result<&'a RaftQueue, Response> {
    let Some(secret) = host.cluster_secret() else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthorized,
            "the internal API is closed: this node has no --cluster-secret".into(),
        ));
    };
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let a = strata_global::hash_token(&String::from_utf8_lossy(given));
    let b = strata_global::hash_token(secret);
    if given.is_empty() || !crate::auth::secret_eq(a.as_bytes(), b.as_bytes()) {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthorized,
            format!("the internal API needs the cluster secret in {SECRET_HEADER}"),
        ));
    }
    host.raft_queue().ok_or_else(|| {
        refuse(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            "this node does not run the raft queue".into(),
        )
    })
}

/// A raft node's HTTP listener, serving the raft routes from before the node is built: the
/// node's start (Global's catch-up, registration) needs a committed write, which needs a
/// leader, which needs every node's raft routes answering. Every other path answers 503 until
/// [`EarlyServer::serve`] hands over the whole router.
pub struct EarlyServer {
    full: Arc<std::sync::OnceLock<Router>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl EarlyServer {
    /// Binds `addr` and starts answering raft RPCs for `q` until `shutdown` resolves.
    pub async fn bind(
        addr: std::net::SocketAddr,
        q: Arc<RaftQueue>,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<EarlyServer> {
        use tower::ServiceExt;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let full: Arc<std::sync::OnceLock<Router>> = Arc::default();
        let handoff = full.clone();
        let app = router(q)
            // Raft batches are bounded by openraft's max_payload_entries, not the ingest limit.
            .layer(axum::extract::DefaultBodyLimit::max(1 << 30))
            .fallback(move |req: axum::extract::Request| {
                let full = handoff.clone();
                async move {
                    match full.get() {
                        Some(r) => match r.clone().oneshot(req).await {
                            Ok(resp) => resp,
                            Err(never) => match never {},
                        },
                        None => refuse(
                            StatusCode::SERVICE_UNAVAILABLE,
                            ErrorKind::Unavailable,
                            "this node is starting: waiting for a raft leader".into(),
                        ),
                    }
                }
            });
        let task = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        });
        Ok(EarlyServer { full, task })
    }

    /// Serves `full` for every other path and waits until the listener stops.
    pub async fn serve(self, full: Router) -> std::io::Result<()> {
        let _ = self.full.set(full);
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}
