//! Query endpoints: query jobs (create, poll with LogScale's response shape, cancel; a job not
//! polled for 30 s expires — `search/jobs.rs`), the streaming `/query` endpoint (NDJSON, JSON, plain text), and
//! the older `/api/v1/dataspaces/{repo}/...` aliases.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiError;
use crate::ctx::NodeCtx;
use crate::query;
use crate::query::{Plan, PlanOptions};
use crate::search::jobs::{Job, JobState, JOB_EXPIRY};
use crate::search::live::{LiveSpec, LiveSub};
use crate::search::root::RootQuery;
use crate::search::{Progress, SearchResult};

/// Events the streaming endpoint returns when the query has no aggregate or limit.
const STREAM_EVENT_LIMIT: usize = 100_000;

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/api/v1/repositories/{repo}/queryjobs", post(create_job))
        .route(
            "/api/v1/repositories/{repo}/queryjobs/{id}",
            get(poll_job).delete(delete_job),
        )
        .route("/api/v1/repositories/{repo}/query", post(stream_query))
        .route("/api/v1/dataspaces/{repo}/queryjobs", post(create_job))
        .route(
            "/api/v1/dataspaces/{repo}/queryjobs/{id}",
            get(poll_job).delete(delete_job),
        )
        .route("/api/v1/dataspaces/{repo}/query", post(stream_query))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryInput {
    query_string: Option<String>,
    start: Option<Value>,
    end: Option<Value>,
    #[serde(default)]
    is_live: bool,
    /// Values for `?name` parameters in the query string.
    #[serde(default)]
    arguments: HashMap<String, String>,
}

/// Parses LogScale time specs: epoch ms numbers, `now`, or relative (`15m`, `1h`, `24hours`, `7d`).
pub fn parse_time(v: Option<&Value>, default: &str, now: i64) -> Result<i64, ApiError> {
    let s = match v {
        None | Some(Value::Null) => default.to_string(),
        Some(Value::Number(n)) => {
            return n.as_i64().ok_or_else(|| {
                ApiError::bad_request(format!("time {n} is not an integer epoch ms"))
            })
        }
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "time {other} must be epoch ms or a relative time like 1h"
            )))
        }
    };
    if s == "now" {
        return Ok(now);
    }
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let unit = s[digits.len()..].trim().to_ascii_lowercase();
    let n: i64 = digits.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "time {s:?} is not epoch ms, now, or a relative time like 1h"
        ))
    })?;
    let ms = query::unit_ms(&unit)
        .ok_or_else(|| ApiError::bad_request(format!("time {s:?} has an unknown unit {unit:?}")))?;
    Ok(now - n.saturating_mul(ms))
}

/// The query as the root runs it, and its compiled plan.
/// `live`: the job id of a live query.
fn plan(
    repo: &str,
    input: &QueryInput,
    default_limit: usize,
    live: Option<&str>,
) -> Result<(Plan, RootQuery), ApiError> {
    let now = crate::text::now_ms();
    let start = parse_time(input.start.as_ref(), "24hours", now)?;
    // The end is inclusive of "now": events stamped this very millisecond count.
    let end = parse_time(input.end.as_ref(), "now", now)?.saturating_add(1);
    if end <= start {
        return Err(ApiError::bad_request(
            "the time range is empty: end must be after start",
        ));
    }
    let q = RootQuery {
        repo: repo.to_string(),
        query_string: input.query_string.clone().unwrap_or_default(),
        arguments: input.arguments.clone(),
        options: PlanOptions {
            start,
            end,
            default_limit,
            zone: crate::query::Zone::UTC,
        },
        live: live.map(|id| LiveSpec::new(id, end - start)),
    };
    Ok((q.compile()?, q))
}

fn parse_input(body: &[u8]) -> Result<QueryInput, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid query request: {e}")))
}

async fn create_job(
    State(node): State<Arc<NodeCtx>>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    node.authorize_read(&headers, &repo)?;
    let input = parse_input(&body)?;
    let id = format!("P{}-{:032x}", node.cfg.node_id, rand::random::<u128>());
    let live = input.is_live.then_some(id.as_str());
    let (plan, q) = plan(&repo, &input, 200, live)?;
    let plan = Arc::new(plan);
    let live_sub = q.live.as_ref().map(|spec| {
        Arc::new(LiveSub::new(
            &repo,
            plan.clone(),
            spec.window_ms,
            spec.slice_ms,
        ))
    });
    let job = Arc::new(Job::new(&repo, plan.clone(), live_sub.clone()));
    node.jobs.insert(&id, job.clone());
    let n = node.clone();
    tokio::spawn(async move {
        let register: Box<dyn FnOnce() + Send> = match &live_sub {
            Some(sub) => {
                let (n2, sub) = (n.clone(), sub.clone());
                Box::new(move || n2.wip.live.register(&sub))
            }
            None => Box::new(|| {}),
        };
        let progress = job.progress().clone();
        let r = n
            .root()
            .search(job.plan.clone(), &q, progress, register)
            .await;
        job.finish(match r {
            Ok(g) => match &live_sub {
                Some(sub) => {
                    sub.merge(g.state);
                    job.set_live_peers(g.answered);
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

/// A live job's window now: this node's sub merged with the subs every other node holds for
/// it. A node that cannot answer makes the result incomplete, and a warning says so.
async fn live_result(
    node: &NodeCtx,
    job: &Job,
    sub: &LiveSub,
    id: &str,
    first: SearchResult,
) -> SearchResult {
    let peers = job.live_peers();
    let answers =
        futures::future::join_all(peers.iter().map(|n| node.peers.live_state(*n, id))).await;
    let mut states = Vec::new();
    let mut warnings = first.warnings;
    for (n, a) in peers.iter().zip(answers) {
        match a {
            Ok(st) => states.push(st),
            Err(e) => warnings.push(format!(
                "incomplete result: node {n} could not give its part of the live query: {e}"
            )),
        }
    }
    let mut r = sub.result_with(states);
    r.warnings.extend(warnings);
    r
}

fn job_of(node: &NodeCtx, repo: &str, id: &str) -> Result<Arc<Job>, ApiError> {
    node.jobs
        .get(id)
        .filter(|j| j.repo == repo)
        .ok_or_else(|| ApiError::not_found(format!("no query job {id:?} in {repo:?} (expired after {} s without polling, or never existed)", JOB_EXPIRY.as_secs())))
}

async fn poll_job(
    State(node): State<Arc<NodeCtx>>,
    Path((repo, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    node.authorize_read(&headers, &repo)?;
    let job = job_of(&node, &repo, &id)?;
    job.polled();
    let cancelled = job.cancelled() && job.live_sub.is_none();
    let progress = job.progress().clone();
    let (result, done) = match (job.state(), &job.live_sub) {
        (JobState::Running, _) => (progress.partial(&job.plan), false),
        // A live job shows its sliding window and never finishes.
        (JobState::Done(r), Some(sub)) => (live_result(&node, &job, sub, &id, r).await, false),
        (JobState::Done(r), None) => (r, true),
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
    let body = json!({
        "done": done, "cancelled": cancelled, "events": events, "messages": messages,
        "metaData": {
            "eventCount": events.len(),
            "processedEvents": progress.processed_events.load(Ordering::Relaxed),
            "processedBytes": progress.processed_bytes.load(Ordering::Relaxed),
            "isAggregate": result.is_aggregate,
            "pollAfter": if done { 0 } else { 250 },
            "totalWork": total, "workDone": work_done,
            "extraData": {"hasMoreEvents": if result.more_events { "true" } else { "false" }},
            "fieldOrder": result.field_order,
            "warnings": result.warnings,
        }
    });
    Ok((StatusCode::OK, Json(body)).into_response())
}

async fn delete_job(
    State(node): State<Arc<NodeCtx>>,
    Path((repo, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    node.authorize_read(&headers, &repo)?;
    let job = job_of(&node, &repo, &id)?;
    job.cancel();
    node.jobs.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Runs a query to completion and streams every result, in the format `Accept` asks for.
async fn stream_query(
    State(node): State<Arc<NodeCtx>>,
    Path(repo): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    node.authorize_read(&headers, &repo)?;
    let input = parse_input(&body)?;
    let (plan, q) = plan(&repo, &input, STREAM_EVENT_LIMIT, None)?;
    let plan = Arc::new(plan);
    let progress = Arc::new(Progress::default());
    let g = node
        .root()
        .search(plan.clone(), &q, progress, Box::new(|| {}))
        .await?;
    let (st, warnings) = (g.state, g.warnings);
    let r = crate::search::finish(&plan, st);
    // The body is the rows alone; an incomplete result says so in a header.
    let warning = stream_warnings(&plan, &r, &warnings);
    let rows: Vec<serde_json::Map<String, Value>> = r.rows.iter().map(|r| r.to_json()).collect();
    let accept = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if accept.contains("ndjson") {
        let mut out = String::new();
        for row in &rows {
            out.push_str(&Value::Object(row.clone()).to_string());
            out.push('\n');
        }
        Ok((
            [
                ("content-type", "application/x-ndjson"),
                ("x-strata-warnings", warning.as_str()),
            ],
            out,
        )
            .into_response())
    } else if accept.contains("text/plain") {
        let mut out = String::new();
        for row in &rows {
            match row.get("@rawstring").and_then(Value::as_str) {
                Some(raw) if !r.is_aggregate => out.push_str(raw),
                _ => out.push_str(
                    &row.iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}",
                                v.as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.to_string())
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
            }
            out.push('\n');
        }
        Ok((
            [
                ("content-type", "text/plain; charset=utf-8"),
                ("x-strata-warnings", warning.as_str()),
            ],
            out,
        )
            .into_response())
    } else {
        Ok((
            [("x-strata-warnings", warning.as_str())],
            Json(Value::Array(rows.into_iter().map(Value::Object).collect())),
        )
            .into_response())
    }
}

/// The streaming answer's `x-strata-warnings`: what the result lacks, including a list cut at
/// the endpoint's default limit (the answer has no `hasMoreEvents` to say it).
fn stream_warnings(plan: &Plan, r: &SearchResult, warnings: &[String]) -> String {
    let cut = (r.more_events && plan.implicit_list).then(|| {
        format!(
            "the event list was cut at {} events; more events matched (narrow the search or add | tail(N))",
            r.rows.len()
        )
    });
    warnings
        .iter()
        .chain(&r.warnings)
        .chain(&cut)
        .map(|w| w.replace(['\r', '\n'], " "))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_cut_at_its_default_limit_says_so() {
        let opts = PlanOptions {
            start: 0,
            end: 10,
            default_limit: 2,
            zone: crate::query::Zone::UTC,
        };
        let compiled = |q: &str| query::compile(&query::parse(q).unwrap(), opts).unwrap();
        let cut = SearchResult {
            rows: vec![Default::default(), Default::default()],
            more_events: true,
            ..Default::default()
        };
        let w = stream_warnings(&compiled("error"), &cut, &["node 3 failed".into()]);
        assert_eq!(
            w,
            "node 3 failed; the event list was cut at 2 events; more events matched (narrow the search or add | tail(N))"
        );
        // A limit the query asked for is no surprise; a list that is not cut says nothing.
        assert_eq!(stream_warnings(&compiled("tail(2)"), &cut, &[]), "");
        let whole = SearchResult {
            more_events: false,
            ..cut
        };
        assert_eq!(stream_warnings(&compiled("error"), &whole, &[]), "");
    }

    #[test]
    fn relative_times() {
        let now = 10_000_000_000;
        assert_eq!(
            parse_time(Some(&json!("1h")), "", now).unwrap(),
            now - 3_600_000
        );
        assert_eq!(
            parse_time(Some(&json!("24hours")), "", now).unwrap(),
            now - 86_400_000
        );
        assert_eq!(parse_time(Some(&json!(5)), "", now).unwrap(), 5);
        assert_eq!(parse_time(None, "now", now).unwrap(), now);
        assert!(parse_time(Some(&json!("3 fortnights")), "", now).is_err());
    }
}
