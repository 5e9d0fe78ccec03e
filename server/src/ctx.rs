//! [`NodeCtx`]: the running node's parts, shared by the HTTP API, the internal API and the
//! background loops. It holds no HTTP types: the API layer builds its own (the GraphQL schema,
//! the router) around it.

use std::sync::Arc;

use strata_global::Global;

use crate::cluster::Membership;
use crate::config::Config;
use crate::digest::WipRegistry;
use crate::ingest::Ingester;
use crate::queue::Queue;
use crate::search::jobs::Jobs;
use crate::search::peers::Peers;
use crate::search::root::Root;
use crate::search::Searcher;
use crate::store::SegmentStore;

/// Everything request handlers and background loops need.
pub struct NodeCtx {
    pub cfg: Config,
    pub global: Global,
    pub queue: Arc<dyn Queue>,
    pub ingester: Ingester,
    pub store: Arc<SegmentStore>,
    pub searcher: Arc<Searcher>,
    /// Work in progress (and the live queries digest feeds).
    pub wip: Arc<WipRegistry>,
    pub jobs: Jobs,
    /// Who is alive (heartbeats) — for coordination and for planning searches.
    pub membership: Arc<Membership>,
    /// The other nodes (internal API).
    pub peers: Arc<dyn Peers>,
    pub root_token_hash: Option<String>,
}

impl NodeCtx {
    /// This node as the root of a search.
    pub fn root(&self) -> Root<'_> {
        Root {
            me: self.cfg.node_id,
            searcher: &self.searcher,
            peers: &*self.peers,
            has_bucket: self.cfg.bucket.is_some(),
        }
    }
}
