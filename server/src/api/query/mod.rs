//! Query endpoints, LogScale's search API: query jobs (`jobs.rs`: create, poll with LogScale's
//! response shape and `metaData`, cancel; lifetimes and ownership in `search/jobs.rs`), the
//! streaming `/query` endpoint (`stream.rs`: `text/plain` by default, JSON, NDJSON — events
//! leave as the search proceeds; `format.rs` writes them), and the older
//! `/api/v1/dataspaces/{repo}/...` aliases. This file reads and checks the request both share.

mod format;
mod jobs;
mod stream;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::Value;

use super::{ApiError, Caller};
use crate::ctx::NodeCtx;
use crate::query;
use crate::query::{Plan, PlanOptions, Zone};
use crate::search::live::LiveSpec;
use crate::search::root::RootQuery;

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/api/v1/repositories/{repo}/queryjobs", post(jobs::create))
        .route(
            "/api/v1/repositories/{repo}/queryjobs/{id}",
            get(jobs::poll).delete(jobs::delete),
        )
        .route("/api/v1/repositories/{repo}/query", post(stream::query))
        .route("/api/v1/dataspaces/{repo}/queryjobs", post(jobs::create))
        .route(
            "/api/v1/dataspaces/{repo}/queryjobs/{id}",
            get(jobs::poll).delete(jobs::delete),
        )
        .route("/api/v1/dataspaces/{repo}/query", post(stream::query))
}

/// The request body as LogScale's `QueryJobInput` names it. Fields whose type serde would
/// reject without naming them are read as `Value` and checked by [`Request::from_input`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryInput {
    query_string: Option<String>,
    start: Option<Value>,
    end: Option<Value>,
    is_live: Option<Value>,
    /// Values for `?name` parameters in the query string.
    #[serde(default)]
    arguments: HashMap<String, String>,
    time_zone: Option<Value>,
    time_zone_offset_minutes: Option<Value>,
    allow_event_skipping: Option<Value>,
    ingest_start: Option<Value>,
    ingest_end: Option<Value>,
    around: Option<Value>,
}

/// A checked query request.
pub struct Request {
    pub query_string: String,
    pub start: Option<Value>,
    pub end: Option<Value>,
    pub is_live: bool,
    pub arguments: HashMap<String, String>,
    /// The zone the query asked for: [`plan`] makes it the plan's default zone
    /// (`PlanOptions::zone`), used by `timeChart`/`bucket`, `formatTime`, `time:*` and the like.
    pub time_zone: Zone,
    /// `allowEventSkipping`: lets head()/tail() stop early. Strata's event lists already skip
    /// events that cannot make the list and the result is the same either way, so it is
    /// accepted and changes nothing.
    pub allow_event_skipping: bool,
}

impl Request {
    fn from_input(i: QueryInput) -> Result<Request, ApiError> {
        // Honoured-or-rejected parameters: these change which events a query sees, and
        // Strata cannot give their meaning yet, so they are refused by name.
        for (name, v) in [
            ("ingestStart", &i.ingest_start),
            ("ingestEnd", &i.ingest_end),
            ("around", &i.around),
        ] {
            if v.as_ref().is_some_and(|v| !v.is_null()) {
                return Err(ApiError::bad_request(format!(
                    "{name} is not supported: Strata searches by event time only (remove {name}; use start and end)"
                )));
            }
        }
        let flag = |name: &str, v: &Option<Value>| match v {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(ApiError::bad_request(format!(
                "{name} must be true or false, not {other}"
            ))),
        };
        let is_live = flag("isLive", &i.is_live)?;
        let allow_event_skipping = flag("allowEventSkipping", &i.allow_event_skipping)?;
        let time_zone = parse_zone(i.time_zone.as_ref(), i.time_zone_offset_minutes.as_ref())?;
        Ok(Request {
            query_string: i.query_string.unwrap_or_default(),
            start: i.start,
            end: i.end,
            is_live,
            arguments: i.arguments,
            time_zone,
            allow_event_skipping,
        })
    }
}

/// Reads the zone a query's times are read and shown in: `timeZone` wins over
/// `timeZoneOffsetMinutes`; UTC when neither is given.
fn parse_zone(name: Option<&Value>, offset: Option<&Value>) -> Result<Zone, ApiError> {
    match name {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.eq_ignore_ascii_case("utc") || s == "Z" {
                return Ok(Zone::UTC);
            }
            return chrono_tz::Tz::from_str(s).map(Zone::Named).map_err(|_| {
                ApiError::bad_request(format!(
                    "timeZone {s:?} is not a known IANA time zone (e.g. Europe/Copenhagen, UTC)"
                ))
            });
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "timeZone must be an IANA zone name, not {other}"
            )))
        }
    }
    match offset {
        None | Some(Value::Null) => Ok(Zone::UTC),
        Some(Value::Number(n)) => match n.as_i64() {
            // A UTC offset is less than a day either way.
            Some(m) if m.abs() < 24 * 60 => Zone::from_offset_minutes(m as i32).ok_or_else(|| {
                ApiError::bad_request(format!("timeZoneOffsetMinutes {n} is out of range"))
            }),
            _ => Err(ApiError::bad_request(format!(
                "timeZoneOffsetMinutes {n} is not a whole number of minutes within a day of UTC"
            ))),
        },
        Some(other) => Err(ApiError::bad_request(format!(
            "timeZoneOffsetMinutes must be a number of minutes, not {other}"
        ))),
    }
}

fn parse_request(body: &[u8]) -> Result<Request, ApiError> {
    let input: QueryInput = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("invalid query request: {e}")))?;
    Request::from_input(input)
}

/// The caller's name, which a job is bound to.
fn caller_name(c: &Caller) -> String {
    match c {
        Caller::User { username, .. } => username.clone(),
        Caller::Ingest { name, repo, .. } => format!("ingest token {name} of {repo}"),
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

/// The query as the root runs it, and its compiled plan.
/// `live`: the job id of a live query.
/// Refuses a new live query (a live job or a live stream) past `--max-live-queries`: each
/// holds a feed every digest batch is offered to, on every node.
fn check_live_limit(node: &NodeCtx) -> Result<(), ApiError> {
    let limit = node.cfg.limits.max_live_queries;
    // A view's stream has a feed per source; count queries, not feeds.
    let running = node.jobs.live_count() + node.wip.live.streams_len();
    if running >= limit {
        return Err(ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this node runs {running} live queries, the limit (--max-live-queries {limit}): stop one, or run the query without isLive"
            ),
        ));
    }
    Ok(())
}

fn plan(
    node: &NodeCtx,
    repo: &str,
    req: &Request,
    default_limit: usize,
    live: Option<&str>,
) -> Result<(Plan, RootQuery), ApiError> {
    let now = crate::text::now_ms();
    let start = parse_time(req.start.as_ref(), "24hours", now)?;
    // The end is inclusive of "now": events stamped this very millisecond count.
    let end = parse_time(req.end.as_ref(), "now", now)?.saturating_add(1);
    if end <= start {
        return Err(ApiError::bad_request(
            "the time range is empty: end must be after start",
        ));
    }
    let q = RootQuery {
        repo: repo.to_string(),
        query_string: req.query_string.clone(),
        arguments: req.arguments.clone(),
        options: PlanOptions {
            start,
            end,
            default_limit,
            zone: req.time_zone,
        },
        live: live.map(|id| LiveSpec::new(id, end - start)),
        files: crate::search::domain::domain_files(&node.global, repo),
        view: None,
    };
    Ok((q.compile()?, q))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn req(v: Value) -> Result<Request, String> {
        parse_request(v.to_string().as_bytes()).map_err(|e| e.message)
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

    #[test]
    fn zones_and_parameters_are_checked_by_name() {
        let r = req(json!({"queryString": "x", "timeZone": "Europe/Copenhagen"})).unwrap();
        assert_eq!(r.time_zone, Zone::Named(chrono_tz::Europe::Copenhagen));
        let r = req(json!({"timeZoneOffsetMinutes": -300})).unwrap();
        assert_eq!(r.time_zone, Zone::from_offset_minutes(-300).unwrap());
        let r = req(json!({"timeZone": "UTC", "timeZoneOffsetMinutes": 60})).unwrap();
        assert_eq!(r.time_zone, Zone::UTC, "timeZone wins");
        assert_eq!(req(json!({})).unwrap().time_zone, Zone::UTC);
        let e = req(json!({"timeZone": "Mars/Olympus"})).err().unwrap();
        assert!(e.contains("Mars/Olympus") && e.contains("timeZone"), "{e}");
        let e = req(json!({"timeZoneOffsetMinutes": 5000})).err().unwrap();
        assert!(e.contains("timeZoneOffsetMinutes"), "{e}");
        for p in ["ingestStart", "ingestEnd", "around"] {
            let e = req(json!({p: "1h"})).err().unwrap();
            assert!(e.starts_with(p), "{e}");
        }
        let e = req(json!({"allowEventSkipping": "yes"})).err().unwrap();
        assert!(e.contains("allowEventSkipping"), "{e}");
        assert!(
            req(json!({"allowEventSkipping": true}))
                .unwrap()
                .allow_event_skipping
        );
        let e = req(json!({"isLive": 1})).err().unwrap();
        assert!(e.contains("isLive"), "{e}");
    }
}
