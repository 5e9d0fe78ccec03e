//! The raft queue: the third `Queue`, replicated between Strata nodes with openraft, so a
//! cluster needs no Kafka. Guarantee: `append` resolves only after the entry carrying the
//! records is committed — durable (`fdatasync`) on a majority of the nodes — and applied here;
//! a follower forwards the append to the leader; with no majority the append fails
//! (`QueueError::Unavailable`, 503 at ingest) after `write_timeout` and is never acked.
//!
//! Group layout: one Raft group carries every partition of every topic (`humio-ingest`,
//! `global-events`, chatter). Why: one log, one fsync stream and one heartbeat per peer instead
//! of one per partition — on a 2-core machine with one disk the fsyncs are what costs, and one
//! group batches all partitions' appends into shared fsyncs. What it gives up: leaders are not
//! spread over nodes (one node leads every partition) and one slow follower slows all writes'
//! commit equally. To change it, measure ingest rate and commit latency against the number of
//! groups (1, 2, 4 with the partitions hashed over them) at 3 nodes; more groups pay only once
//! the leader's CPU, not the disk, is the limit.
//!
//! Parts: `log_store.rs` (the Raft log on local files, vote persisted), `state_machine.rs`
//! (partitions' records, dense offsets, snapshots), `network.rs` (RPCs over the internal HTTP
//! API with the cluster secret; `api/internal_raft.rs` is the answering side). Digest follows
//! Strata's existing primary assignment (Global's `SetPartitionNodes`), reading its node's
//! local replica, which holds exactly the committed prefix.
// openraft's trait methods return its `StorageError` (224 bytes); the helpers return it too.
#![allow(clippy::result_large_err)]

pub mod log_store;
pub mod membership;
pub mod network;
pub mod state_machine;

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{BasicNode, Raft};
use serde::{Deserialize, Serialize};
use strata_global::BoxFuture;

use super::{Queue, QueueError, QueueResult, Records, Truncation};
use state_machine::StateMachine;

openraft::declare_raft_types!(
    /// The raft queue's openraft types.
    pub TypeConfig:
        D = Command,
        R = Reply,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A change to the replicated partitions: what a Raft log entry carries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Command {
    Append {
        topic: String,
        partition: u32,
        records: Vec<Vec<u8>>,
    },
    Truncate {
        topic: String,
        partition: u32,
        below: u64,
    },
}

/// The state machine's answer: the first offset of an append, the new start of a truncation.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reply {
    pub offset: u64,
    pub error: Option<String>,
}

impl Reply {
    fn ok(offset: u64) -> Reply {
        Reply {
            offset,
            error: None,
        }
    }
    fn error(msg: String) -> Reply {
        Reply {
            offset: 0,
            error: Some(msg),
        }
    }
}

/// How to run one replica.
#[derive(Debug, Clone)]
pub struct RaftOptions {
    /// This node's id (a key of `peers`).
    pub id: u64,
    /// Every voter: id → base URL of its HTTP API.
    pub peers: BTreeMap<u64, String>,
    /// The cluster secret the internal API requires.
    pub secret: String,
    /// Topics and their partition counts; every node must use the same.
    pub layout: Vec<(String, u32)>,
    /// How long an append waits for a majority before it fails as unavailable.
    pub write_timeout: Duration,
    pub heartbeat_ms: u64,
    pub election_min_ms: u64,
    pub election_max_ms: u64,
    /// Entries between snapshots.
    pub snapshot_every: u64,
}

impl RaftOptions {
    pub fn new(id: u64, peers: BTreeMap<u64, String>, secret: String) -> RaftOptions {
        RaftOptions {
            id,
            peers,
            secret,
            layout: Vec::new(),
            write_timeout: Duration::from_secs(5),
            heartbeat_ms: 150,
            election_min_ms: 800,
            election_max_ms: 1600,
            snapshot_every: 20_000,
        }
    }
}

/// Parses `--raft-peers`: `1=http://host:port,2=…`.
pub fn parse_peers(s: &str) -> Result<BTreeMap<u64, String>, String> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (id, url) = item
            .split_once('=')
            .ok_or_else(|| format!("raft peer {item:?} is not ID=URL"))?;
        let id: u64 = id
            .trim()
            .parse()
            .map_err(|_| format!("raft peer id {id:?} is not a number"))?;
        let url = url.trim().trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "raft peer {id}'s URL {url:?} must start with http://"
            ));
        }
        if out.insert(id, url.to_string()).is_some() {
            return Err(format!("raft peer id {id} is listed twice"));
        }
    }
    if out.is_empty() {
        return Err("--raft-peers lists no peers".into());
    }
    Ok(out)
}

/// Raft startup failures.
#[derive(Debug, thiserror::Error)]
pub enum RaftQueueError {
    #[error("raft id {0} is not one of --raft-peers")]
    NotAPeer(u64),
    #[error("raft storage: {0}")]
    Storage(String),
    #[error("raft: {0}")]
    Raft(String),
}

/// One replica of the raft queue.
pub struct RaftQueue {
    id: u64,
    raft: Raft<TypeConfig>,
    sm: Arc<state_machine::Shared>,
    partitions: HashMap<String, u32>,
    net: network::Client,
    secret: String,
    write_timeout: Duration,
    /// Started pristine next to peers that hold a log: waits to be replicated to.
    joining: bool,
}

impl RaftQueue {
    /// Opens the replica's files under `dir` and starts its Raft node. A pristine cluster is
    /// initialised with `peers` as voters (every node proposes the same membership at index
    /// 0, so whichever starts first, they agree).
    pub async fn open(dir: &Path, opts: RaftOptions) -> Result<RaftQueue, RaftQueueError> {
        if !opts.peers.contains_key(&opts.id) {
            return Err(RaftQueueError::NotAPeer(opts.id));
        }
        let log = log_store::LogStore::open(&dir.join("log"))
            .map_err(|e| RaftQueueError::Storage(e.to_string()))?;
        let sm = StateMachine::open(dir, &opts.layout)
            .map_err(|e| RaftQueueError::Storage(e.to_string()))?;
        let shared = sm.shared.clone();
        let config = openraft::Config {
            cluster_name: "strata".into(),
            heartbeat_interval: opts.heartbeat_ms,
            election_timeout_min: opts.election_min_ms,
            election_timeout_max: opts.election_max_ms,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(opts.snapshot_every),
            max_in_snapshot_log_to_keep: opts.snapshot_every.min(1_000),
            // An entry is one append (up to an ingest request); fewer per RPC keeps bodies under
            // the internal API's body limit, and a 413 splits a batch further.
            max_payload_entries: 64,
            // Snapshot chunks travel as RPC bodies too.
            snapshot_max_chunk_size: 8 << 20,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| RaftQueueError::Raft(e.to_string()))?,
        );
        let net = network::Client::new(opts.secret.clone());
        let raft = Raft::new(opts.id, config, net.clone(), log, sm)
            .await
            .map_err(|e| RaftQueueError::Raft(e.to_string()))?;
        let members: BTreeMap<u64, BasicNode> = opts
            .peers
            .iter()
            .map(|(id, url)| (*id, BasicNode::new(url)))
            .collect();
        // A pristine replica (a new node, or one whose disk was wiped) whose peers already
        // hold a log joins their cluster: initialising would propose a membership of its own.
        // It waits for the leader to replicate to it (log or snapshot) — as a voter it already
        // is one, a new node once an operator adds it as a learner. When no peer answers
        // (every node starting together) it initialises; all propose the same membership.
        let pristine = !raft
            .is_initialized()
            .await
            .map_err(|e| RaftQueueError::Raft(e.to_string()))?;
        let mut joining = false;
        if pristine {
            for (id, url) in &opts.peers {
                if *id != opts.id && net.peer_has_log(url).await {
                    joining = true;
                    break;
                }
            }
        }
        if joining {
            tracing::info!(
                id = opts.id,
                "raft queue: pristine replica joins its peers' cluster (waits to be replicated to)"
            );
        } else {
            match raft.initialize(members).await {
                Ok(()) => tracing::info!(id = opts.id, "raft queue: initialised a new cluster"),
                Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {
                    tracing::info!(id = opts.id, "raft queue: rejoining its cluster")
                }
                Err(e) => return Err(RaftQueueError::Raft(e.to_string())),
            }
        }
        Ok(RaftQueue {
            id: opts.id,
            raft,
            sm: shared,
            partitions: opts.layout.into_iter().collect(),
            net,
            secret: opts.secret,
            write_timeout: opts.write_timeout,
            joining,
        })
    }

    /// Whether this replica started pristine and joins an existing cluster.
    pub fn joining(&self) -> bool {
        self.joining
    }

    /// Waits until the leader has replicated to this replica (it knows a leader and has
    /// applied some log). A joining node calls it once its raft routes answer: before the
    /// leader adds it (a new node) or replicates to it (a wiped voter) it cannot write.
    pub async fn wait_until_replicated(&self) {
        let mut rx = self.raft.metrics();
        let mut said = Instant::now();
        loop {
            {
                let m = rx.borrow();
                if m.current_leader.is_some() && m.last_applied.is_some() {
                    return;
                }
            }
            if said.elapsed() > Duration::from_secs(10) {
                tracing::info!(
                    id = self.id,
                    "raft queue: still waiting for the leader to add or replicate to this node"
                );
                said = Instant::now();
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), rx.changed()).await;
        }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    /// The cluster secret callers of the raft routes must present.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The current leader's id, if this node knows one.
    pub async fn leader(&self) -> Option<u64> {
        self.raft.current_leader().await
    }

    /// Stops the Raft node (its files stay consistent whenever it stops).
    pub async fn shutdown(&self) {
        if let Err(e) = self.raft.shutdown().await {
            tracing::warn!(error = %e, "raft shutdown");
        }
    }

    fn check(&self, topic: &str, partition: u32) -> QueueResult<()> {
        match self.partitions.get(topic) {
            Some(&n) if partition < n => Ok(()),
            _ => Err(QueueError::UnknownPartition {
                topic: topic.to_string(),
                partition,
            }),
        }
    }

    /// Runs `cmd` on the leader (here, or forwarded) and returns its reply once committed.
    /// A write is retried only when it certainly was not proposed (no leader yet, a stale
    /// leader hint, a refused connection): a retry after a proposal could store it twice.
    pub async fn propose(&self, cmd: Command) -> QueueResult<Reply> {
        let deadline = Instant::now() + self.write_timeout;
        let unavailable = |why: String| {
            QueueError::Unavailable(format!(
                "raft: no leader with a majority within {:?} ({why})",
                self.write_timeout
            ))
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(unavailable("timed out".into()));
            }
            let leader = self.raft.current_leader().await;
            let outcome = match leader {
                None => Retry::After("no leader known".into()),
                Some(l) if l == self.id => {
                    match tokio::time::timeout(left, self.raft.client_write(cmd.clone())).await {
                        Err(_) => return Err(unavailable("commit timed out".into())),
                        Ok(Ok(resp)) => return Ok(resp.data),
                        // Leadership moved while the write was in flight: it may still be
                        // committed by the next leader, so a retry could store it twice.
                        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(f)))) => {
                            return Err(QueueError::Unavailable(format!(
                                "raft: leadership moved to {:?} during the write",
                                f.leader_id
                            )))
                        }
                        Ok(Err(e)) => return Err(QueueError::Unavailable(format!("raft: {e}"))),
                    }
                }
                Some(l) => {
                    let url = self
                        .raft
                        .metrics()
                        .borrow()
                        .membership_config
                        .membership()
                        .get_node(&l)
                        .map(|n| n.addr.clone());
                    match url {
                        None => Retry::After(format!("leader {l} has no address")),
                        Some(url) => match self.net.forward(&url, &cmd, left).await {
                            Ok((r, index)) => {
                                self.await_applied(index, deadline).await;
                                return Ok(r);
                            }
                            Err(network::ForwardError::NotSent(why)) => Retry::After(why),
                            Err(network::ForwardError::Failed(why)) => {
                                return Err(QueueError::Unavailable(format!(
                                    "raft: forwarding to leader {l}: {why}"
                                )))
                            }
                        },
                    }
                }
            };
            let Retry::After(why) = outcome;
            tracing::debug!(%why, "raft write waits for a leader");
            let pause =
                Duration::from_millis(50).min(deadline.saturating_duration_since(Instant::now()));
            if pause.is_zero() {
                return Err(unavailable(why));
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// Waits (until `deadline`) for this replica to have applied log `index`, so a write
    /// forwarded to the leader is readable here when it returns (read-your-writes on every
    /// node, which Global's `publish` relies on). Past the deadline the write is still
    /// committed; reads catch up moments later.
    async fn await_applied(&self, index: u64, deadline: Instant) {
        loop {
            let changed = self.sm.changed.notified();
            if self
                .sm
                .read()
                .last_applied
                .is_some_and(|l| l.index >= index)
            {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                tracing::debug!(index, "raft: a forwarded write is not applied here yet");
                return;
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(100)), changed).await;
        }
    }

    /// The leader's side of a forwarded write: commit here, never forward again. Answers the
    /// reply and the entry's log index.
    pub async fn write_here(&self, cmd: Command) -> Result<(Reply, u64), network::WriteRefused> {
        // Checked before proposing, so `NotLeader` always means "nothing was proposed".
        if self.raft.current_leader().await != Some(self.id) {
            return Err(network::WriteRefused::NotLeader);
        }
        match tokio::time::timeout(self.write_timeout, self.raft.client_write(cmd)).await {
            Err(_) => Err(network::WriteRefused::Failed("commit timed out".into())),
            Ok(Ok(resp)) => Ok((resp.data, resp.log_id.index)),
            Ok(Err(e)) => Err(network::WriteRefused::Failed(e.to_string())),
        }
    }
}

enum Retry {
    After(String),
}

fn reply(r: Reply) -> QueueResult<u64> {
    match r.error {
        None => Ok(r.offset),
        Some(e) => Err(QueueError::Unavailable(e)),
    }
}

impl Queue for RaftQueue {
    fn partitions(&self, topic: &str) -> u32 {
        self.partitions.get(topic).copied().unwrap_or(0)
    }

    fn append(
        &self,
        topic: &str,
        partition: u32,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, QueueResult<u64>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            if records.is_empty() {
                return self.end_offset(&topic, partition).await;
            }
            self.propose(Command::Append {
                topic,
                partition,
                records,
            })
            .await
            .and_then(reply)
        })
    }

    fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> BoxFuture<'_, QueueResult<Records>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            let key = (topic, partition);
            for attempt in 0..2 {
                // Registered before looking, so an apply in between still wakes us.
                let changed = self.sm.changed.notified();
                {
                    let d = self.sm.read();
                    let part = d
                        .parts
                        .get(&key)
                        .ok_or_else(|| QueueError::UnknownPartition {
                            topic: key.0.clone(),
                            partition,
                        })?;
                    if from < part.start {
                        return Err(QueueError::Truncated {
                            topic: key.0.clone(),
                            partition,
                            offset: from,
                            start: part.start,
                        });
                    }
                    if from < part.end() {
                        let skip = (from - part.start) as usize;
                        return Ok(part
                            .records
                            .iter()
                            .skip(skip)
                            .take(max)
                            .enumerate()
                            .map(|(i, r)| (from + i as u64, r.to_vec()))
                            .collect());
                    }
                }
                if attempt == 0 {
                    let _ = tokio::time::timeout(Duration::from_millis(200), changed).await;
                }
            }
            Ok(Vec::new())
        })
    }

    fn end_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            if topic == super::GLOBAL_TOPIC {
                // Global's catch-up reads this end: it must cover writes applied elsewhere.
                self.read_barrier().await;
            }
            let d = self.sm.read();
            Ok(d.parts
                .get(&(topic, partition))
                .map(|p| p.end())
                .unwrap_or(0))
        })
    }

    fn start_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            let d = self.sm.read();
            Ok(d.parts
                .get(&(topic, partition))
                .map(|p| p.start)
                .unwrap_or(0))
        })
    }

    fn truncate(
        &self,
        topic: &str,
        partition: u32,
        below: u64,
    ) -> BoxFuture<'_, QueueResult<Truncation>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            let start = {
                let d = self.sm.read();
                d.parts
                    .get(&(topic.clone(), partition))
                    .map(|p| p.start)
                    .unwrap_or(0)
            };
            if below <= start {
                return Ok(Truncation::Done { start });
            }
            let start = self
                .propose(Command::Truncate {
                    topic,
                    partition,
                    below,
                })
                .await
                .and_then(reply)?;
            Ok(Truncation::Done { start })
        })
    }

    fn raft(&self) -> Option<&RaftQueue> {
        Some(self)
    }
}
