//! Query jobs (LogScale's `/queryjobs`): create, poll with LogScale's response shape
//! (`done`, `events`, `messages`, `metaData`), cancel. A job belongs to the caller that created
//! it: another caller's poll or delete is a 404, as for a job that does not exist.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Map, Value};

use super::{caller_name, parse_request, plan};
use crate::api::ApiError;
use crate::ctx::NodeCtx;
use crate::query::agg::Agg;
use crate::query::ops::Op;
use crate::query::Plan;
use crate::search::domain::Run;
use crate::search::jobs::{Job, JobState};
use crate::search::live::LiveSub;
use crate::search::{SearchRange, SearchResult};

/// Events a job lists when the query has no aggregate (LogScale: an implicit `tail(200)`).
const JOB_EVENT_LIMIT: usize = 200;

pub(super) async fn create(
    State(node): State<Arc<NodeCtx>>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let owner = caller_name(&node.authenticate(&headers)?);
    node.authorize_read(&headers, &repo)?;
    let req = parse_request(&body)?;
    let limit = node.cfg.limits.max_query_jobs_per_user;
    let held = node.jobs.count_owned(&owner);
    if held >= limit {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "{owner} holds {held} query jobs on this node, the limit (--max-query-jobs-per-user {limit}): delete finished jobs (DELETE .../queryjobs/ID) or let them expire"
            ),
        ));
    }
    if req.is_live {
        super::check_live_limit(&node)?;
    }
    let id = format!("P{}-{:032x}", node.cfg.node_id, rand::random::<u128>());
    let live = req.is_live.then_some(id.as_str());
    let (plan, q) = plan(&node, &repo, &req, JOB_EVENT_LIMIT, live)?;
    let plan = Arc::new(plan);
    // A live job's feeds: one for a repository, one per source of a view (each with its
    // connection's filter, under its own id on every node).
    let sources = match q.live {
        Some(_) => crate::search::domain::source_queries(&node.global, &q),
        None => None,
    };
    let mut runs = Vec::new();
    let mut live = Vec::new();
    if let Some(spec) = &q.live {
        match sources {
            Some(sources) => {
                for sq in sources {
                    let run = Run::new(sq)?;
                    if let Some(spec) = &run.q.live {
                        live.push(Arc::new(LiveSub::new(spec, &run.q.repo, run.plan.clone())));
                    }
                    runs.push(run);
                }
            }
            None => {
                live.push(Arc::new(LiveSub::new(spec, &repo, plan.clone())));
                runs.push(Run {
                    q: q.clone(),
                    plan: plan.clone(),
                    register: Box::new(|| {}),
                    stream: None,
                });
            }
        }
        // Each feed registers when this node snapshots its WIP for that feed's search.
        for (run, sub) in runs.iter_mut().zip(&live) {
            let (n, sub) = (node.clone(), sub.clone());
            run.register = Box::new(move || n.wip.live.register(&sub));
        }
    }
    let range = SearchRange {
        start: q.options.start,
        end: q.options.end,
    };
    let job = Arc::new(Job::new(&repo, &owner, plan.clone(), range, live));
    node.jobs.insert(&id, job.clone());
    let n = node.clone();
    tokio::spawn(async move {
        let progress = job.progress().clone();
        let root = n.root();
        let r = if job.is_live() {
            root.search_runs(&job.plan, runs, progress).await
        } else {
            root.search_domain(job.plan.clone(), &q, progress, Box::new(|| {}))
                .await
                .map(|g| (g, Vec::new()))
        };
        job.finish(match r {
            Ok((g, answered)) => match job.live.first() {
                Some(sub) => {
                    // The feeds share the user's aggregate: the history goes into the first.
                    sub.merge(g.state);
                    job.set_live_peers(answered);
                    JobState::Done(SearchResult {
                        warnings: g.warnings,
                        ..Default::default()
                    })
                }
                None => {
                    let mut res = crate::search::finish(&job.plan, g.state);
                    res.warnings.extend(g.warnings);
                    JobState::Done(res)
                }
            },
            Err(e) => JobState::Failed(e),
        });
    });
    Ok((
        StatusCode::OK,
        Json(json!({"id": id, "hashedQueryOnView": ""})),
    )
        .into_response())
}

/// A live job's window now: this node's feeds merged with the subs every other node holds
/// for them. A node that cannot answer makes the result incomplete, and a warning says so.
async fn live_result(node: &NodeCtx, job: &Job, first: SearchResult) -> SearchResult {
    let asks: Vec<(u32, &str)> = job
        .live
        .iter()
        .zip(job.live_peers())
        .flat_map(|(sub, peers)| peers.into_iter().map(move |n| (n, sub.id.as_str())))
        .collect();
    let answers =
        futures::future::join_all(asks.iter().map(|(n, id)| node.peers.live_state(*n, id))).await;
    let mut states: Vec<_> = job.live.iter().skip(1).map(|s| s.state()).collect();
    let mut warnings = first.warnings;
    for ((n, _), a) in asks.iter().zip(answers) {
        match a {
            Ok(st) => states.push(st),
            Err(e) => warnings.push(format!(
                "incomplete result: node {n} could not give its part of the live query: {e}"
            )),
        }
    }
    let mut r = match job.live.first() {
        Some(sub) => sub.result_with(states),
        None => SearchResult::default(),
    };
    r.warnings.extend(warnings);
    r
}

/// The caller's job `id` in `repo` (another caller's job is not found either).
fn job_of(node: &NodeCtx, headers: &HeaderMap, repo: &str, id: &str) -> Result<Arc<Job>, ApiError> {
    let owner = caller_name(&node.authenticate(headers)?);
    node.authorize_read(headers, repo)?;
    node.jobs.get_owned(id, repo, &owner).ok_or_else(|| {
        ApiError::not_found(format!(
            "no query job {id:?} of yours in {repo:?} (a job ends {} s after its last poll, a live job {} s; or it never existed)",
            crate::search::jobs::ttl(false).as_secs(),
            crate::search::jobs::ttl(true).as_secs(),
        ))
    })
}

pub(super) async fn poll(
    State(node): State<Arc<NodeCtx>>,
    Path((repo, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = job_of(&node, &headers, &repo, &id)?;
    job.polled();
    let cancelled = job.cancelled() && !job.is_live();
    let progress = job.progress().clone();
    let (result, done) = match (job.state(), job.is_live()) {
        (JobState::Running, _) => (progress.partial(&job.plan), false),
        // A live job shows its sliding window and never finishes.
        (JobState::Done(r), true) => (live_result(&node, &job, r).await, false),
        (JobState::Done(r), false) => (r, true),
        (JobState::Failed(e), _) => return Err(e.into()),
    };
    let total = progress.work_total.load(Ordering::Relaxed);
    let work_done = if done {
        total
    } else {
        progress.work_done.load(Ordering::Relaxed).min(total)
    };
    let events: Vec<Value> = result
        .rows
        .iter()
        .map(|r| Value::Object(r.to_json()))
        .collect();
    let messages: Vec<Value> = result
        .warnings
        .iter()
        .map(|w| json!({"severity": "warning", "text": w}))
        .collect();
    // A live job's range is its window ending now.
    let (query_start, query_end) = match job.live.first() {
        Some(sub) => {
            let now = crate::text::now_ms();
            (now - sub.window_ms, now)
        }
        None => (job.range.start, job.range.end - 1),
    };
    let mut extra = Map::new();
    extra.insert(
        "hasMoreEvents".into(),
        json!(if result.more_events { "true" } else { "false" }),
    );
    if let Some(span) = bucket_span(&job.plan) {
        bucket_info(&mut extra, span, query_start, query_end + 1);
    }
    let body = json!({
        "done": done, "cancelled": cancelled, "events": events, "messages": messages,
        "metaData": {
            "eventCount": events.len(),
            "processedEvents": progress.processed_events.load(Ordering::Relaxed),
            "processedBytes": progress.processed_bytes.load(Ordering::Relaxed),
            "isAggregate": result.is_aggregate,
            "pollAfter": if done { 0 } else { 250 },
            "queryStart": query_start,
            "queryEnd": query_end,
            "timeMillis": job.elapsed().as_millis() as u64,
            "totalWork": total, "workDone": work_done,
            "resultBufferSize": events.len(),
            "extraData": extra,
            "fieldOrder": result.field_order,
            "warnings": result.warnings,
        }
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

pub(super) async fn delete(
    State(node): State<Arc<NodeCtx>>,
    Path((repo, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = job_of(&node, &headers, &repo, &id)?;
    job.cancel();
    node.jobs.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The bucket span of a `timeChart()`/`bucket()` query (its first time-bucket aggregate).
fn bucket_span(plan: &Plan) -> Option<i64> {
    fn of(a: &Agg) -> Option<i64> {
        match a {
            Agg::Series { span, .. } => Some(*span),
            Agg::Sliced { inner, .. } => of(inner),
            _ => None,
        }
    }
    of(&plan.agg).or_else(|| {
        plan.suffix.iter().find_map(|o| match o {
            Op::Agg(a) => of(a),
            _ => None,
        })
    })
}

/// LogScale's `extraData.bucket_*` (strings, like all of `extraData`): the first and last
/// bucket of `[start, end)` and the span.
fn bucket_info(extra: &mut Map<String, Value>, span: i64, start: i64, end: i64) {
    let span = span.max(1);
    let first = start.div_euclid(span) * span;
    let last = (end - 1).max(start).div_euclid(span) * span;
    extra.insert("bucket_first_bucket".into(), json!(first.to_string()));
    extra.insert("bucket_last_bucket".into(), json!(last.to_string()));
    extra.insert("bucket_span_millis".into(), json!(span.to_string()));
    extra.insert("bucket_span_humanized".into(), json!(humanize(span)));
}

/// `300000` → `5 minutes`: the largest unit that divides the span.
fn humanize(ms: i64) -> String {
    const UNITS: [(i64, &str); 5] = [
        (86_400_000, "day"),
        (3_600_000, "hour"),
        (60_000, "minute"),
        (1000, "second"),
        (1, "millisecond"),
    ];
    let (n, unit) = UNITS
        .iter()
        .find(|(u, _)| ms % u == 0)
        .map(|(u, name)| (ms / u, *name))
        .unwrap_or((ms, "millisecond"));
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_info_names_the_span() {
        assert_eq!(humanize(300_000), "5 minutes");
        assert_eq!(humanize(86_400_000), "1 day");
        assert_eq!(humanize(1500), "1500 milliseconds");
        let mut m = Map::new();
        bucket_info(&mut m, 60_000, 90_000, 300_000);
        assert_eq!(m["bucket_first_bucket"], "60000");
        assert_eq!(m["bucket_last_bucket"], "240000");
        assert_eq!(m["bucket_span_millis"], "60000");
    }
}
