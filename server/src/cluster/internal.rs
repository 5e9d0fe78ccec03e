//! The internal API between nodes (`/internal/v1/...`), authenticated by the cluster secret
//! (`X-Strata-Cluster-Secret`; without a configured secret the internal API is closed), and
//! scatter-gather search on top of it.
//!
//! A query's receiving node plans it from Global: every segment in range goes to one node —
//! this node when the file is local, else the live holder with the least work so far, else
//! this node from the bucket. Every live node also searches its own work in progress and the
//! segments its digest closed after the plan was made (so no event is missed between the plan
//! and the sub-search, nor counted twice). Partial aggregate states come back bincode-encoded
//! and merge. When a node fails mid-query its segments are re-planned on another holder or the
//! bucket; its work in progress cannot be, and the result says so in a warning.
//!
//! Plain event lists use query-then-fetch (`search/keys.rs`): sub-searches answer with the
//! keys and locations of their best segment events, and this node fetches only the overall
//! winners (`/internal/v1/rows`). A fetch that fails re-plans that node's segments like a
//! failed sub-search.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};
use strata_global::SegmentInfo;

use crate::api::ApiError;
use crate::node::NodeCtx;
use crate::query::{self, Plan, PlanOptions, State};
use crate::search::keys::{self, FetchRows, KeyedRows};
use crate::search::{Progress, Scope, SearchError, SearchRange};

pub const SECRET_HEADER: &str = "x-strata-cluster-secret";

/// A sub-query sent to one node.
#[derive(Serialize, Deserialize)]
pub struct SubQuery {
    pub repo: String,
    pub query_string: String,
    pub arguments: HashMap<String, String>,
    pub start: i64,
    pub end: i64,
    /// Segments this node scans (full metadata: the receiver's Global may lag or lead).
    pub segments: Vec<SegmentInfo>,
    /// Every segment id of the plan: the receiver adds its own newer minis not among them.
    pub planned: Vec<String>,
    /// Include this node's work in progress and newer minis.
    pub wip: bool,
    /// Answer a plain event list with keys of segment events, not the events (see
    /// `search/keys.rs`); work in progress still comes back as rows.
    pub keys_only: bool,
}

#[derive(Serialize, Deserialize)]
pub struct SubResult {
    pub state: State,
    pub processed_events: u64,
    pub processed_bytes: u64,
    /// With `keys_only`: the best segment events, not yet materialised.
    pub keys: KeyedRows,
}

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/internal/v1/search", post(sub_search))
        .route("/internal/v1/rows", post(fetch_rows))
        .route("/internal/v1/segments/{id}", get(segment_file))
        .route("/internal/v1/ping", get(ping))
}

/// Checks the cluster secret in constant time.
fn check_secret(node: &NodeCtx, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(secret) = node.cfg.cluster_secret.as_deref() else {
        return Err(ApiError::unauthorized(
            "the internal API is closed: this node has no --cluster-secret",
        ));
    };
    let given = headers
        .get(SECRET_HEADER)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let a = strata_global::hash_token(&String::from_utf8_lossy(given));
    let b = strata_global::hash_token(secret);
    // Comparing hashes keeps the comparison's time independent of the secret's bytes.
    if given.is_empty() || a != b {
        return Err(ApiError::unauthorized(format!(
            "the internal API needs the cluster secret in {SECRET_HEADER}"
        )));
    }
    Ok(())
}

async fn ping(
    AxState(node): AxState<Arc<NodeCtx>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_secret(&node, &headers)?;
    Ok(axum::Json(serde_json::json!({"node": node.cfg.node_id})).into_response())
}

/// Serves a local segment file (for nodes replicating or searching it).
async fn segment_file(
    AxState(node): AxState<Arc<NodeCtx>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_secret(&node, &headers)?;
    if id.contains('/') || id.contains("..") {
        return Err(ApiError::bad_request("bad segment id"));
    }
    let path = crate::merge::segment_path(&node.searcher.segments_dir(), &id);
    match tokio::fs::read(&path).await {
        Ok(b) => Ok((
            StatusCode::OK,
            [("content-type", "application/octet-stream")],
            b,
        )
            .into_response()),
        Err(_) => Err(ApiError::not_found(format!(
            "segment {id:?} is not on node {}",
            node.cfg.node_id
        ))),
    }
}

/// Decodes a bincode request body; `what` names it in the error.
fn decode_body<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    bincode::serde::decode_from_slice(body, bincode::config::standard())
        .map(|(v, _)| v)
        .map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// A bincode-encoded 200 answer.
fn bincode_response<T: Serialize>(v: &T) -> Result<Response, ApiError> {
    let bytes = bincode::serde::encode_to_vec(v, bincode::config::standard())
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((
        StatusCode::OK,
        [("content-type", "application/octet-stream")],
        bytes,
    )
        .into_response())
}

fn compile(q: &SubQuery) -> Result<Plan, ApiError> {
    let parsed = query::parse_with(&q.query_string, &q.arguments)
        .map_err(|e| ApiError::bad_request(format!("query parse error: {e}")))?;
    query::compile(
        &parsed,
        PlanOptions {
            start: q.start,
            end: q.end,
            default_limit: 200,
        },
    )
    .map_err(|e| ApiError::bad_request(format!("query parse error: {e}")))
}

async fn sub_search(
    AxState(node): AxState<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_secret(&node, &headers)?;
    let q: SubQuery = decode_body(&body, "sub-query")?;
    let plan = Arc::new(compile(&q)?);
    crate::metrics::CLUSTER_SUBSEARCHES.inc();
    let progress = Arc::new(Progress::default());
    if q.keys_only {
        if let Some((newest, limit)) = keys::keyed_list(&plan) {
            progress.collect_keys(keys::Candidates::new(newest, limit));
        }
    }
    let scope = Scope {
        segments: q.segments,
        planned: q.planned.into_iter().collect(),
        wip: q.wip,
    };
    let st = node
        .searcher
        .search_scoped(
            &q.repo,
            plan,
            SearchRange {
                start: q.start,
                end: q.end,
            },
            progress.clone(),
            scope,
        )
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("sub-search failed: {e}"),
            )
        })?;
    let out = SubResult {
        state: st,
        processed_events: progress
            .processed_events
            .load(std::sync::atomic::Ordering::Relaxed),
        processed_bytes: progress
            .processed_bytes
            .load(std::sync::atomic::Ordering::Relaxed),
        keys: KeyedRows::from_candidates(progress.take_keys()),
    };
    bincode_response(&out)
}

/// Materialises events of this node's segments for a query-then-fetch.
async fn fetch_rows(
    AxState(node): AxState<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_secret(&node, &headers)?;
    let req: FetchRows = decode_body(&body, "row fetch")?;
    let searcher = node.searcher.clone();
    let rows = tokio::task::spawn_blocking(move || searcher.materialize(&req))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| ApiError::not_found(format!("cannot fetch rows: {e}")))?;
    crate::metrics::CLUSTER_ROWS_FETCHED.inc_by(rows.len() as u64);
    bincode_response(&rows)
}

/// What a query needs to fan out: the query text (sub-queries recompile it; plans are
/// deterministic) and its time range.
pub struct FanOut {
    pub repo: String,
    pub query_string: String,
    pub arguments: HashMap<String, String>,
    pub range: SearchRange,
}

async fn remote(node: &NodeCtx, url: &str, q: &SubQuery) -> Result<SubResult, String> {
    call(node, url, "search", q).await
}

/// POSTs a bincode body to another node's internal API and decodes its bincode answer.
async fn call<Q: Serialize, R: serde::de::DeserializeOwned>(
    node: &NodeCtx,
    url: &str,
    path: &str,
    q: &Q,
) -> Result<R, String> {
    let secret = node.cfg.cluster_secret.clone().unwrap_or_default();
    let body =
        bincode::serde::encode_to_vec(q, bincode::config::standard()).map_err(|e| e.to_string())?;
    let r = node
        .http
        .post(format!("{}/internal/v1/{path}", url.trim_end_matches('/')))
        .header(SECRET_HEADER, secret)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let bytes = r.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            String::from_utf8_lossy(&bytes).trim()
        ));
    }
    let cfg = bincode::config::standard().with_limit::<{ 1 << 30 }>();
    bincode::serde::decode_from_slice::<R, _>(&bytes, cfg)
        .map(|(r, _)| r)
        .map_err(|e| format!("undecodable answer to {path}: {e}"))
}

/// [`remote`], given up as soon as node `n` stops heartbeating (a hung or cut-off node must
/// not hold the query until the HTTP timeout).
async fn remote_while_live(
    node: &NodeCtx,
    n: u32,
    url: &str,
    q: &SubQuery,
) -> Result<SubResult, String> {
    while_live(node, n, remote(node, url, q)).await
}

/// Runs `f`, given up as soon as node `n` stops heartbeating.
async fn while_live<T>(
    node: &NodeCtx,
    n: u32,
    f: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    let watch = async {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            if !node.membership.is_live(n) && node.membership.settled() {
                return;
            }
        }
    };
    tokio::select! {
        r = f => r,
        _ = watch => Err(format!("node {n} went offline during the sub-search")),
    }
}

/// Query-then-fetch's second half: among the rows already in `st` (this node's share and
/// everyone's work in progress) and the keys other nodes answered with, picks the best `limit`
/// and fetches the winning events from their nodes (in parallel) into `st`. Returns the nodes
/// whose fetch failed, with their segments, for re-planning.
#[allow(clippy::too_many_arguments)]
async fn fetch_winners(
    node: &Arc<NodeCtx>,
    plan: &Plan,
    st: &mut State,
    newest: bool,
    limit: usize,
    answers: Vec<(u32, Vec<SegmentInfo>, KeyedRows)>,
    repo: &str,
    urls: &HashMap<u32, String>,
) -> Vec<(u32, Vec<SegmentInfo>, String)> {
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
    all.truncate(limit);
    let mut wanted: Vec<Vec<usize>> = vec![Vec::new(); answers.len()];
    for (_, w) in all {
        if let Some((a, i)) = w {
            wanted[a].push(i);
        }
    }
    let fetches = answers
        .into_iter()
        .zip(wanted)
        .filter(|(_, w)| !w.is_empty())
        .map(|((n, segs, k), w)| {
            let req = FetchRows {
                repo: repo.to_string(),
                rows: w
                    .iter()
                    .map(|&i| (k.keys[i].1, k.keys[i].2, k.keys[i].3))
                    .collect(),
                sources: k.sources,
            };
            let url = urls.get(&n).cloned().unwrap_or_default();
            async move {
                let r: Result<Vec<query::Row>, String> =
                    while_live(node, n, call(node, &url, "rows", &req)).await;
                (n, segs, r)
            }
        });
    let mut failed = Vec::new();
    for (n, segs, r) in futures::future::join_all(fetches).await {
        match r {
            Ok(rows) => {
                for row in rows {
                    plan.feed_row(st, row);
                }
            }
            Err(e) => failed.push((n, segs, e)),
        }
    }
    failed
}

/// Runs a query over the whole cluster; returns the merged state and warnings (a node that
/// failed mid-query makes the result incomplete, and a warning says so). On one node, or
/// without a cluster secret, it is the local search.
pub async fn search(
    node: &Arc<NodeCtx>,
    plan: Arc<Plan>,
    f: FanOut,
    progress: Arc<Progress>,
) -> Result<(State, Vec<String>), SearchError> {
    let me = node.cfg.node_id;
    let live = node.membership.live_nodes(&node.global);
    let others: Vec<u32> = live.iter().copied().filter(|n| *n != me).collect();
    if node.cfg.cluster_secret.is_none() || others.is_empty() {
        let st = node
            .searcher
            .search_state(&f.repo, plan, f.range, progress, Box::new(|| {}))
            .await?;
        return Ok((st, Vec::new()));
    }
    let (segments, urls): (Vec<SegmentInfo>, HashMap<u32, String>) = node.global.read(|s| {
        (
            s.segments_in_range(&f.repo, f.range.start, f.range.end)
                .cloned()
                .collect(),
            s.nodes.iter().map(|(id, n)| (*id, n.url.clone())).collect(),
        )
    });
    crate::metrics::CLUSTER_FANOUT_QUERIES.inc();
    let planned: Vec<String> = segments.iter().map(|s| s.id.to_string()).collect();
    let has_bucket = node.cfg.bucket.is_some();
    let mut warnings = Vec::new();
    let mut share: HashMap<u32, Vec<SegmentInfo>> = live.iter().map(|n| (*n, Vec::new())).collect();
    let mut load: HashMap<u32, u64> = HashMap::new();
    let assign =
        |seg: &SegmentInfo, exclude: &HashSet<u32>, load: &mut HashMap<u32, u64>| -> Option<u32> {
            // A file here is one Global lists this node as holding, or a bucket download
            // searched before (its reader is open): checking those spares a `stat` per
            // segment the other nodes hold, on every query.
            let maybe_here = seg.nodes.contains(&me) || node.searcher.has_reader(&seg.id);
            if !exclude.contains(&me) && maybe_here && node.searcher.has_local(&seg.id) {
                return Some(me);
            }
            let holder = seg
                .nodes
                .iter()
                .copied()
                .filter(|n| live.contains(n) && !exclude.contains(n))
                .min_by_key(|n| load.get(n).copied().unwrap_or(0));
            let pick = holder.or((has_bucket && seg.bucket_key.is_some()).then_some(me))?;
            *load.entry(pick).or_default() += seg.file_bytes;
            Some(pick)
        };
    let mut missing = 0usize;
    for seg in &segments {
        match assign(seg, &HashSet::new(), &mut load) {
            Some(n) => share.entry(n).or_default().push(seg.clone()),
            None => missing += 1,
        }
    }
    if missing > 0 {
        warnings.push(format!(
            "incomplete result: {missing} segment(s) have no live holder and are not in the bucket"
        ));
    }
    let keyed = keys::keyed_list(&plan);
    let sub = |segments: Vec<SegmentInfo>, wip: bool| SubQuery {
        repo: f.repo.clone(),
        query_string: f.query_string.clone(),
        arguments: f.arguments.clone(),
        start: f.range.start,
        end: f.range.end,
        segments,
        planned: planned.clone(),
        wip,
        keys_only: keyed.is_some(),
    };
    let mine = share.remove(&me).unwrap_or_default();
    let mut remotes = Vec::new();
    for (n, segs) in share {
        let url = urls.get(&n).cloned().unwrap_or_default();
        let q = sub(segs, true);
        let node2 = node.clone();
        remotes.push(tokio::spawn(async move {
            let r = remote_while_live(&node2, n, &url, &q).await;
            (n, q.segments, r)
        }));
    }
    let local = node.searcher.search_scoped(
        &f.repo,
        plan.clone(),
        f.range,
        progress.clone(),
        Scope {
            segments: mine,
            planned: planned.iter().cloned().collect(),
            wip: true,
        },
    );
    let mut st = local.await?;
    let mut failed: HashSet<u32> = HashSet::new();
    let mut retry: Vec<SegmentInfo> = Vec::new();
    let mut keyed_answers: Vec<(u32, Vec<SegmentInfo>, KeyedRows)> = Vec::new();
    for h in remotes {
        let Ok((n, segs, r)) = h.await else { continue };
        match r {
            Ok(res) => {
                progress.add_processed(res.processed_events, res.processed_bytes);
                plan.agg.merge(&mut st, res.state);
                if !res.keys.is_empty() {
                    keyed_answers.push((n, segs, res.keys));
                }
            }
            Err(e) => {
                tracing::warn!(node = n, error = %e, "sub-search failed; re-planning its segments");
                crate::metrics::CLUSTER_SUBSEARCH_FAILURES.inc();
                failed.insert(n);
                retry.extend(segs);
            }
        }
    }
    if let Some((newest, limit)) = keyed.filter(|_| !keyed_answers.is_empty()) {
        for (n, segs, e) in fetch_winners(
            node,
            &plan,
            &mut st,
            newest,
            limit,
            keyed_answers,
            &f.repo,
            &urls,
        )
        .await
        {
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
        let mut again: HashMap<u32, Vec<SegmentInfo>> = HashMap::new();
        let mut lost = 0;
        for seg in retry {
            match assign(&seg, &failed, &mut load) {
                Some(n) => again.entry(n).or_default().push(seg),
                None => lost += 1,
            }
        }
        if lost > 0 {
            warnings.push(format!(
                "incomplete result: {lost} segment(s) of the failed node(s) have no other copy"
            ));
        }
        for (n, segs) in again {
            let part = if n == me {
                node.searcher
                    .search_scoped(
                        &f.repo,
                        plan.clone(),
                        f.range,
                        Arc::new(Progress::default()),
                        Scope {
                            segments: segs,
                            planned: planned.iter().cloned().collect(),
                            wip: false,
                        },
                    )
                    .await
                    .map_err(|e| e.to_string())
            } else {
                let url = urls.get(&n).cloned().unwrap_or_default();
                remote_while_live(node, n, &url, &sub(segs, false))
                    .await
                    .map(|r| r.state)
            };
            match part {
                Ok(s) => plan.agg.merge(&mut st, s),
                Err(e) => warnings.push(format!(
                    "incomplete result: re-planned sub-search on node {n} failed: {e}"
                )),
            }
        }
    }
    Ok((st, warnings))
}
