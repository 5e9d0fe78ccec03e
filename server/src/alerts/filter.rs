//! Filter alerts: every event the query keeps triggers once (at least once; the promise is
//! in the module docs of `alerts`). Each evaluation searches the ingest-time window from the
//! cursor to `now − D`, halving the window while the search returns a full batch (so no event
//! is cut off by the list limit), and walks the events in `(@ingesttimestamp, @id)` order,
//! moving the cursor past each one whose actions ran or that throttling dropped.

use std::collections::HashMap;
use std::str::FromStr;

use serde_json::{Map, Value};
use strata_global::Global;
use strata_segment::EventId;

use super::evaluator::{fire, trigger, triggered, Env, Runner, Step};
use super::model::{AlertState, StoredAlert};
use super::{AlertError, RowsFound, FILTER_LOOKBACK_MS};
use crate::metrics;

/// Events one search hands over; a full batch splits the window.
pub(super) const BATCH: usize = 10_000;
/// How long an alert waits for a search without warnings before evaluating what it has.
const WAIT_FOR_COMPLETE_MS: i64 = 600_000;

/// Whether filter alerts must wait because some ingest partition's events may not be
/// searchable yet: it has no live digest node, or it changed nodes less than D ago (the new
/// digest node is re-reading it).
#[derive(Default)]
pub(super) struct PartitionWatch {
    seen: HashMap<u32, (Vec<u32>, i64)>,
}

impl PartitionWatch {
    pub fn hold(
        &mut self,
        global: &Global,
        live: &[u32],
        now: i64,
        delay_ms: i64,
    ) -> Option<String> {
        let parts: Vec<(u32, Vec<u32>)> = global.read(|s| {
            s.partitions
                .iter()
                .map(|(p, i)| (*p, i.nodes.clone()))
                .collect()
        });
        let mut reason = None;
        for (p, nodes) in parts {
            let seen = self.seen.entry(p).or_insert_with(|| (nodes.clone(), now));
            if seen.0 != nodes {
                *seen = (nodes.clone(), now);
            }
            if reason.is_some() {
                continue;
            }
            match nodes.first() {
                Some(n) if live.contains(n) => {}
                _ => reason = Some(format!("ingest partition {p} has no live digest node")),
            }
            if reason.is_none() && now - seen.1 < delay_ms {
                reason = Some(format!(
                    "ingest partition {p} changed digest node {} ms ago",
                    now - seen.1
                ));
            }
        }
        reason
    }
}

/// A field of a result row as text ("" when absent).
pub(super) fn field_value(row: &Map<String, Value>, field: &str) -> String {
    match row.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// An event's place in the filter alert's order.
type Key = (i64, EventId);

fn key_of(row: &Map<String, Value>) -> Result<Key, AlertError> {
    let lost = || {
        AlertError::Invalid(
            "a filter alert's query must keep the fields @ingesttimestamp and @id of its events"
                .into(),
        )
    };
    let ingest = field_value(row, "@ingesttimestamp")
        .parse::<i64>()
        .map_err(|_| lost())?;
    let id = EventId::from_str(&field_value(row, "@id")).map_err(|_| lost())?;
    Ok((ingest, id))
}

/// Where a filter alert's next window starts: its cursor (the alert's creation before the
/// first evaluation) and the last `@id` done at exactly that ingest time.
pub(super) fn start(
    alert: &StoredAlert,
    st: &AlertState,
) -> Result<(i64, Option<EventId>), AlertError> {
    let lo = st.cursor.unwrap_or(alert.spec.created_ms);
    let done_at_lo = match &st.cursor_id {
        Some(id) => Some(EventId::from_str(id).map_err(AlertError::Invalid)?),
        None => None,
    };
    Ok((lo, done_at_lo))
}

/// The evaluation's answer while events may still be missing: try again next poll, and
/// fail (so users see why) after [`WAIT_FOR_COMPLETE_MS`].
pub(super) fn waiting(r: &mut Runner, now: i64, next: i64, why: &str) -> Result<Step, AlertError> {
    let since = *r.incomplete_since.get_or_insert(now);
    if now - since >= WAIT_FOR_COMPLETE_MS {
        return Err(AlertError::Incomplete(format!(
            "waiting since {}: {why}",
            super::templates::iso(since)
        )));
    }
    Ok(Step {
        next_due: next,
        partial: None,
        keep_error: true,
    })
}

/// Searches `query` (a filter) over the ingest-time window `[lo, hi]` of `repo`, halving
/// the window while the search returns a full batch; the window's end and what it found.
pub(super) async fn window(
    env: &Env,
    repo: &str,
    query: &str,
    lo: i64,
    hi: i64,
    evaluated: u64,
) -> Result<(i64, RowsFound), AlertError> {
    let mut top = hi;
    loop {
        let q = format!("@ingesttimestamp >= {lo} | @ingesttimestamp <= {top} | {query}");
        let f = env
            .search_rows(
                repo,
                &q,
                lo - FILTER_LOOKBACK_MS,
                top + FILTER_LOOKBACK_MS,
                BATCH,
                evaluated,
            )
            .await?;
        if f.rows.len() >= BATCH && top > lo {
            top = lo + (top - lo) / 2;
            continue;
        }
        return Ok((top, f));
    }
}

pub(super) async fn evaluate(
    env: &Env,
    alert: &StoredAlert,
    st: &mut AlertState,
    r: &mut Runner,
    hold: Option<&str>,
    now: i64,
) -> Result<Step, AlertError> {
    let next = now + env.poll_ms;
    if let Some(why) = hold {
        tracing::debug!(alert = %alert.id, %why, "filter alert waits");
        return waiting(r, now, next, why);
    }
    let (lo, done_at_lo) = start(alert, st)?;
    let hi = now - env.delay_ms;
    if hi <= lo {
        return Ok(Step::at(next));
    }
    let (top, found) = window(env, &alert.repo, &alert.spec.query_string, lo, hi, 1).await?;
    let full = found.rows.len() >= BATCH;
    let rows = found.rows.iter().map(|r| r.to_json()).collect();
    let w = Window {
        lo,
        done_at_lo,
        top,
        hi,
        full,
    };
    deliver(env, alert, st, r, &w, rows, &found.warnings, now).await
}

/// A filter alert's evaluated window: from its cursor (`lo`, and the `@id` done at `lo`) to
/// `top` (`hi` unless a full batch made the search halve it).
pub(super) struct Window {
    pub lo: i64,
    pub done_at_lo: Option<EventId>,
    pub top: i64,
    pub hi: i64,
    /// The search returned a full batch (in one millisecond: the window could not shrink).
    pub full: bool,
}

/// Triggers for the events `rows` the alert's query kept in its window `w` (events before
/// the cursor are skipped) and moves the cursor past them.
#[allow(clippy::too_many_arguments)]
pub(super) async fn deliver(
    env: &Env,
    alert: &StoredAlert,
    st: &mut AlertState,
    r: &mut Runner,
    w: &Window,
    rows: Vec<Map<String, Value>>,
    warnings: &[String],
    now: i64,
) -> Result<Step, AlertError> {
    let (lo, top) = (w.lo, w.top);
    let next = now + env.poll_ms;
    tracing::debug!(alert = %alert.id, lo, top, rows = rows.len(), warnings = warnings.len(), "filter alert window searched");
    let mut notes = Vec::new();
    if !warnings.is_empty() {
        let why = format!("the search is incomplete: {}", warnings.join("; "));
        let since = *r.incomplete_since.get_or_insert(now);
        if now - since < WAIT_FOR_COMPLETE_MS {
            return waiting(r, now, next, &why);
        }
        notes.push(format!("evaluated after waiting 10 minutes; {why}"));
    }
    r.incomplete_since = None;
    if w.full {
        notes.push(format!(
            "more than {BATCH} matching events were ingested in one millisecond; only {BATCH} were evaluated"
        ));
    }
    let done_at_lo = &w.done_at_lo;
    let mut events: Vec<(Key, Map<String, Value>)> = Vec::with_capacity(rows.len());
    for row in rows {
        let k = key_of(&row)?;
        let done = k.0 < lo
            || (k.0 == lo
                && match &done_at_lo {
                    Some(id) => k.1 <= *id,
                    None => true,
                });
        if !done {
            events.push((k, row));
        }
    }
    events.sort_by_key(|e| e.0);
    for ((ingest, id), row) in events {
        let spec = &alert.spec;
        let throttled = match &spec.throttle_field {
            None => st.throttled_until(spec, now).is_some(),
            Some(f) => {
                st.prune_throttle(spec, now);
                st.value_throttled(spec, &field_value(&row, f), now)
            }
        };
        if throttled {
            metrics::ALERTS_THROTTLED.inc();
        } else {
            let rows = vec![row];
            let window = (lo, top);
            let configured = ("cursor".to_string(), format!("now-{}ms", env.delay_ms));
            let t = trigger(env, alert, window, configured, rows.clone(), now);
            // An error here leaves the cursor before this event: it is retried.
            if let Some(p) = fire(env, alert, &t).await? {
                if !notes.contains(&p) {
                    notes.push(p);
                }
            }
            triggered(spec, st, &rows, now);
        }
        st.cursor = Some(ingest);
        st.cursor_id = Some(id.to_string());
    }
    st.cursor = Some(top);
    st.cursor_id = None;
    Ok(Step {
        next_due: if top < w.hi { now } else { next },
        partial: (!notes.is_empty()).then(|| notes.join("; ")),
        keep_error: false,
    })
}
