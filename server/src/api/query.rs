//! Query endpoints: query jobs (create, poll with LogScale's response shape, cancel; a job not
//! polled for 30 s expires), the streaming `/query` endpoint (NDJSON, JSON, plain text), and
//! the older `/api/v1/dataspaces/{repo}/...` aliases.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiError;
use crate::node::NodeCtx;
use crate::query;
use crate::query::{Agg, Plan, PlanOptions};
use crate::search::live::LiveSub;
use crate::search::{Progress, SearchRange, SearchResult};

/// Events the streaming endpoint returns when the query has no aggregate or limit.
const STREAM_EVENT_LIMIT: usize = 100_000;

/// Jobs not polled for this long are cancelled and removed (LogScale: 30 s for the UI).
pub const JOB_EXPIRY: Duration = Duration::from_secs(30);

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

/// A running or finished query job.
pub struct Job {
    repo: String,
    plan: Arc<Plan>,
    /// A live query's state, fed by digest after the historical search.
    live_sub: Option<Arc<LiveSub>>,
    last_poll: Mutex<Instant>,
    /// Progress of the current run (a live job starts a new run for each refresh).
    progress: Mutex<Arc<Progress>>,
    state: Mutex<JobState>,
}

enum JobState {
    Running,
    Done(SearchResult),
    Failed(String),
}

impl Job {
    fn cancel(&self) {
        if let Ok(p) = self.progress.lock() {
            p.cancelled.store(true, Ordering::Relaxed);
        }
    }

    fn cancelled(&self) -> bool {
        self.progress
            .lock()
            .map(|p| p.cancelled.load(Ordering::Relaxed))
            .unwrap_or(true)
    }
}

/// The node's query jobs.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    /// Drops jobs nobody polled recently.
    pub fn expire(&self) {
        if let Ok(mut m) = self.jobs.lock() {
            m.retain(|_, j| {
                let alive = j
                    .last_poll
                    .lock()
                    .map(|t| t.elapsed() < JOB_EXPIRY)
                    .unwrap_or(false);
                if !alive {
                    j.cancel();
                }
                alive
            });
        }
    }
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

fn plan(input: &QueryInput, default_limit: usize) -> Result<(Plan, i64, i64), ApiError> {
    let qs = input.query_string.clone().unwrap_or_default();
    let q = query::parse_with(&qs, &input.arguments)
        .map_err(|e| ApiError::bad_request(format!("query parse error: {e}")))?;
    let now = crate::text::now_ms();
    let start = parse_time(input.start.as_ref(), "24hours", now)?;
    // The end is inclusive of "now": events stamped this very millisecond count.
    let end = parse_time(input.end.as_ref(), "now", now)?.saturating_add(1);
    if end <= start {
        return Err(ApiError::bad_request(
            "the time range is empty: end must be after start",
        ));
    }
    let plan = query::compile(
        &q,
        PlanOptions {
            start,
            end,
            default_limit,
        },
    )
    .map_err(|e| ApiError::bad_request(format!("query parse error: {e}")))?;
    Ok((plan, start, end))
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
    let (mut plan, start, end) = plan(&input, 200)?;
    let id = format!("P{}-{:032x}", node.cfg.node_id, rand::random::<u128>());
    let window = end - start;
    let live_sub = if input.is_live {
        // The aggregate is kept per slice (1/20 of the window, at least 1 s) so the window
        // can slide by dropping slices.
        let slice_ms = (window / 20).max(1000);
        let inner = std::mem::replace(
            &mut plan.agg,
            Agg::Count {
                field: None,
                distinct: false,
                as_: String::new(),
            },
        );
        plan.agg = Agg::Sliced {
            slice_ms,
            inner: Box::new(inner),
        };
        Some(slice_ms)
    } else {
        None
    };
    let plan = Arc::new(plan);
    let live_sub =
        live_sub.map(|slice_ms| Arc::new(LiveSub::new(&repo, plan.clone(), window, slice_ms)));
    let job = Arc::new(Job {
        repo: repo.clone(),
        plan: plan.clone(),
        live_sub: live_sub.clone(),
        last_poll: Mutex::new(Instant::now()),
        progress: Mutex::new(Arc::new(Progress::default())),
        state: Mutex::new(JobState::Running),
    });
    if let Ok(mut m) = node.jobs.jobs.lock() {
        m.insert(id.clone(), job.clone());
    }
    let n = node.clone();
    let qs = input.query_string.clone().unwrap_or_default();
    let arguments = input.arguments.clone();
    tokio::spawn(async move {
        let range = SearchRange { start, end };
        let progress = match job.progress.lock() {
            Ok(p) => p.clone(),
            Err(_) => return,
        };
        let register: Box<dyn FnOnce() + Send> = match &live_sub {
            Some(sub) => {
                let (n2, sub) = (n.clone(), sub.clone());
                Box::new(move || n2.wip.live.register(&sub))
            }
            None => Box::new(|| {}),
        };
        // Live jobs follow this node's digest; the others fan out over the cluster.
        let r = if live_sub.is_some() {
            n.searcher
                .search_state(&repo, job.plan.clone(), range, progress, register)
                .await
                .map(|st| (st, Vec::new()))
        } else {
            let fan = crate::cluster::internal::FanOut {
                repo: repo.clone(),
                query_string: qs,
                arguments,
                range,
            };
            crate::cluster::internal::search(&n, job.plan.clone(), fan, progress).await
        };
        if let Ok(mut s) = job.state.lock() {
            *s = match r {
                Ok((st, warnings)) => match &live_sub {
                    Some(sub) => {
                        sub.merge(st);
                        JobState::Done(SearchResult::default())
                    }
                    None => {
                        let mut res = crate::search::finish(&job.plan, st);
                        res.warnings.extend(warnings);
                        JobState::Done(res)
                    }
                },
                Err(e) => JobState::Failed(e.to_string()),
            };
        }
    });
    Ok((
        StatusCode::OK,
        Json(json!({"id": id, "hashedQueryOnView": ""})),
    )
        .into_response())
}

fn job_of(node: &NodeCtx, repo: &str, id: &str) -> Result<Arc<Job>, ApiError> {
    node.jobs
        .jobs
        .lock()
        .ok()
        .and_then(|m| m.get(id).cloned())
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
    if let Ok(mut t) = job.last_poll.lock() {
        *t = Instant::now();
    }
    let cancelled = job.cancelled() && job.live_sub.is_none();
    let progress = job
        .progress
        .lock()
        .map_err(|_| ApiError::unavailable("job state poisoned"))?
        .clone();
    let (result, done) = {
        let state = job
            .state
            .lock()
            .map_err(|_| ApiError::unavailable("job state poisoned"))?;
        match (&*state, &job.live_sub) {
            (JobState::Running, _) => (progress.partial(&job.plan), false),
            // A live job shows its sliding window and never finishes.
            (JobState::Done(_), Some(sub)) => (sub.result(), false),
            (JobState::Done(r), None) => (r.clone(), true),
            (JobState::Failed(e), _) => {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("query failed: {e}"),
                ))
            }
        }
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
            "extraData": {"hasMoreEvents": "false"},
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
    if let Ok(mut m) = node.jobs.jobs.lock() {
        m.remove(&id);
    }
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
    let (plan, start, end) = plan(&input, STREAM_EVENT_LIMIT)?;
    let plan = Arc::new(plan);
    let fan = crate::cluster::internal::FanOut {
        repo: repo.clone(),
        query_string: input.query_string.clone().unwrap_or_default(),
        arguments: input.arguments.clone(),
        range: SearchRange { start, end },
    };
    let (st, warnings) =
        crate::cluster::internal::search(&node, plan.clone(), fan, Arc::new(Progress::default()))
            .await
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("query failed: {e}"),
                )
            })?;
    let r = crate::search::finish(&plan, st);
    // The body is the rows alone; an incomplete result says so in a header.
    let warning = warnings
        .iter()
        .chain(&r.warnings)
        .map(|w| w.replace(['\r', '\n'], " "))
        .collect::<Vec<_>>()
        .join("; ");
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

#[cfg(test)]
mod tests {
    use super::*;

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
