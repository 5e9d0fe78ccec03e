//! The querying node's side of a search: plan, scatter, merge, re-plan, fetch.
//!
//! [`place`] assigns every segment in range to one node — this node when the file is here,
//! else the live holder with the least work so far, else this node from the bucket. Every
//! live node also searches its own work in progress and the minis its digest closed after the
//! plan was made (so no event is missed between the plan and the sub-search, nor counted
//! twice). Partial aggregate states come back and merge. One node alone runs the same code
//! with nobody to scatter to.
//!
//! Failures: a node that fails mid-query (unreachable, crashed, stopped heartbeating) has its
//! segments re-planned on another holder or the bucket; its work in progress cannot be, and
//! the result says so in a warning. An error that is the query's fault — a limit, a bad query
//! — fails the whole query with that kind, wherever it was raised.
//!
//! Plain event lists use query-then-fetch (`keys.rs`): sub-searches answer with the keys and
//! locations of their best segment events, and this node fetches only the overall winners. A
//! fetch that fails re-plans that node's segments like a failed sub-search.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use strata_global::SegmentInfo;

use super::keys::{self, FetchRows, KeyedRows};
use super::live::{LiveSpec, LiveStreamSpec};
use super::peers::{PeerError, Peers, SubQuery};
use super::{Progress, Scope, SearchError, SearchRange, Searcher};
use crate::query::{self, Plan, PlanOptions, State};

/// Where each segment of a query is searched.
#[derive(Debug, Default, PartialEq)]
pub struct Placement {
    /// Node → the segments it scans (every live node appears, possibly with none).
    pub share: BTreeMap<u32, Vec<SegmentInfo>>,
    /// Segments no live node holds and the bucket does not have.
    pub missing: usize,
}

/// Assigns segments to nodes. `here` says whether this node has a segment's file; `load`
/// carries the bytes already assigned per node (so a re-plan keeps spreading), and nodes in
/// `exclude` (failed during this query) get nothing.
pub fn place(
    segments: impl IntoIterator<Item = SegmentInfo>,
    me: u32,
    live: &[u32],
    exclude: &HashSet<u32>,
    here: impl Fn(&SegmentInfo) -> bool,
    has_bucket: bool,
    load: &mut HashMap<u32, u64>,
) -> Placement {
    let mut p = Placement {
        share: live
            .iter()
            .filter(|n| !exclude.contains(n))
            .map(|n| (*n, Vec::new()))
            .collect(),
        missing: 0,
    };
    for seg in segments {
        let pick = if !exclude.contains(&me) && here(&seg) {
            Some(me)
        } else {
            seg.nodes
                .iter()
                .copied()
                .filter(|n| *n != me && live.contains(n) && !exclude.contains(n))
                .min_by_key(|n| load.get(n).copied().unwrap_or(0))
                .or((has_bucket && seg.bucket_key.is_some()).then_some(me))
        };
        match pick {
            Some(n) => {
                *load.entry(n).or_default() += seg.file_bytes;
                p.share.entry(n).or_default().push(seg);
            }
            None => p.missing += 1,
        }
    }
    p
}

/// A query as the root received it: sub-queries recompile it from the text (plans are
/// deterministic given the text, arguments and options).
#[derive(Debug, Clone)]
pub struct RootQuery {
    pub repo: String,
    pub query_string: String,
    pub arguments: HashMap<String, String>,
    pub options: PlanOptions,
    /// A live query: every node registers its own sub (see `live.rs`).
    pub live: Option<LiveSpec>,
    /// The repository's lookup files (`match()`, `readFile()`).
    pub files: query::lookup::FileSource,
    /// One source of a search on this view: every node reads the view's lookup files first.
    pub view: Option<String>,
}

impl RootQuery {
    /// Parses and compiles the query (sliced per time slice when live).
    pub fn compile(&self) -> Result<Plan, SearchError> {
        let parsed = query::parse_with(&self.query_string, &self.arguments)
            .map_err(|e| SearchError::Query(format!("query parse error: {e}")))?;
        let mut plan = query::compile_with(&parsed, self.options, self.files.0.clone())
            .map_err(|e| SearchError::Query(format!("query parse error: {e}")))?;
        if let Some(spec) = &self.live {
            spec.slice(&mut plan);
        }
        Ok(plan)
    }

    fn range(&self) -> SearchRange {
        SearchRange {
            start: self.options.start,
            end: self.options.end,
        }
    }
}

/// The querying node.
pub struct Root<'a> {
    pub me: u32,
    pub searcher: &'a Arc<Searcher>,
    pub peers: &'a dyn Peers,
    pub has_bucket: bool,
}

/// What a search gathered.
#[derive(Debug)]
pub struct Gathered {
    /// Every node's partial state, merged.
    pub state: State,
    /// What the state lacks (failed nodes, segments without a copy).
    pub warnings: Vec<String>,
    /// The other nodes whose first sub-search succeeded (for a live query: the nodes that
    /// hold a sub of it).
    pub answered: Vec<u32>,
}

impl Root<'_> {
    /// Runs a query over every live node; returns the merged state and warnings. `register`
    /// is called when this node snapshots its work in progress (live queries register there).
    pub async fn search(
        &self,
        plan: Arc<Plan>,
        q: &RootQuery,
        progress: Arc<Progress>,
        register: Box<dyn FnOnce() + Send>,
    ) -> Result<Gathered, SearchError> {
        self.search_slice(plan, q, progress, register, None).await
    }

    /// [`search`](Self::search) of one slice of a live stream: every node that searches its
    /// work in progress covers the slice in its own stream `stream` (see `live.rs`).
    pub async fn search_slice(
        &self,
        plan: Arc<Plan>,
        q: &RootQuery,
        progress: Arc<Progress>,
        register: Box<dyn FnOnce() + Send>,
        stream: Option<&LiveStreamSpec>,
    ) -> Result<Gathered, SearchError> {
        let me = self.me;
        let live = self.peers.live();
        let range = q.range();
        let segments: Vec<SegmentInfo> = self.searcher.global().read(|s| {
            s.segments_in_range(&q.repo, range.start, range.end)
                .cloned()
                .collect()
        });
        let planned: Vec<String> = segments.iter().map(|s| s.id.to_string()).collect();
        let here = |seg: &SegmentInfo| {
            // A file here is one Global lists this node as holding, or a bucket download
            // searched before (its reader is open): checking those spares a `stat` per
            // segment the other nodes hold, on every query.
            (seg.nodes.contains(&me) || self.searcher.has_reader(&seg.id))
                && self.searcher.has_local(&seg.id)
        };
        let mut load = HashMap::new();
        let mut placement = place(
            segments,
            me,
            &live,
            &HashSet::new(),
            here,
            self.has_bucket,
            &mut load,
        );
        let mut warnings = Vec::new();
        if placement.missing > 0 {
            warnings.push(format!(
                "incomplete result: {} segment(s) have no live holder and are not in the bucket",
                placement.missing
            ));
        }
        let keyed = keys::keyed_list(&plan);
        let sub = |segments: Vec<SegmentInfo>, wip: bool| SubQuery {
            repo: q.repo.clone(),
            query_string: q.query_string.clone(),
            arguments: q.arguments.clone(),
            start: range.start,
            end: range.end,
            default_limit: q.options.default_limit,
            zone: q.options.zone,
            segments,
            planned: planned.clone(),
            wip,
            keys_only: keyed.is_some(),
            live: q.live.clone().filter(|_| wip),
            live_stream: stream.cloned().filter(|_| wip),
            view: q.view.clone(),
        };
        let mine = placement.share.remove(&me).unwrap_or_default();
        if !placement.share.is_empty() {
            crate::metrics::CLUSTER_FANOUT_QUERIES.inc();
        }
        let subs: Vec<(u32, SubQuery)> = placement
            .share
            .into_iter()
            .map(|(n, segs)| (n, sub(segs, true)))
            .collect();
        let remotes = futures::future::join_all(
            subs.iter()
                .map(|(n, s)| async move { (*n, self.peers.sub_search(*n, s).await) }),
        );
        let local = self.searcher.search_scoped(
            &q.repo,
            plan.clone(),
            range,
            progress.clone(),
            Scope {
                segments: mine,
                planned: planned.iter().cloned().collect(),
                wip: true,
            },
            register,
        );
        let (local, answers) = tokio::join!(local, remotes);
        let mut st = local?;
        let mut failed: HashSet<u32> = HashSet::new();
        let mut retry: Vec<SegmentInfo> = Vec::new();
        let mut keyed_answers: Vec<(u32, Vec<SegmentInfo>, KeyedRows)> = Vec::new();
        let mut answered = Vec::new();
        for ((n, r), (_, q)) in answers.into_iter().zip(subs) {
            match r {
                Ok(res) => {
                    answered.push(n);
                    progress.add_processed(res.processed_events, res.processed_bytes);
                    plan.agg.merge(&mut st, res.state);
                    if !res.keys.is_empty() {
                        keyed_answers.push((n, q.segments, res.keys));
                    }
                }
                Err(e) if !e.is_node_failure() => return Err(remote_error(n, e)),
                Err(e) => {
                    tracing::warn!(node = n, error = %e, "sub-search failed; re-planning its segments");
                    crate::metrics::CLUSTER_SUBSEARCH_FAILURES.inc();
                    failed.insert(n);
                    retry.extend(q.segments);
                }
            }
        }
        if let Some((newest, limit)) = keyed.filter(|_| !keyed_answers.is_empty()) {
            let fetched = self
                .fetch_winners(&plan, &mut st, newest, limit, keyed_answers, &q.repo)
                .await;
            for (n, segs, e) in fetched {
                if !e.is_node_failure() {
                    return Err(remote_error(n, e));
                }
                tracing::warn!(node = n, error = %e, "fetching rows failed; re-planning its segments");
                crate::metrics::CLUSTER_SUBSEARCH_FAILURES.inc();
                failed.insert(n);
                retry.extend(segs);
            }
        }
        if !failed.is_empty() {
            let mut ids: Vec<u32> = failed.iter().copied().collect();
            ids.sort();
            warnings.push(format!(
                "incomplete result: node(s) {ids:?} failed during the search; events they had not yet written to segments are missing"
            ));
            // Their segments go to another holder or the bucket, searched from here: this node
            // downloads what it lacks.
            let again = place(retry, me, &live, &failed, here, self.has_bucket, &mut load);
            if again.missing > 0 {
                warnings.push(format!(
                    "incomplete result: {} segment(s) of the failed node(s) have no other copy",
                    again.missing
                ));
            }
            for (n, segs) in again.share.into_iter().filter(|(_, s)| !s.is_empty()) {
                let part = if n == me {
                    let scope = Scope {
                        segments: segs,
                        planned: planned.iter().cloned().collect(),
                        wip: false,
                    };
                    let p = Arc::new(Progress::default());
                    self.searcher
                        .search_scoped(&q.repo, plan.clone(), range, p, scope, Box::new(|| {}))
                        .await
                        .map_err(PeerError::from)
                } else {
                    // Rows, not keys: a second fetch round for a re-plan is not worth it.
                    let mut s = sub(segs, false);
                    s.keys_only = false;
                    self.peers.sub_search(n, &s).await.map(|r| r.state)
                };
                match part {
                    Ok(s) => plan.agg.merge(&mut st, s),
                    Err(e) if !e.is_node_failure() => return Err(remote_error(n, e)),
                    Err(e) => warnings.push(format!(
                        "incomplete result: re-planned sub-search on node {n} failed: {e}"
                    )),
                }
            }
        }
        Ok(Gathered {
            state: st,
            warnings,
            answered,
        })
    }

    /// Query-then-fetch's second half: among the rows already in `st` (this node's share and
    /// everyone's work in progress) and the keys other nodes answered with, picks the best
    /// `limit` and fetches the winning events from their nodes (in parallel) into `st`.
    /// Returns the nodes whose fetch failed, with their segments, for re-planning.
    async fn fetch_winners(
        &self,
        plan: &Plan,
        st: &mut State,
        newest: bool,
        limit: usize,
        answers: Vec<(u32, Vec<SegmentInfo>, KeyedRows)>,
        repo: &str,
    ) -> Vec<(u32, Vec<SegmentInfo>, PeerError)> {
        // (key, which answer, which key in it); rows already here are (key, None).
        let mut all: Vec<(query::row::RowKey, Option<(usize, usize)>)> = match &*st {
            State::Rows { rows, .. } => rows.iter().map(|r| (r.key, None)).collect(),
            _ => Vec::new(),
        };
        for (a, (_, _, k)) in answers.iter().enumerate() {
            all.extend(
                k.keys
                    .iter()
                    .enumerate()
                    .map(|(i, (key, ..))| (*key, Some((a, i)))),
            );
        }
        if newest {
            all.sort_unstable_by_key(|x| std::cmp::Reverse(x.0));
        } else {
            all.sort_unstable_by_key(|x| x.0);
        }
        // The overall list is cut when some node cut its own or more keys came than fit; the
        // state's threshold says so (`Plan::finish` reports it).
        let cut = all.len() > limit || answers.iter().any(|(_, _, k)| k.cut);
        all.truncate(limit);
        let last = all.last().map(|x| x.0);
        let mut wanted: Vec<Vec<usize>> = vec![Vec::new(); answers.len()];
        for (a, i) in all.into_iter().filter_map(|(_, w)| w) {
            wanted[a].push(i);
        }
        let requests: Vec<(u32, Vec<SegmentInfo>, FetchRows)> = answers
            .into_iter()
            .zip(wanted)
            .filter(|(_, w)| !w.is_empty())
            .map(|((n, segs, k), w)| {
                let rows = w
                    .iter()
                    .map(|&i| (k.keys[i].1, k.keys[i].2, k.keys[i].3))
                    .collect();
                let req = FetchRows {
                    repo: repo.to_string(),
                    rows,
                    sources: k.sources,
                };
                (n, segs, req)
            })
            .collect();
        let fetched = futures::future::join_all(
            requests
                .iter()
                .map(|(n, _, req)| self.peers.fetch_rows(*n, req)),
        )
        .await;
        let mut failed = Vec::new();
        for ((n, segs, _), r) in requests.into_iter().zip(fetched) {
            match r {
                Ok(rows) => {
                    for row in rows {
                        plan.feed_row(st, row);
                    }
                }
                Err(e) => failed.push((n, segs, e)),
            }
        }
        // Marked only now: a threshold set before the winners arrive would turn the last of
        // them away (a row must beat the threshold to enter).
        if let (true, State::Rows { threshold, .. }) = (cut, &mut *st) {
            if threshold.is_none() {
                *threshold = last;
            }
        }
        failed
    }
}

/// A remote error that is the query's fault: the whole query fails with its kind.
fn remote_error(node: u32, e: PeerError) -> SearchError {
    match e.kind {
        crate::error::ErrorKind::Limit => SearchError::Limit(e.message),
        crate::error::ErrorKind::BadInput => SearchError::Query(e.message),
        kind => SearchError::Remote {
            node,
            kind,
            message: e.message,
        },
    }
}

#[cfg(test)]
mod tests;
