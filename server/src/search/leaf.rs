//! The answering side of the node-to-node seam: what a node does with another node's
//! sub-search, row fetch or segment request. The internal HTTP handlers (`api/internal.rs`)
//! and the in-process [`Peers`](super::peers::Peers) both call these, so tests without
//! processes run the same code as a cluster.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::keys::{self, FetchRows, KeyedRows};
use super::live::{LiveRows, LiveSub};
use super::peers::{SubQuery, SubResult};
use super::{Progress, Scope, SearchError, SearchRange, Searcher};
use crate::query::{self, Row};

/// Runs this node's share of another node's query. The plan is compiled with the options
/// the root sent, so every node cuts lists and spans buckets the same way.
pub async fn sub_search(searcher: &Arc<Searcher>, q: SubQuery) -> Result<SubResult, SearchError> {
    let parsed = query::parse_with(&q.query_string, &q.arguments)
        .map_err(|e| SearchError::Query(e.to_string()))?;
    let domains: Vec<&str> = q
        .view
        .iter()
        .map(String::as_str)
        .chain([q.repo.as_str()])
        .collect();
    let files = crate::lookup::files_in(searcher.global(), &domains);
    let mut plan = query::compile_with(&parsed, q.plan_options(), files)
        .map_err(|e| SearchError::Query(e.to_string()))?;
    if let Some(spec) = &q.live {
        spec.slice(&mut plan);
    }
    let plan = Arc::new(plan);
    // A live query's own sub here registers at the instant this search snapshots WIP, so each
    // event this node digests reaches the query once: in this answer or in the sub.
    let register: Box<dyn FnOnce() + Send> = match (q.live.clone(), q.live_stream.clone()) {
        // A live stream's slice: this node's own stream of it covers the slice at the same
        // instant (see `live.rs`).
        (None, Some(spec)) => {
            let (s, repo, plan, from) = (searcher.clone(), q.repo.clone(), plan.clone(), q.start);
            Box::new(move || s.live().cover_held_stream(&spec, &repo, &plan, from))
        }
        (Some(spec), _) => {
            let sub = Arc::new(LiveSub::new(&spec, &q.repo, plan.clone()));
            let s = searcher.clone();
            Box::new(move || {
                s.live().register(&sub);
                s.live().hold(&spec.id, sub);
            })
        }
        (None, None) => Box::new(|| {}),
    };
    crate::metrics::CLUSTER_SUBSEARCHES.inc();
    let progress = Arc::new(Progress::default());
    if q.keys_only {
        if let Some((newest, limit)) = keys::keyed_list(&plan) {
            progress.collect_keys(keys::Candidates::new(newest, limit));
        }
    }
    let range = SearchRange {
        start: q.start,
        end: q.end,
    };
    let scope = Scope {
        segments: q.segments,
        planned: q.planned.into_iter().collect(),
        wip: q.wip,
    };
    let state = searcher
        .search_scoped(&q.repo, plan, range, progress.clone(), scope, register)
        .await?;
    Ok(SubResult {
        state,
        processed_events: progress.processed_events.load(Ordering::Relaxed),
        processed_bytes: progress.processed_bytes.load(Ordering::Relaxed),
        keys: KeyedRows::from_candidates(progress.take_keys()),
    })
}

/// Materialises events of this node's segments for a query-then-fetch.
pub async fn fetch_rows(searcher: &Arc<Searcher>, req: FetchRows) -> Result<Vec<Row>, SearchError> {
    let s = searcher.clone();
    let rows = tokio::task::spawn_blocking(move || s.materialize(&req))
        .await
        .map_err(|e| SearchError::Internal(format!("row fetch worker failed: {e}")))??;
    crate::metrics::CLUSTER_ROWS_FETCHED.inc_by(rows.len() as u64);
    Ok(rows)
}

/// The state of the live sub this node holds for another node's job `id`.
pub fn live_state(searcher: &Searcher, id: &str) -> Result<crate::query::State, SearchError> {
    searcher
        .live()
        .held_state(id)
        .ok_or_else(|| SearchError::NotFound(format!("no live query {id:?} on this node")))
}

/// The rows this node's digest added to the live stream `id` it holds for another node.
pub fn live_rows(searcher: &Searcher, id: &str) -> Result<LiveRows, SearchError> {
    searcher
        .live()
        .held_stream_rows(id)
        .ok_or_else(|| SearchError::NotFound(format!("no live stream {id:?} on this node")))
}

/// The bytes of a local segment file (for nodes replicating or searching it).
pub async fn segment_bytes(
    searcher: &Arc<Searcher>,
    id: &str,
) -> Result<bytes::Bytes, SearchError> {
    Ok(searcher.store().read_file(id).await?)
}
