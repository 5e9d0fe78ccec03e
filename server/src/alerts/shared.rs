//! Filter alerts of one repository evaluated together: one search per poll for all of them,
//! not one each. A thousand filter alerts each searching the fresh events every poll cost a
//! thousand scans of the same blocks (and a thousand plans, segment lists and WIP walks); the
//! shared search runs `(q1) or (q2) or …` over the union of their windows once — the OR of
//! many `field=value` alerts compiles to one set lookup per event (`CFilter::OneOf`) — and
//! each alert then tests its own query on the few rows that came back.
//!
//! Only alerts whose query is one filter expression share (`user=x`, `"timeout" status>=500`,
//! `a or not b`): the OR of those is exactly the union of their matches. A query with more
//! stages (`| regex(...)`, an assignment) is evaluated alone, and so is an alert whose cursor
//! is more than [`MAX_LAG_MS`] behind (catching up after an outage or when just enabled with an
//! old cursor), so one late alert does not stretch everyone's window. Delivery, throttling,
//! the cursor and the at-least-once promise are per alert, exactly as alone (`filter.rs`):
//! the shared window ends where the halving on full batches put it, and an alert whose
//! cursor is already past that end waits for the next poll.

use std::collections::{HashMap, HashSet};

use super::evaluator::{current_state, record, Env, Runner, Step};
use super::filter::{self, Window};
use super::model::{AlertKind, StoredAlert};
use super::AlertError;
use crate::query::{CFilter, PlanOptions, Zone};

/// How far behind `now − D` an alert's cursor may be and still share the search.
pub const MAX_LAG_MS: i64 = 10 * 60_000;
/// Alerts per shared search (a bound on the query's size).
const MAX_MEMBERS: usize = 2_000;

/// What became of an alert offered to [`Groups::offer`].
pub(super) enum Offer {
    /// In its repository's group.
    Taken,
    /// Evaluated on its own.
    Alone(StoredAlert, Runner),
    /// Not this tick: its repository's shared search is still running.
    Wait(StoredAlert, Runner),
}

/// The filter alerts due this tick that share a search, by repository.
#[derive(Default)]
pub(super) struct Groups {
    by_repo: HashMap<String, Vec<(StoredAlert, Runner)>>,
}

impl Groups {
    /// Takes `alert` into its repository's group when it can share. An alert that could
    /// share while its repository's last shared search still runs (`sharing`) waits for the
    /// next tick, so the repository's alerts stay one group and new events are searched once.
    pub fn offer(
        &mut self,
        alert: StoredAlert,
        r: Runner,
        now: i64,
        delay_ms: i64,
        sharing: &HashSet<String>,
    ) -> Offer {
        if !matches!(alert.spec.kind, AlertKind::Filter) || shared_filter(&alert).is_none() {
            return Offer::Alone(alert, r);
        }
        let st = current_state(&alert, &r);
        let lo = st.cursor.unwrap_or(alert.spec.created_ms);
        if now - delay_ms - lo > MAX_LAG_MS {
            return Offer::Alone(alert, r);
        }
        if sharing.contains(&alert.repo) {
            return Offer::Wait(alert, r);
        }
        self.by_repo
            .entry(alert.repo.clone())
            .or_default()
            .push((alert, r));
        Offer::Taken
    }

    /// True when a group for `repo` formed this tick.
    pub fn has(&self, repo: &str) -> bool {
        self.by_repo.contains_key(repo)
    }

    /// The groups, each at most [`MAX_MEMBERS`] alerts.
    pub fn take(self) -> Vec<(String, Vec<(StoredAlert, Runner)>)> {
        let mut out = Vec::new();
        for (repo, mut members) in self.by_repo {
            while members.len() > MAX_MEMBERS {
                let rest = members.split_off(MAX_MEMBERS);
                out.push((repo.clone(), members));
                members = rest;
            }
            out.push((repo, members));
        }
        out
    }
}

/// Whether a filter alert not yet due (in `due_in_ms`) may be evaluated now with its
/// repository's group: it would be within a poll anyway, and it is not backing off after a
/// failure.
pub(super) fn may_join_early(
    alert: &StoredAlert,
    r: &Runner,
    due_in_ms: i64,
    poll_ms: i64,
) -> bool {
    matches!(alert.spec.kind, AlertKind::Filter)
        && due_in_ms <= poll_ms
        && current_state(alert, r).failures == 0
}

/// The alert's query as one filter (what it keeps of an event), when it is one filter
/// expression that stays itself in parentheses.
fn shared_filter(alert: &StoredAlert) -> Option<CFilter> {
    use crate::query::ast::Stage;
    let q = &alert.spec.query_string;
    let one_filter = |s: &str| {
        crate::query::parse(s)
            .ok()
            .filter(|p| p.stages.len() == 1 && matches!(p.stages[0], Stage::Filter(_)))
    };
    let plain = one_filter(q)?;
    let wrapped = one_filter(&format!("({q})"))?;
    if plain != wrapped {
        return None;
    }
    let opts = PlanOptions {
        start: 0,
        end: i64::MAX,
        default_limit: 1,
        zone: Zone::UTC,
    };
    let plan = crate::query::compile(&plain, opts).ok()?;
    // A filter that sets fields must run as its own query (the OR keeps only one branch's).
    (plan.prefix.is_empty() && !plan.leading.extracts()).then_some(plan.leading)
}

/// One member of a shared evaluation.
struct Member {
    alert: StoredAlert,
    r: Runner,
    filter: CFilter,
}

/// Evaluates a group of filter alerts of `repo` with one search, then each alert's delivery
/// on its own (concurrently: a slow webhook holds up its alert's triggers, not the others').
pub(super) async fn evaluate(
    env: &Env,
    repo: String,
    members: Vec<(StoredAlert, Runner)>,
    hold: Option<String>,
    now: i64,
) -> Vec<(String, Runner)> {
    let next = now + env.poll_ms;
    let hi = now - env.delay_ms;
    let mut ms = Vec::with_capacity(members.len());
    let mut out = Vec::new();
    for (alert, r) in members {
        match shared_filter(&alert) {
            Some(filter) => ms.push(Member { alert, r, filter }),
            // Edited between the offer and now: it runs alone next tick.
            None => out.push((alert.id, r)),
        }
    }
    // Each member's window start; members already at `hi` only reschedule.
    let mut starts = Vec::with_capacity(ms.len());
    for m in &ms {
        let st = current_state(&m.alert, &m.r);
        starts.push(filter::start(&m.alert, &st).map(|s| (st, s)));
    }
    let lo = starts
        .iter()
        .filter_map(|s| s.as_ref().ok().map(|(_, (lo, _))| *lo))
        .min();
    let searched = match (&hold, lo) {
        (None, Some(lo)) if lo < hi => {
            let q = ms
                .iter()
                .map(|m| format!("({})", m.alert.spec.query_string))
                .collect::<Vec<_>>()
                .join(" or ");
            tracing::debug!(%repo, alerts = ms.len(), lo, hi, "shared filter alert search");
            Some(filter::window(env, &repo, &q, lo, hi, ms.len() as u64).await)
        }
        _ => None,
    };
    let runs = ms.into_iter().zip(starts).map(|(mut m, start)| {
        let (hold, searched) = (hold.as_deref(), &searched);
        async move {
            let (st, res) = match start {
                Err(e) => (current_state(&m.alert, &m.r), Err(e)),
                Ok((mut st, (lo, done_at_lo))) => {
                    let res = match (hold, searched) {
                        (Some(why), _) => filter::waiting(&mut m.r, now, next, why),
                        _ if lo >= hi => Ok(Step::at(next)),
                        (None, Some(Err(e))) => Err(e.clone()),
                        // The shared window ended before this alert's cursor: next poll.
                        (None, Some(Ok((top, _)))) if *top < lo => Ok(Step::at(now)),
                        (None, Some(Ok((top, found)))) => {
                            let rows = found
                                .rows
                                .iter()
                                .filter(|row| m.filter.matches(*row))
                                .map(|row| row.to_json())
                                .collect();
                            let w = Window {
                                lo,
                                done_at_lo,
                                top: *top,
                                hi,
                                full: found.rows.len() >= filter::BATCH,
                            };
                            filter::deliver(
                                env,
                                &m.alert,
                                &mut st,
                                &mut m.r,
                                &w,
                                rows,
                                &found.warnings,
                                now,
                            )
                            .await
                        }
                        (None, None) => Err(AlertError::Query(
                            "the shared filter alert search did not run".into(),
                        )),
                    };
                    (st, res)
                }
            };
            record(env, &m.alert, st, &mut m.r, res, now).await;
            (m.alert.id, m.r)
        }
    });
    out.extend(futures::future::join_all(runs).await);
    out
}
