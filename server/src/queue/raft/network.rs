//! Raft's RPCs over the internal HTTP API: `RaftNetworkFactory` for openraft (the calling
//! side) and the decoding the answering side (`api/internal_raft.rs`) shares. Chosen over a
//! persistent binary channel because the internal API already has the cluster secret, the
//! router and the HTTP client pool: one keep-alive connection per peer carries the RPCs, and
//! openraft already batches entries per `append_entries`, so a request per RPC costs little
//! next to the fsync each one waits for.
//!
//! Wire: `POST /internal/v1/raft/{append,vote,snapshot,write}` with `X-Strata-Cluster-Secret`,
//! bodies bincode (serde) of openraft's request; a 200 answer is bincode of
//! `Result<response, RaftError>` (the remote node's Raft refused or answered).
// openraft's trait methods return its `StorageError` (224 bytes); the helpers return it too.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{AnyError, BasicNode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Command, Reply, TypeConfig};
use crate::cluster::rpc::SECRET_HEADER;

pub const APPEND_PATH: &str = "/internal/v1/raft/append";
pub const VOTE_PATH: &str = "/internal/v1/raft/vote";
pub const SNAPSHOT_PATH: &str = "/internal/v1/raft/snapshot";
pub const WRITE_PATH: &str = "/internal/v1/raft/write";

pub fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, String> {
    bincode::serde::encode_to_vec(v, bincode::config::standard()).map_err(|e| e.to_string())
}

pub fn decode<T: DeserializeOwned>(b: &[u8]) -> Result<T, String> {
    bincode::serde::decode_from_slice(b, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| format!("undecodable raft message: {e}"))
}

/// Why a forwarded write was refused by the node it was sent to.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
pub enum WriteRefused {
    /// That node is not the leader (any more): nothing was proposed.
    #[error("not the leader")]
    NotLeader,
    #[error("{0}")]
    Failed(String),
}

/// A forwarded write's failure, split by whether it may be retried.
pub enum ForwardError {
    /// Certainly not proposed (connection refused, not the leader): safe to retry.
    NotSent(String),
    /// May or may not have been committed: must not be retried.
    Failed(String),
}

/// The HTTP client every peer connection shares.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    secret: String,
}

impl Client {
    pub fn new(secret: String) -> Client {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Client { http, secret }
    }

    async fn post(
        &self,
        base: &str,
        path: &str,
        body: Vec<u8>,
        ttl: Duration,
    ) -> Result<Vec<u8>, reqwest::Error> {
        let resp = self
            .http
            .post(format!("{base}{path}"))
            .header(SECRET_HEADER, &self.secret)
            .header("content-type", "application/octet-stream")
            .timeout(ttl)
            .body(body)
            .send()
            .await?
            .error_for_status()?;
        Ok(resp.bytes().await?.to_vec())
    }

    /// Sends a write to the leader at `base`; answers its reply and log index.
    pub async fn forward(
        &self,
        base: &str,
        cmd: &Command,
        ttl: Duration,
    ) -> Result<(Reply, u64), ForwardError> {
        let body = encode(cmd).map_err(ForwardError::NotSent)?;
        match self.post(base, WRITE_PATH, body, ttl).await {
            Ok(bytes) => match decode::<Result<(Reply, u64), WriteRefused>>(&bytes) {
                Ok(Ok(r)) => Ok(r),
                Ok(Err(WriteRefused::NotLeader)) => {
                    Err(ForwardError::NotSent(format!("{base} is not the leader")))
                }
                Ok(Err(WriteRefused::Failed(e))) => Err(ForwardError::Failed(e)),
                Err(e) => Err(ForwardError::Failed(e)),
            },
            Err(e) if e.is_connect() => Err(ForwardError::NotSent(e.to_string())),
            Err(e) => Err(ForwardError::Failed(e.to_string())),
        }
    }
}

impl Client {
    /// The peer's `/internal/v1/raft/status` as JSON; `None` when it does not answer in `wait`.
    async fn peer_status(&self, base: &str, wait: Duration) -> Option<serde_json::Value> {
        let r = self
            .http
            .get(format!("{base}/internal/v1/raft/status"))
            .header(SECRET_HEADER, &self.secret)
            .timeout(wait)
            .send()
            .await
            .ok()?;
        if !r.status().is_success() {
            return None;
        }
        r.json().await.ok()
    }

    /// Whether the peer at `base` holds a Raft log already (its status reports a last log
    /// index): a pristine node that sees one joins that cluster instead of initialising one.
    /// `false` when the peer does not answer.
    pub async fn peer_has_log(&self, base: &str) -> bool {
        self.peer_status(base, Duration::from_secs(2))
            .await
            .is_some_and(|v| v["lastLogIndex"].is_u64())
    }

    /// The peer's last applied log index; `None` when it does not answer.
    pub async fn peer_applied(&self, base: &str) -> Option<u64> {
        self.peer_status(base, Duration::from_secs(1)).await?["lastApplied"].as_u64()
    }
}

impl RaftNetworkFactory<TypeConfig> for Client {
    type Network = Conn;

    async fn new_client(&mut self, target: u64, node: &BasicNode) -> Conn {
        Conn {
            client: self.clone(),
            target,
            base: node.addr.trim_end_matches('/').to_string(),
        }
    }
}

/// The connection to one peer.
pub struct Conn {
    client: Client,
    target: u64,
    base: String,
}

type RpcResult<T, E> = Result<T, RPCError<u64, BasicNode, RaftError<u64, E>>>;

impl Conn {
    /// `entries`: how many log entries `req` carries, to ask openraft to split a batch the
    /// callee's body limit refuses (413).
    async fn call<Req, Resp, E>(
        &self,
        path: &str,
        req: &Req,
        ttl: Duration,
        entries: u64,
    ) -> RpcResult<Resp, E>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        E: std::error::Error + DeserializeOwned,
    {
        let body =
            encode(req).map_err(|e| RPCError::Network(NetworkError::new(&AnyError::error(e))))?;
        let bytes = match self.client.post(&self.base, path, body, ttl).await {
            Ok(b) => b,
            Err(e) if e.is_connect() => return Err(RPCError::Unreachable(Unreachable::new(&e))),
            Err(e) if e.status() == Some(reqwest::StatusCode::PAYLOAD_TOO_LARGE) && entries > 1 => {
                let hint = (entries / 2).max(1);
                return Err(RPCError::PayloadTooLarge(
                    PayloadTooLarge::new_entries_hint(hint),
                ));
            }
            Err(e) => return Err(RPCError::Network(NetworkError::new(&e))),
        };
        let answer: Result<Resp, RaftError<u64, E>> = decode(&bytes)
            .map_err(|e| RPCError::Network(NetworkError::new(&AnyError::error(e))))?;
        answer.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Conn {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<AppendEntriesResponse<u64>, openraft::error::Infallible> {
        let n = rpc.entries.len() as u64;
        self.call(APPEND_PATH, &rpc, option.hard_ttl(), n).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> RpcResult<InstallSnapshotResponse<u64>, InstallSnapshotError> {
        self.call(SNAPSHOT_PATH, &rpc, option.hard_ttl(), 0).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<u64>,
        option: RPCOption,
    ) -> RpcResult<VoteResponse<u64>, openraft::error::Infallible> {
        self.call(VOTE_PATH, &rpc, option.hard_ttl(), 0).await
    }
}

/// The answering side: decodes a request for `path`, hands it to this node's Raft, encodes
/// the answer. `Err` is a bad request (undecodable body, unknown path).
pub async fn serve(q: &super::RaftQueue, path: &str, body: &[u8]) -> Result<Vec<u8>, String> {
    let raft = q.raft();
    match path {
        APPEND_PATH => {
            let req: AppendEntriesRequest<TypeConfig> = decode(body)?;
            encode(&raft.append_entries(req).await)
        }
        VOTE_PATH => {
            let req: VoteRequest<u64> = decode(body)?;
            encode(&raft.vote(req).await)
        }
        SNAPSHOT_PATH => {
            let req: InstallSnapshotRequest<TypeConfig> = decode(body)?;
            encode(&raft.install_snapshot(req).await)
        }
        WRITE_PATH => {
            let cmd: Command = decode(body)?;
            encode(&q.write_here(cmd).await)
        }
        other => Err(format!("no raft route {other}")),
    }
}
