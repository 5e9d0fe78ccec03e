//! The seam between nodes: what a querying node (`root.rs`) and the segment mover ask of other
//! nodes, the wire types of those calls, and an in-process implementation.
//!
//! [`Peers`] is small on purpose: a sub-search, a row fetch, a segment file, a ping, and the
//! live node set. The HTTP implementation (`cluster/rpc.rs`) adds the cluster secret, bincode
//! bodies and giving up on a node that stops heartbeating; [`InProcess`] calls other nodes'
//! [`Searcher`]s directly, so re-planning, node failure and remote errors are tested without
//! processes (`root/tests.rs`).
//!
//! Contracts every implementation keeps:
//! - An error keeps its [`ErrorKind`] across the wire: a remote limit or query error is that,
//!   not an unavailable node (the root re-plans every failure but those two).
//! - A sub-search compiles exactly the plan the root compiled: the query text, its arguments
//!   and every plan option travel in [`SubQuery`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use strata_global::SegmentInfo;

use super::keys::{FetchRows, KeyedRows};
use super::live::{LiveRows, LiveSpec, LiveStreamSpec};
use super::{leaf, SearchError, Searcher};
use crate::error::ErrorKind;
use crate::query::{PlanOptions, Row, State};

/// A sub-query sent to one node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubQuery {
    pub repo: String,
    pub query_string: String,
    pub arguments: HashMap<String, String>,
    pub start: i64,
    pub end: i64,
    /// The root's plan option: the event limit of a list without an explicit one. Without it
    /// each node would compile its own default and cut the list differently.
    pub default_limit: usize,
    /// The root's default time zone (the job's `timeZone`): every node buckets and formats
    /// times in the same zone.
    pub zone: crate::query::Zone,
    /// Segments this node scans (full metadata: the receiver's Global may lag or lead).
    pub segments: Vec<SegmentInfo>,
    /// Every segment id of the plan: the receiver adds its own newer minis not among them.
    pub planned: Vec<String>,
    /// Include this node's work in progress and newer minis.
    pub wip: bool,
    /// Answer a plain event list with keys of segment events, not the events (see
    /// `keys.rs`); work in progress still comes back as rows.
    pub keys_only: bool,
    /// A live query: the receiver registers a sub of its own, fed by its digest, held under
    /// the job's id for [`Peers::live_state`].
    pub live: Option<LiveSpec>,
    /// A slice of a live stream: the receiver's own stream of that id takes its digest's
    /// events from this slice's start on (see `live.rs`), for [`Peers::live_rows`].
    pub live_stream: Option<LiveStreamSpec>,
    /// The view this search is one source of: its lookup files come before the repository's.
    pub view: Option<String>,
}

impl SubQuery {
    /// The options the root compiled its plan with.
    pub fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            start: self.start,
            end: self.end,
            default_limit: self.default_limit,
            zone: self.zone,
        }
    }
}

/// A node's answer to a [`SubQuery`].
#[derive(Debug, Serialize, Deserialize)]
pub struct SubResult {
    pub state: State,
    pub processed_events: u64,
    pub processed_bytes: u64,
    /// With `keys_only`: the best segment events, not yet materialised.
    pub keys: KeyedRows,
}

/// Why a call to another node failed, with the kind kept across the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct PeerError {
    pub kind: ErrorKind,
    pub message: String,
}

impl PeerError {
    pub fn unavailable(message: impl Into<String>) -> Self {
        PeerError {
            kind: ErrorKind::Unavailable,
            message: message.into(),
        }
    }

    /// A failure of the node rather than of the query: its share can be re-planned. Only a
    /// bad query and a limit are the query's own fault (they would fail anywhere).
    pub fn is_node_failure(&self) -> bool {
        !matches!(self.kind, ErrorKind::BadInput | ErrorKind::Limit)
    }
}

impl From<SearchError> for PeerError {
    fn from(e: SearchError) -> Self {
        PeerError {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Other nodes, as this node's searches and mover reach them.
pub trait Peers: Send + Sync {
    /// The nodes that count as live, this one included, ascending.
    fn live(&self) -> Vec<u32>;
    /// Runs a share of a query on `node`.
    fn sub_search<'a>(
        &'a self,
        node: u32,
        q: &'a SubQuery,
    ) -> BoxFuture<'a, Result<SubResult, PeerError>>;
    /// Materialises events of `node`'s segments (query-then-fetch), in the order asked.
    fn fetch_rows<'a>(
        &'a self,
        node: u32,
        req: &'a FetchRows,
    ) -> BoxFuture<'a, Result<Vec<Row>, PeerError>>;
    /// The bytes of a segment file `node` holds.
    fn fetch_segment<'a>(
        &'a self,
        node: u32,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bytes::Bytes, PeerError>>;
    /// The window state of the live sub `node` holds for job `id`.
    fn live_state<'a>(&'a self, node: u32, id: &'a str) -> BoxFuture<'a, Result<State, PeerError>>;
    /// The rows `node`'s digest added to the live stream `id` since the last call.
    fn live_rows<'a>(
        &'a self,
        node: u32,
        id: &'a str,
    ) -> BoxFuture<'a, Result<LiveRows, PeerError>> {
        let _ = id;
        Box::pin(async move {
            Err(PeerError::unavailable(format!(
                "node {node} cannot be asked for live stream rows here"
            )))
        })
    }
    /// Answers when `node` serves its internal API.
    fn ping(&self, node: u32) -> BoxFuture<'_, Result<(), PeerError>>;
}

/// A failure [`InProcess`] injects into calls to one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Every call fails as if the node were unreachable.
    Down,
    /// Sub-searches succeed, row fetches fail as if the node died in between.
    FetchFails,
    /// Sub-searches fail with this error (kind and message kept).
    SubSearch(PeerError),
}

/// Nodes in one process: each node id maps to its [`Searcher`]. Used by tests of the root.
#[derive(Default)]
pub struct InProcess {
    nodes: HashMap<u32, Arc<Searcher>>,
    faults: Mutex<HashMap<u32, Fault>>,
    /// Nodes left out of [`Peers::live`] (their calls still go through unless faulted).
    offline: Mutex<HashSet<u32>>,
    /// Sub-queries each node received, for assertions.
    received: Mutex<Vec<(u32, SubQuery)>>,
}

impl InProcess {
    pub fn new(nodes: impl IntoIterator<Item = (u32, Arc<Searcher>)>) -> Self {
        InProcess {
            nodes: nodes.into_iter().collect(),
            ..Default::default()
        }
    }

    pub fn set_fault(&self, node: u32, fault: Option<Fault>) {
        if let Ok(mut f) = self.faults.lock() {
            match fault {
                Some(x) => f.insert(node, x),
                None => f.remove(&node),
            };
        }
    }

    pub fn set_offline(&self, node: u32, offline: bool) {
        if let Ok(mut o) = self.offline.lock() {
            if offline {
                o.insert(node);
            } else {
                o.remove(&node);
            }
        }
    }

    /// The sub-queries sent so far, by node.
    pub fn received(&self) -> Vec<(u32, SubQuery)> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn fault(&self, node: u32) -> Option<Fault> {
        self.faults.lock().ok().and_then(|f| f.get(&node).cloned())
    }

    fn searcher(&self, node: u32) -> Result<&Arc<Searcher>, PeerError> {
        if self.fault(node) == Some(Fault::Down) {
            return Err(PeerError::unavailable(format!("node {node} is down")));
        }
        self.nodes
            .get(&node)
            .ok_or_else(|| PeerError::unavailable(format!("no node {node}")))
    }
}

impl Peers for InProcess {
    fn live(&self) -> Vec<u32> {
        let offline = self.offline.lock().map(|o| o.clone()).unwrap_or_default();
        let live: BTreeSet<u32> = self
            .nodes
            .keys()
            .copied()
            .filter(|n| !offline.contains(n))
            .collect();
        live.into_iter().collect()
    }

    fn sub_search<'a>(
        &'a self,
        node: u32,
        q: &'a SubQuery,
    ) -> BoxFuture<'a, Result<SubResult, PeerError>> {
        Box::pin(async move {
            if let Ok(mut r) = self.received.lock() {
                r.push((node, q.clone()));
            }
            let s = self.searcher(node)?;
            if let Some(Fault::SubSearch(e)) = self.fault(node) {
                return Err(e);
            }
            Ok(leaf::sub_search(s, q.clone()).await?)
        })
    }

    fn fetch_rows<'a>(
        &'a self,
        node: u32,
        req: &'a FetchRows,
    ) -> BoxFuture<'a, Result<Vec<Row>, PeerError>> {
        Box::pin(async move {
            let s = self.searcher(node)?;
            if self.fault(node) == Some(Fault::FetchFails) {
                return Err(PeerError::unavailable(format!(
                    "node {node} died before the row fetch"
                )));
            }
            Ok(leaf::fetch_rows(s, req.clone()).await?)
        })
    }

    fn fetch_segment<'a>(
        &'a self,
        node: u32,
        id: &'a str,
    ) -> BoxFuture<'a, Result<bytes::Bytes, PeerError>> {
        Box::pin(async move {
            let s = self.searcher(node)?;
            Ok(leaf::segment_bytes(s, id).await?)
        })
    }

    fn live_state<'a>(&'a self, node: u32, id: &'a str) -> BoxFuture<'a, Result<State, PeerError>> {
        Box::pin(async move { Ok(leaf::live_state(self.searcher(node)?, id)?) })
    }

    fn live_rows<'a>(
        &'a self,
        node: u32,
        id: &'a str,
    ) -> BoxFuture<'a, Result<LiveRows, PeerError>> {
        Box::pin(async move { Ok(leaf::live_rows(self.searcher(node)?, id)?) })
    }

    fn ping(&self, node: u32) -> BoxFuture<'_, Result<(), PeerError>> {
        Box::pin(async move { self.searcher(node).map(|_| ()) })
    }
}
