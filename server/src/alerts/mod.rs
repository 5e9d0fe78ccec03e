//! Alerts, scheduled searches and actions (LogScale's model and names).
//!
//! Users configure, per repository, **actions** (webhook, Slack, email, ingest into a
//! repository, PagerDuty, Opsgenie) and three kinds of **trigger** that fire them:
//! - **aggregate alerts**: an aggregate query over the last `searchIntervalSeconds`, run every
//!   `--alert-poll-interval-ms`; a result with rows triggers, throttled by
//!   `throttleTimeSeconds` (for the whole alert, or per value of `throttleField`);
//! - **filter alerts**: every event the (non-aggregate) query keeps triggers once, throttled
//!   the same way;
//! - **scheduled searches**: a query over a relative window run on a cron schedule in a time
//!   zone, with missed runs backfilled after an outage (`schedule.rs`).
//!
//! Everything is in Global (`model.rs`): the configuration as items of kind `Alert`/`Action`,
//! and the evaluator's state (last triggered, last error, throttle state, filter progress,
//! last scheduled run) as a sibling item per alert — so any node can show it and a node that
//! takes over resumes where the last one stopped.
//!
//! **One evaluator per alert** (`owner.rs`): every node runs [`run`]; each evaluates exactly
//! the alerts whose rendezvous hash over the live nodes picks it. When that node stops
//! heartbeating for `--node-timeout-ms` the others see it offline and the next node in the
//! hash order takes its alerts over. While two nodes' views of membership differ (for at most
//! about a node timeout) both may evaluate an alert; the state item's version makes the
//! second writer's update fail, and it re-reads. Queries run through the search root
//! (`NodeCtx::root()`), so they cover the whole cluster.
//!
//! **Filter alerts deliver at least once**, precisely: an evaluation covers events by
//! *ingest* time (`@ingesttimestamp`, as LogScale's filter alerts do) from the stored cursor
//! up to `now − --alert-ingest-delay-ms` (D), in `(@ingesttimestamp, @id)` order. The cursor in
//! Global advances past an event only after the actions for it ran (at least one action
//! succeeded, LogScale's rule) or throttling dropped it, and only over a window whose search
//! reported no missing data (no warnings). The evaluator does not evaluate at all while some
//! ingest partition has no live digest node, nor for D after it saw a partition change nodes.
//! So every acknowledged event triggers at least once when (a) it became searchable within D
//! of the later of its ingest time and the last reassignment of its partition (digest
//! normally takes milliseconds; a digest that falls behind by more than D can miss events),
//! and (b) its `@timestamp` is within 24 hours of its ingest time (the search's time range).
//! Events ingested before the alert was created are not evaluated. An event triggers twice
//! only when the evaluating node stopped, or lost the race for the state item, between
//! running the actions and recording the cursor — the next evaluator repeats that window. A
//! window whose search keeps warning for 10 minutes is evaluated as it is, and the alert's
//! last error says so. Cursor progress over windows without triggers is written to Global at
//! most once a minute (re-evaluating such a window triggers nothing new).
//!
//! **Errors and retries**: a failing query or action is the alert's `lastError` (and an event
//! in the `humio-activity` repository, `activity.rs`); actions retry in place (`actions.rs`)
//! and the alert then retries on a backoff (1 s doubling to 5 min); the next success clears
//! the error. Counters: `strata_alerts_*` in `/metrics`.

pub mod actions;
mod activity;
mod evaluator;
mod filter;
pub mod model;
pub mod owner;
pub mod schedule;
mod shared;
pub mod templates;

use std::collections::HashMap;
use std::sync::Arc;

use crate::ctx::NodeCtx;
use crate::query::PlanOptions;
use crate::search::root::RootQuery;
use crate::search::Progress;

pub use evaluator::run;

/// How far back of a filter alert's ingest-time window its search looks by `@timestamp`.
pub const FILTER_LOOKBACK_MS: i64 = 24 * 3_600_000;

/// Why configuring or evaluating an alert failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AlertError {
    /// Bad configuration; the message names the field.
    #[error("{0}")]
    Invalid(String),
    #[error("query failed: {0}")]
    Query(String),
    #[error("query result is incomplete: {0}")]
    Incomplete(String),
    #[error("action {name:?} failed: {source}")]
    Action {
        name: String,
        source: actions::ActionError,
    },
    #[error("action {0:?} does not exist")]
    MissingAction(String),
    #[error("metadata store: {0}")]
    Global(String),
}

/// A query's result rows (as LogScale's JSON events) and its warnings.
pub struct Found {
    pub rows: Vec<serde_json::Map<String, serde_json::Value>>,
    pub warnings: Vec<String>,
}

/// A query's result rows as rows (for testing each filter alert of a shared search on them).
pub struct RowsFound {
    pub rows: Vec<crate::query::Row>,
    pub warnings: Vec<String>,
}

impl From<RowsFound> for Found {
    fn from(f: RowsFound) -> Found {
        Found {
            rows: f.rows.iter().map(|r| r.to_json()).collect(),
            warnings: f.warnings,
        }
    }
}

/// Runs `query` over `[start, end)` of the search domain `repo` (a repository or a view) on
/// the whole cluster; the rows as rows.
pub async fn search_rows(
    ctx: &NodeCtx,
    repo: &str,
    query: &str,
    start: i64,
    end: i64,
    default_limit: usize,
) -> Result<RowsFound, AlertError> {
    let q = RootQuery {
        repo: repo.to_string(),
        query_string: query.to_string(),
        arguments: HashMap::new(),
        options: PlanOptions {
            start,
            end,
            default_limit,
            zone: crate::query::Zone::UTC,
        },
        live: None,
        files: crate::search::domain::domain_files(&ctx.global, repo),
        view: None,
    };
    let plan = Arc::new(q.compile().map_err(|e| AlertError::Query(e.to_string()))?);
    crate::metrics::ALERT_SEARCHES.inc();
    let g = ctx
        .root()
        .search_domain(
            plan.clone(),
            &q,
            Arc::new(Progress::default()),
            Box::new(|| {}),
        )
        .await
        .map_err(|e| AlertError::Query(e.to_string()))?;
    let res = crate::search::finish(&plan, g.state);
    let mut warnings = g.warnings;
    warnings.extend(res.warnings);
    Ok(RowsFound {
        rows: res.rows,
        warnings,
    })
}

/// Checks a query for an alert: it must parse and compile, and be an aggregate (or not).
pub fn check_query(query: &str, want_aggregate: Option<bool>) -> Result<(), AlertError> {
    if query.trim().is_empty() {
        return Err(AlertError::Invalid("queryString must not be empty".into()));
    }
    if query.len() > 64 << 10 {
        return Err(AlertError::Invalid(
            "queryString is longer than 64 KiB".into(),
        ));
    }
    let parsed = crate::query::parse(query)
        .map_err(|e| AlertError::Invalid(format!("queryString: query parse error: {e}")))?;
    let plan = crate::query::compile(
        &parsed,
        PlanOptions {
            start: 0,
            end: 1,
            default_limit: 200,
            zone: crate::query::Zone::UTC,
        },
    )
    .map_err(|e| AlertError::Invalid(format!("queryString: {e}")))?;
    match want_aggregate {
        Some(true) if !plan.is_aggregate() => Err(AlertError::Invalid(
            "queryString: an aggregate alert needs an aggregate query (e.g. `| count()`); use a filter alert for single events".into(),
        )),
        Some(false) if plan.is_aggregate() => Err(AlertError::Invalid(
            "queryString: a filter alert cannot use aggregate functions; use an aggregate alert".into(),
        )),
        _ => Ok(()),
    }
}

/// A relative time (`1h`, `now`, `30m`) as milliseconds before now.
pub fn relative_ms(s: &str, what: &str) -> Result<i64, AlertError> {
    let v = serde_json::Value::String(s.to_string());
    crate::api::query::parse_time(Some(&v), "", 0)
        .map(|t| -t)
        .map_err(|e| AlertError::Invalid(format!("{what}: {}", e.message)))
        .and_then(|ms| {
            if ms < 0 {
                Err(AlertError::Invalid(format!(
                    "{what} {s:?} must be a relative time like 1h or now"
                )))
            } else {
                Ok(ms)
            }
        })
}

/// Sends a sample trigger through `action` (GraphQL `testAction`): `events` (or one sample
/// event) as the trigger's events, `trigger_name` as the alert's name.
pub async fn test_action(
    ctx: &Arc<NodeCtx>,
    action: &model::StoredAction,
    trigger_name: &str,
    events: Vec<serde_json::Map<String, serde_json::Value>>,
) -> Result<(), actions::ActionError> {
    let now = crate::text::now_ms();
    let events = if events.is_empty() {
        let mut e = serde_json::Map::new();
        e.insert("@timestamp".into(), now.into());
        e.insert("@rawstring".into(), "this is a test event".into());
        e.insert("message".into(), "this is a test event".into());
        vec![e]
    } else {
        events
    };
    let t = templates::Trigger {
        alert_id: "test".into(),
        alert_name: trigger_name.to_string(),
        alert_description: "A test of the action".into(),
        alert_type: "TestAction".into(),
        repo: action.repo.clone(),
        query_string: "test".into(),
        query_time_start: "5m".into(),
        query_time_end: "now".into(),
        query_start_ms: now - 300_000,
        query_end_ms: now,
        triggered_ms: now,
        events,
        warnings: Vec::new(),
        base_url: ctx.cfg.advertise_url.clone(),
    };
    actions::Sender::new(actions::Smtp::from_config(&ctx.cfg))
        .send(ctx, action, &t)
        .await
}
