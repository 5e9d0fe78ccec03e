//! Search: runs a compiled query [`Plan`] over a repository's segments and the digest's
//! work-in-progress buffers, on one node or fanned out over the cluster.
//!
//! - `root.rs`: the querying node — [`root::place`] assigns segments to nodes, the root scatters
//!   sub-queries through [`peers::Peers`], merges partial states, re-plans a failed node's
//!   share, and fetches the winners of a plain event list (query-then-fetch, `keys.rs`). One
//!   node alone is the same code with no peers.
//! - `leaf.rs`: the answering node's side of the same calls; `peers.rs`: the seam between
//!   nodes, its wire types and an in-process implementation for tests.
//! - `searcher.rs`: one node's search over its share (consistent WIP snapshot, readers,
//!   bucket downloads); `scan.rs`: the scan on all cores; `columns.rs`/`fast.rs`: column-wise
//!   filters and aggregates; `live.rs`: live queries (and live streams) fed by digest;
//!   `jobs.rs`: query jobs; `stream.rs`: the time slices a streamed event list is searched in.
//!
//! Per segment a search prunes by time range and tag filters, then per block by the Bloom
//! filters (free-text and `field=value` terms pushed down), evaluates the leading filter on
//! whole columns, and feeds the first aggregate either straight from the columns or, when the
//! pipeline needs rows, from materialised events.

mod columns;
pub mod domain;
mod fast;
mod fresh;
pub mod jobs;
pub mod keys;
pub mod leaf;
pub mod live;
pub mod peers;
pub mod root;
mod scan;
mod searcher;
pub mod stream;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use strata_global::SegmentInfo;
use strata_segment::{Event, SegmentReader};

use crate::error::ErrorKind;
use crate::query::{Plan, Row, State};

pub use columns::{filter_query_for, tags_may_match, ColumnCache};
pub use scan::{execute, scan};
pub use searcher::Searcher;

/// Why a search failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SearchError {
    /// The query text or its parameters are wrong.
    #[error("{0}")]
    Query(String),
    /// The query needs more than a limit allows; the message names the limit.
    #[error("{0}")]
    Limit(String),
    #[error("segment {id} could not be read: {reason}")]
    Segment { id: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("search was cancelled")]
    Cancelled,
    /// Another node answered with an error that is not a node failure (kept by kind).
    #[error("node {node}: {message}")]
    Remote {
        node: u32,
        kind: ErrorKind,
        message: String,
    },
    #[error("{0}")]
    Internal(String),
}

impl SearchError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            SearchError::Query(_) => ErrorKind::BadInput,
            SearchError::Limit(_) => ErrorKind::Limit,
            SearchError::NotFound(_) => ErrorKind::NotFound,
            SearchError::Cancelled => ErrorKind::Cancelled,
            SearchError::Remote { kind, .. } => *kind,
            SearchError::Segment { .. } | SearchError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<crate::store::StoreError> for SearchError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError as E;
        match e {
            E::BadId(_) | E::NotFound(_) => SearchError::NotFound(e.to_string()),
            E::Io { id, source } => SearchError::Segment {
                id,
                reason: source.to_string(),
            },
            E::Corrupt { id, source } => SearchError::Segment {
                id,
                reason: source.to_string(),
            },
        }
    }
}

/// The result of a finished (or, for partial results, running) search.
#[derive(Debug, Default, Clone)]
pub struct SearchResult {
    pub rows: Vec<Row>,
    pub is_aggregate: bool,
    pub field_order: Vec<String>,
    pub warnings: Vec<String>,
    /// The event list was cut at its limit (LogScale's `extraData.hasMoreEvents`).
    pub more_events: bool,
}

/// Time range of one search.
#[derive(Debug, Clone, Copy)]
pub struct SearchRange {
    pub start: i64,
    pub end: i64,
}

/// Live progress of a search, shared with the query job that polls it.
pub struct Progress {
    pub work_total: AtomicU64,
    pub work_done: AtomicU64,
    pub processed_events: AtomicU64,
    pub processed_bytes: AtomicU64,
    pub cancelled: AtomicBool,
    /// The merged aggregate state so far.
    state: Mutex<Option<State>>,
    /// Set for query-then-fetch (see `keys.rs`): segment events of the plain event list are
    /// collected here as keys, not materialised into `state`.
    keys: Mutex<Option<keys::Candidates>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            work_total: AtomicU64::new(1),
            work_done: AtomicU64::new(0),
            processed_events: AtomicU64::new(0),
            processed_bytes: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            state: Mutex::new(None),
            keys: Mutex::new(None),
        }
    }
}

impl Progress {
    fn merge(&self, plan: &Plan, st: State) {
        if let Ok(mut g) = self.state.lock() {
            match g.as_mut() {
                Some(acc) => plan.agg.merge(acc, st),
                None => *g = Some(st),
            }
        }
    }

    /// The result so far (newest events first, aggregates refined as work completes).
    pub fn partial(&self, plan: &Plan) -> SearchResult {
        let st = self
            .state
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_else(|| plan.agg.new_state());
        finish(plan, st)
    }

    /// Counts work another node did for this search.
    pub fn add_processed(&self, events: u64, bytes: u64) {
        self.processed_events.fetch_add(events, Ordering::Relaxed);
        self.processed_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Makes the search collect its segment events' keys into `c` instead of materialising
    /// them (only for plans [`keys::keyed_list`] accepts).
    pub fn collect_keys(&self, c: keys::Candidates) {
        if let Ok(mut g) = self.keys.lock() {
            *g = Some(c);
        }
    }

    fn keys_template(&self) -> Option<keys::Candidates> {
        self.keys
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(keys::Candidates::empty_like))
    }

    fn merge_keys(&self, c: keys::Candidates) {
        if let Ok(mut g) = self.keys.lock() {
            match g.as_mut() {
                Some(acc) => acc.merge(c),
                None => *g = Some(c),
            }
        }
    }

    /// The collected candidates, best first (empty unless [`collect_keys`](Self::collect_keys)),
    /// and whether any were dropped past the limit.
    pub fn take_keys(&self) -> (Vec<keys::Candidate>, bool) {
        self.keys
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .map(keys::Candidates::into_best)
            .unwrap_or_default()
    }

    /// Forgets a failed run's progress before a retry.
    fn reset(&self) {
        if let Ok(mut g) = self.keys.lock() {
            if let Some(k) = g.as_mut() {
                *k = k.empty_like();
            }
        }
        self.work_done.store(0, Ordering::Relaxed);
        self.processed_events.store(0, Ordering::Relaxed);
        self.processed_bytes.store(0, Ordering::Relaxed);
        if let Ok(mut g) = self.state.lock() {
            *g = None;
        }
    }

    fn take(&self, plan: &Plan) -> State {
        self.state
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .unwrap_or_else(|| plan.agg.new_state())
    }
}

/// Turns a merged state into the final rows, running the rest of the pipeline.
pub fn finish(plan: &Plan, st: State) -> SearchResult {
    let out = plan.finish(st);
    SearchResult {
        is_aggregate: plan.is_aggregate(),
        field_order: out.field_order,
        warnings: out.warnings,
        rows: out.rows,
        more_events: out.more_events,
    }
}

/// The part of a cluster-wide search one node runs (see [`Searcher::search_scoped`]).
pub struct Scope {
    pub segments: Vec<SegmentInfo>,
    /// Every segment id of the cluster-wide plan.
    pub planned: std::collections::HashSet<String>,
    pub wip: bool,
}

/// An open segment and its datasource's tags.
pub type SegmentSource = (Arc<SegmentReader>, Arc<BTreeMap<String, String>>);

/// A datasource's tags and its WIP chunks, copied under the WIP lock.
pub type WipSnapshot = (Arc<BTreeMap<String, String>>, Vec<Arc<Vec<Event>>>);
