//! [`HttpPeers`]: the [`Peers`] seam over the internal HTTP API (`api/internal.rs`). Bodies are
//! bincode both ways; every request carries the cluster secret; an error answer is a JSON
//! [`PeerError`] so its kind survives the wire. A call is given up as soon as the called node
//! stops heartbeating: a hung or cut-off node must not hold a query until the HTTP timeout.

use std::future::Future;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;
use strata_global::Global;

use super::Membership;
use crate::query::Row;
use crate::search::keys::FetchRows;
use crate::search::peers::{PeerError, Peers, SubQuery, SubResult};
use std::sync::Arc;

/// The header every internal request carries.
pub const SECRET_HEADER: &str = "x-strata-cluster-secret";

/// Largest answer decoded from another node.
const MAX_ANSWER: usize = 1 << 30;

/// Other nodes over HTTP.
pub struct HttpPeers {
    pub me: u32,
    /// Without a secret the internal API is closed: this node searches alone.
    pub secret: Option<String>,
    pub http: reqwest::Client,
    pub global: Global,
    pub membership: Arc<Membership>,
}

impl HttpPeers {
    pub fn new(
        me: u32,
        secret: Option<String>,
        global: Global,
        membership: Arc<Membership>,
    ) -> reqwest::Result<HttpPeers> {
        Ok(HttpPeers {
            me,
            secret,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()?,
            global,
            membership,
        })
    }

    fn url(&self, node: u32, path: &str) -> Result<String, PeerError> {
        let base = self
            .global
            .read(|s| s.nodes.get(&node).map(|n| n.url.clone()))
            .ok_or_else(|| PeerError::unavailable(format!("node {node} is not registered")))?;
        Ok(format!("{}/internal/v1/{path}", base.trim_end_matches('/')))
    }

    async fn answer(&self, r: reqwest::Response) -> Result<bytes::Bytes, PeerError> {
        let status = r.status();
        let bytes = r
            .bytes()
            .await
            .map_err(|e| PeerError::unavailable(e.to_string()))?;
        if status.is_success() {
            return Ok(bytes);
        }
        // A node of this version answers a JSON PeerError; anything else (a proxy, an older
        // node) counts as the node failing.
        Err(
            serde_json::from_slice::<PeerError>(&bytes).unwrap_or_else(|_| {
                PeerError::unavailable(format!(
                    "{status}: {}",
                    String::from_utf8_lossy(&bytes).trim()
                ))
            }),
        )
    }

    /// POSTs a bincode body and decodes the bincode answer.
    async fn call<Q: Serialize, R: DeserializeOwned>(
        &self,
        node: u32,
        path: &str,
        q: &Q,
    ) -> Result<R, PeerError> {
        let body = bincode::serde::encode_to_vec(q, bincode::config::standard())
            .map_err(|e| PeerError::unavailable(format!("encoding {path}: {e}")))?;
        let r = self
            .http
            .post(self.url(node, path)?)
            .header(SECRET_HEADER, self.secret.clone().unwrap_or_default())
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| PeerError::unavailable(e.to_string()))?;
        let bytes = self.answer(r).await?;
        let cfg = bincode::config::standard().with_limit::<MAX_ANSWER>();
        bincode::serde::decode_from_slice::<R, _>(&bytes, cfg)
            .map(|(r, _)| r)
            .map_err(|e| PeerError::unavailable(format!("undecodable answer to {path}: {e}")))
    }

    /// GETs a bincode answer.
    async fn get_decoded<R: DeserializeOwned>(
        &self,
        node: u32,
        path: &str,
    ) -> Result<R, PeerError> {
        let bytes = self.get(node, path).await?;
        let cfg = bincode::config::standard().with_limit::<MAX_ANSWER>();
        bincode::serde::decode_from_slice::<R, _>(&bytes, cfg)
            .map(|(r, _)| r)
            .map_err(|e| PeerError::unavailable(format!("undecodable answer to {path}: {e}")))
    }

    async fn get(&self, node: u32, path: &str) -> Result<bytes::Bytes, PeerError> {
        let r = self
            .http
            .get(self.url(node, path)?)
            .header(SECRET_HEADER, self.secret.clone().unwrap_or_default())
            .send()
            .await
            .map_err(|e| PeerError::unavailable(e.to_string()))?;
        self.answer(r).await
    }

    /// Runs `f`, given up as soon as node `n` stops heartbeating.
    async fn while_live<T>(
        &self,
        n: u32,
        f: impl Future<Output = Result<T, PeerError>>,
    ) -> Result<T, PeerError> {
        let watch = async {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                if !self.membership.is_live(n) && self.membership.settled() {
                    return;
                }
            }
        };
        tokio::select! {
            r = f => r,
            _ = watch => Err(PeerError::unavailable(format!("node {n} went offline during the call"))),
        }
    }
}

impl Peers for HttpPeers {
    fn live(&self) -> Vec<u32> {
        if self.secret.is_none() {
            return vec![self.me];
        }
        let mut live = self.membership.live_nodes(&self.global);
        live.sort_unstable();
        live
    }

    fn sub_search<'a>(
        &'a self,
        node: u32,
        q: &'a SubQuery,
    ) -> BoxFuture<'a, Result<SubResult, PeerError>> {
        Box::pin(self.while_live(node, self.call(node, "search", q)))
    }

    fn fetch_rows<'a>(
        &'a self,
        node: u32,
        req: &'a FetchRows,
    ) -> BoxFuture<'a, Result<Vec<Row>, PeerError>> {
        Box::pin(self.while_live(node, self.call(node, "rows", req)))
    }

    fn fetch_segment<'a>(
        &'a self,
        node: u32,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bytes::Bytes, PeerError>> {
        Box::pin(async move {
            let path = format!("segments/{id}");
            self.while_live(node, self.get(node, &path)).await
        })
    }

    fn live_state<'a>(
        &'a self,
        node: u32,
        id: &'a str,
    ) -> BoxFuture<'a, Result<crate::query::State, PeerError>> {
        Box::pin(async move {
            let path = format!("live/{id}");
            self.while_live(node, self.get_decoded(node, &path)).await
        })
    }

    fn live_rows<'a>(
        &'a self,
        node: u32,
        id: &'a str,
    ) -> BoxFuture<'a, Result<crate::search::live::LiveRows, PeerError>> {
        Box::pin(async move {
            let path = format!("live-stream/{id}");
            self.while_live(node, self.get_decoded(node, &path)).await
        })
    }

    fn ping(&self, node: u32) -> BoxFuture<'_, Result<(), PeerError>> {
        Box::pin(async move { self.get(node, "ping").await.map(|_| ()) })
    }
}
