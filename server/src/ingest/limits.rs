//! What one ingest request may ask of a node: events per request, tag names, datasources per
//! repository (LogScale's limit, 10,000), event size and field count (LogScale truncates and
//! flags those), and ingest bytes in flight (answered 429 past the limit). Every refusal
//! names the limit and the flag that sets it, so a shipper's operator knows what to change.
//!
//! Datasources are counted from Global plus the new ones this node admitted that Global does
//! not list yet: a new datasource reaches Global only when its first mini segment is
//! announced (up to `--mini-max-age-secs` later), and a burst of distinct tag combinations
//! must not open unbounded work-in-progress buffers in the meantime.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use strata_global::{datasource_key, Global};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::{Batch, QueuedEvent};
use crate::queue::QueueError;

/// The ingest limits of a node (see the `--max-*` flags in `config.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestLimits {
    /// Events in one request.
    pub max_events_per_request: usize,
    /// Datasources (distinct tag combinations) in one repository.
    pub max_datasources_per_repo: usize,
    /// Bytes of one event (`@rawstring` plus fields); larger events are truncated and flagged.
    pub max_event_bytes: usize,
    /// Fields of one event; the rest are dropped (in name order) and the event is flagged.
    pub max_event_fields: usize,
    /// Request body bytes being handled at once; past it requests are answered 429.
    pub max_ingest_bytes_in_flight: usize,
    /// How long a datasource this node admitted may stay unknown to Global before it stops
    /// counting (its buffer closes within `--mini-max-age-secs`; a dropped one never arrives).
    pub pending_ttl: Duration,
}

impl IngestLimits {
    /// The node's limits from its configuration.
    pub fn from_config(cfg: &crate::config::Config) -> IngestLimits {
        let l = &cfg.limits;
        IngestLimits {
            max_events_per_request: l.max_events_per_request,
            max_datasources_per_repo: l.max_datasources_per_repo,
            max_event_bytes: l.max_event_bytes,
            max_event_fields: l.max_event_fields,
            // One largest request always fits.
            max_ingest_bytes_in_flight: l.max_ingest_bytes_in_flight.max(cfg.max_body_bytes),
            pending_ttl: Duration::from_secs(cfg.mini_max_age_secs.saturating_add(60)),
        }
    }
}

impl Default for IngestLimits {
    fn default() -> Self {
        let l = crate::config::Limits::default();
        IngestLimits {
            max_events_per_request: l.max_events_per_request,
            max_datasources_per_repo: l.max_datasources_per_repo,
            max_event_bytes: l.max_event_bytes,
            max_event_fields: l.max_event_fields,
            max_ingest_bytes_in_flight: l.max_ingest_bytes_in_flight,
            pending_ttl: Duration::from_secs(1800 + 60),
        }
    }
}

/// Why an ingest request was refused (before anything was published) or failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the request has {count} events; at most {limit} are accepted per request (--max-events-per-request)")]
    TooManyEvents { count: usize, limit: usize },
    #[error("tag name {name:?} is not allowed: tag names cannot contain '=' or the control character U+001F, and cannot be empty")]
    BadTagName { name: String },
    #[error("the value of tag {name:?} contains the control character U+001F, which tag values cannot contain")]
    BadTagValue { name: String },
    #[error("repository {repo:?} has reached its limit of {limit} datasources (distinct tag combinations, --max-datasources-per-repo); the request would add {new} more: use fewer tag values, or move high-cardinality tags into fields")]
    TooManyDatasources {
        repo: String,
        limit: usize,
        new: usize,
    },
    #[error("{in_flight_limit} bytes of ingest requests are already being handled (--max-ingest-bytes-in-flight); retry later")]
    Busy { in_flight_limit: usize },
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl IngestError {
    /// The HTTP status of the error: a client mistake is a 4xx; only a queue that could not
    /// store the events is a 503.
    pub fn status(&self) -> StatusCode {
        match self {
            IngestError::TooManyEvents { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::BadTagName { .. }
            | IngestError::BadTagValue { .. }
            | IngestError::TooManyDatasources { .. } => StatusCode::BAD_REQUEST,
            IngestError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            IngestError::Queue(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl From<IngestError> for crate::api::ApiError {
    fn from(e: IngestError) -> Self {
        match e {
            IngestError::Queue(q) => q.into(),
            other => crate::api::ApiError::new(other.status(), other.to_string()),
        }
    }
}

/// The admission state an [`super::Ingester`] shares across requests.
pub struct Admission {
    pub limits: IngestLimits,
    global: Option<Global>,
    /// Datasource keys admitted by this node that Global did not list yet, per repository,
    /// with when they were first admitted. At most `max_datasources_per_repo` per repository.
    pending: Mutex<HashMap<String, HashMap<String, Instant>>>,
    in_flight: Arc<Semaphore>,
}

impl Admission {
    /// `global` is None only where no Global exists (unit tests): then datasources are not
    /// counted.
    pub fn new(limits: IngestLimits, global: Option<Global>) -> Admission {
        let permits = limits
            .max_ingest_bytes_in_flight
            .clamp(1, Semaphore::MAX_PERMITS);
        Admission {
            limits,
            global,
            pending: Mutex::new(HashMap::new()),
            in_flight: Arc::new(Semaphore::new(permits)),
        }
    }

    /// Reserves `bytes` of the in-flight budget for one request, or refuses it at once (429):
    /// a node at its limit sheds load instead of queueing bodies in memory. A request larger
    /// than the whole budget waits for nothing else and takes all of it.
    pub fn reserve(&self, bytes: usize) -> Result<OwnedSemaphorePermit, IngestError> {
        let limit = self.limits.max_ingest_bytes_in_flight;
        let n = bytes.clamp(1, limit.clamp(1, Semaphore::MAX_PERMITS)) as u32;
        match self.in_flight.clone().try_acquire_many_owned(n) {
            Ok(p) => Ok(p),
            Err(TryAcquireError::NoPermits) | Err(TryAcquireError::Closed) => {
                crate::metrics::INGEST_REJECTED.inc();
                Err(IngestError::Busy {
                    in_flight_limit: limit,
                })
            }
        }
    }

    /// Checks a request's batches before anything is published: event count, tag names and
    /// values, and the repository's datasource budget; then truncates oversized events.
    pub fn admit(&self, repo: &str, batches: &mut [Batch]) -> Result<(), IngestError> {
        let count: usize = batches.iter().map(|b| b.events.len()).sum();
        if count > self.limits.max_events_per_request {
            return Err(IngestError::TooManyEvents {
                count,
                limit: self.limits.max_events_per_request,
            });
        }
        for b in batches.iter() {
            check_tags(&b.tags)?;
        }
        self.check_datasources(repo, batches)?;
        for b in batches.iter_mut() {
            for e in b.events.iter_mut() {
                cap_event(e, self.limits.max_event_fields, self.limits.max_event_bytes);
            }
        }
        Ok(())
    }

    fn check_datasources(&self, repo: &str, batches: &[Batch]) -> Result<(), IngestError> {
        let Some(global) = &self.global else {
            return Ok(());
        };
        let limit = self.limits.max_datasources_per_repo;
        let mut keys: Vec<String> = batches
            .iter()
            .filter(|b| !b.events.is_empty())
            .map(|b| datasource_key(repo, &b.tags))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        let mine = pending.entry(repo.to_string()).or_default();
        let unknown: Vec<String> = global.read(|s| {
            keys.into_iter()
                .filter(|k| !s.datasources.contains_key(k) && !mine.contains_key(k))
                .collect()
        });
        if unknown.is_empty() {
            return Ok(());
        }
        // Only a request that brings new datasources pays for counting the repository's.
        let ttl = self.limits.pending_ttl;
        let known = global.read(|s| {
            mine.retain(|k, at| at.elapsed() < ttl && !s.datasources.contains_key(k));
            s.datasources.values().filter(|d| d.repo == repo).count()
        });
        if known + mine.len() + unknown.len() > limit {
            return Err(IngestError::TooManyDatasources {
                repo: repo.to_string(),
                limit,
                new: unknown.len(),
            });
        }
        let now = Instant::now();
        for k in unknown {
            mine.insert(k, now);
        }
        Ok(())
    }
}

/// Tag names become part of the datasource key (`repo\x1fname=value...`): a name with `=` or
/// `\x1f`, or a value with `\x1f`, would make two tag sets share one key.
fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), IngestError> {
    for (n, v) in tags {
        if n.is_empty() || n.contains(['=', '\u{1f}']) {
            return Err(IngestError::BadTagName { name: n.clone() });
        }
        if v.contains('\u{1f}') {
            return Err(IngestError::BadTagValue { name: n.clone() });
        }
    }
    Ok(())
}

/// LogScale's per-event limits: past `max_fields` the fields after the first `max_fields` in
/// name order are dropped; past `max_bytes` every field is dropped and `@rawstring` is cut to
/// fit with `...` appended. Either way the event says so in `@error` / `@error_msg` (the
/// raw string keeps the whole event in the first case).
pub fn cap_event(e: &mut QueuedEvent, max_fields: usize, max_bytes: usize) {
    let mut msgs = Vec::new();
    if e.fields.len() > max_fields {
        e.fields.sort_by(|a, b| a.0.cmp(&b.0));
        let dropped = e.fields.len() - max_fields;
        e.fields.truncate(max_fields);
        msgs.push(format!(
            "{dropped} field(s) dropped: an event has at most {max_fields} fields (--max-event-fields)"
        ));
    }
    let size = e.raw.len()
        + e.fields
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>();
    if size > max_bytes {
        e.fields.clear();
        let keep = max_bytes.saturating_sub(3);
        let mut cut = keep.min(e.raw.len());
        while !e.raw.is_char_boundary(cut) {
            cut -= 1;
        }
        e.raw.truncate(cut);
        e.raw.push_str("...");
        msgs.push(format!(
            "event of {size} bytes truncated to {max_bytes} (--max-event-bytes): fields removed, @rawstring cut"
        ));
    }
    if !msgs.is_empty() {
        // Keep what an earlier stage (JSON flattening) said about the event.
        if let Some(i) = e.fields.iter().position(|(k, _)| k == "@error_msg") {
            let (_, earlier) = e.fields.swap_remove(i);
            msgs.insert(0, earlier);
        }
        e.fields.retain(|(k, _)| k != "@error");
        e.fields.push(("@error".into(), "true".into()));
        e.fields.push(("@error_msg".into(), msgs.join("; ")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(raw: &str, fields: usize) -> QueuedEvent {
        QueuedEvent {
            timestamp: 0,
            nanos: 0,
            raw: raw.into(),
            fields: (0..fields)
                .rev()
                .map(|i| (format!("f{i:05}"), "v".into()))
                .collect(),
        }
    }

    #[test]
    fn fields_past_the_limit_are_dropped_in_name_order_and_flagged() {
        let mut e = ev("x", 10);
        cap_event(&mut e, 4, 1 << 20);
        let names: Vec<&str> = e.fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "f00000",
                "f00001",
                "f00002",
                "f00003",
                "@error",
                "@error_msg"
            ]
        );
        assert!(
            e.fields[5].1.contains("6 field(s) dropped"),
            "{:?}",
            e.fields
        );
        assert_eq!(e.raw, "x");
    }

    #[test]
    fn an_oversized_event_is_cut_at_a_char_boundary_and_flagged() {
        let mut e = ev(&"é".repeat(100), 3);
        cap_event(&mut e, 100, 50);
        assert!(e.raw.len() <= 50, "{}", e.raw.len());
        assert!(e.raw.ends_with("..."));
        assert_eq!(e.fields[0], ("@error".to_string(), "true".to_string()));
        assert_eq!(e.fields.len(), 2);
    }

    #[test]
    fn events_within_the_limits_are_untouched() {
        let mut e = ev("hello", 3);
        let before = e.clone();
        cap_event(&mut e, 3, 1 << 20);
        assert_eq!(e, before);
    }

    #[test]
    fn ambiguous_tag_names_are_refused() {
        for bad in ["a=b", "a\u{1f}b", ""] {
            let tags = BTreeMap::from([(bad.to_string(), "v".to_string())]);
            assert!(matches!(
                check_tags(&tags),
                Err(IngestError::BadTagName { .. })
            ));
        }
        let tags = BTreeMap::from([("host".to_string(), "a\u{1f}b".to_string())]);
        assert!(matches!(
            check_tags(&tags),
            Err(IngestError::BadTagValue { .. })
        ));
        let ok = BTreeMap::from([("host".to_string(), "a=b".to_string())]);
        assert!(check_tags(&ok).is_ok());
    }

    #[test]
    fn the_in_flight_budget_refuses_at_once_and_frees_on_drop() {
        let a = Admission::new(
            IngestLimits {
                max_ingest_bytes_in_flight: 100,
                ..IngestLimits::default()
            },
            None,
        );
        let p = a.reserve(80).unwrap();
        assert!(matches!(a.reserve(30), Err(IngestError::Busy { .. })));
        drop(p);
        // Larger than the budget: takes all of it rather than never fitting.
        let all = a.reserve(1000).unwrap();
        assert!(a.reserve(1).is_err());
        drop(all);
        assert!(a.reserve(1).is_ok());
    }
}
