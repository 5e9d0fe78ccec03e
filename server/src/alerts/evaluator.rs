//! The evaluator loop every node runs: each tick it reads the alerts from Global, picks the
//! ones this node owns (`owner.rs`), and evaluates each that is due in its own task (a slow
//! webhook holds up only its alert). An evaluation's new state goes to Global when it matters
//! (a trigger, a changed error or throttle, a scheduled run) and otherwise at most once a
//! minute; in between, the task keeps it in memory, tied to the state item version it was
//! based on, and drops it when someone else wrote that item.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use strata_global::{GlobalEvent, ItemKind, Outcome};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::actions::{Sender, Smtp};
use super::model::{
    self, AlertKind, AlertSpec, AlertState, StoredAction, StoredAlert, TriggerMode,
};
use super::templates::Trigger;
use super::{activity, filter, owner, schedule, shared, AlertError};
use crate::ctx::NodeCtx;
use crate::metrics;

/// Idle progress is written to Global at most this often.
const LAZY_PUBLISH_MS: i64 = 60_000;
const MAX_BACKOFF_MS: i64 = 300_000;
/// Result rows an aggregate alert or scheduled search hands to its actions.
const RESULT_LIMIT: usize = 200;

/// What every evaluation shares.
pub(super) struct Env {
    pub ctx: Arc<NodeCtx>,
    pub sender: Sender,
    /// `--alert-ingest-delay-ms`.
    pub delay_ms: i64,
    /// `--alert-poll-interval-ms`.
    pub poll_ms: i64,
    /// Alert queries running at once on this node (see [`Env::search`]).
    pub searches: tokio::sync::Semaphore,
}

impl Env {
    /// [`Env::search_rows`] for one alert, the rows as LogScale's JSON events.
    pub async fn search(
        &self,
        repo: &str,
        query: &str,
        start: i64,
        end: i64,
        limit: usize,
    ) -> Result<super::Found, AlertError> {
        Ok(self
            .search_rows(repo, query, start, end, limit, 1)
            .await?
            .into())
    }

    /// [`super::search_rows`] counting `evaluated` alert evaluations, at most one per core at
    /// a time: each search already uses every core for its segments, and a thousand alerts
    /// falling due together must not start a thousand blocking scans that starve ingest. The
    /// permit is held for the search only (not while actions run), so a slow webhook still
    /// holds up only its alert.
    pub async fn search_rows(
        &self,
        repo: &str,
        query: &str,
        start: i64,
        end: i64,
        limit: usize,
        evaluated: u64,
    ) -> Result<super::RowsFound, AlertError> {
        let _permit = self
            .searches
            .acquire()
            .await
            .map_err(|e| AlertError::Query(format!("alert search slots closed: {e}")))?;
        metrics::ALERTS_EVALUATED.inc_by(evaluated);
        super::search_rows(&self.ctx, repo, query, start, end, limit).await
    }
}

/// In-memory bookkeeping of one alert this node evaluates.
#[derive(Default)]
pub(super) struct Runner {
    next_due: i64,
    /// The configuration version the schedule was computed for.
    version: u64,
    /// State not yet in Global, and the state item version it is based on.
    pending: Option<(Option<u64>, AlertState)>,
    last_publish: i64,
    /// Since when a filter alert has been waiting for complete results.
    pub incomplete_since: Option<i64>,
}

/// How an evaluation that did not fail ended.
pub(super) struct Step {
    pub next_due: i64,
    /// An action failed while others succeeded (the trigger counts), or a note for users.
    pub partial: Option<String>,
    /// Leave the last error as it is (nothing was evaluated).
    pub keep_error: bool,
}

impl Step {
    pub fn at(next_due: i64) -> Step {
        Step {
            next_due,
            partial: None,
            keep_error: false,
        }
    }
}

/// Runs until shutdown: evaluates the alerts this node owns.
pub async fn run(ctx: Arc<NodeCtx>, mut shutdown: watch::Receiver<bool>) {
    let env = Arc::new(Env {
        sender: Sender::new(Smtp::from_config(&ctx.cfg)),
        delay_ms: ctx.cfg.alert_ingest_delay_ms as i64,
        poll_ms: ctx.cfg.alert_poll_interval_ms as i64,
        searches: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
        ),
        ctx,
    });
    let me = env.ctx.cfg.node_id;
    let tick = Duration::from_millis((env.poll_ms as u64).clamp(50, 250));
    let mut idle: HashMap<String, Runner> = HashMap::new();
    // Per evaluation task: its alerts, and the repository when it is a shared search.
    let mut busy: HashMap<tokio::task::Id, (Vec<String>, Option<String>)> = HashMap::new();
    let mut tasks: JoinSet<Vec<(String, Runner)>> = JoinSet::new();
    let mut partitions = filter::PartitionWatch::default();
    let mut ticks: u64 = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        ticks += 1;
        while let Some(done) = tasks.try_join_next_with_id() {
            match done {
                Ok((tid, done)) => {
                    busy.remove(&tid);
                    idle.extend(done);
                }
                Err(e) => {
                    // A panicked evaluation: its alerts start afresh from Global next tick.
                    for id in busy.remove(&e.id()).unwrap_or_default().0 {
                        tracing::error!(alert = %id, error = %e, "alert evaluation panicked");
                    }
                }
            }
        }
        let now = crate::text::now_ms();
        let mut live = env.ctx.membership.live_nodes(&env.ctx.global);
        live.sort_unstable();
        let hold = partitions.hold(&env.ctx.global, &live, now, env.delay_ms);
        let alerts = env.ctx.global.read(|s| model::alerts(s, None));
        let running: HashSet<String> = busy.values().flat_map(|b| b.0.iter()).cloned().collect();
        let sharing: HashSet<String> = busy.values().filter_map(|b| b.1.clone()).collect();
        let mut mine = HashSet::new();
        let mut groups = shared::Groups::default();
        let mut early = Vec::new();
        for a in alerts {
            if !a.spec.enabled || owner::owner(&a.id, &live) != Some(me) {
                continue;
            }
            mine.insert(a.id.clone());
            if running.contains(&a.id) {
                continue;
            }
            let mut r = idle.remove(&a.id).unwrap_or_default();
            if r.version == 0 {
                tracing::info!(alert = %a.id, name = %a.name, kind = a.spec.kind.type_name(), "evaluating alert on this node");
            }
            if r.version != a.version {
                // New or edited: evaluate now with the new configuration.
                r.version = a.version;
                r.next_due = 0;
            }
            if r.next_due > now {
                if shared::may_join_early(&a, &r, r.next_due - now, env.poll_ms) {
                    early.push((a, r));
                } else {
                    idle.insert(a.id.clone(), r);
                }
                continue;
            }
            let (a, r) = match groups.offer(a, r, now, env.delay_ms, &sharing) {
                shared::Offer::Taken => continue,
                shared::Offer::Wait(a, r) => {
                    idle.insert(a.id.clone(), r);
                    continue;
                }
                shared::Offer::Alone(a, r) => (a, r),
            };
            let (env, hold) = (env.clone(), hold.clone());
            let id = a.id.clone();
            let h = tasks.spawn(async move { evaluate(&env, a, r, hold, now).await });
            busy.insert(h.id(), (vec![id], None));
        }
        // Filter alerts due within a poll join a group their repository already has this
        // tick, so a repository's alerts fall into step and share one search per poll.
        for (a, r) in early {
            if !groups.has(&a.repo) {
                idle.insert(a.id.clone(), r);
            } else if let shared::Offer::Alone(a, r) | shared::Offer::Wait(a, r) =
                groups.offer(a, r, now, env.delay_ms, &sharing)
            {
                idle.insert(a.id.clone(), r);
            }
        }
        for (repo, members) in groups.take() {
            let (env, hold) = (env.clone(), hold.clone());
            let ids = members.iter().map(|(a, _)| a.id.clone()).collect();
            let repo_of = Some(repo.clone());
            let h =
                tasks.spawn(async move { shared::evaluate(&env, repo, members, hold, now).await });
            busy.insert(h.id(), (ids, repo_of));
        }
        // Alerts that moved away or were disabled: forget the in-memory state (Global has
        // what matters; a later owner starts from there).
        idle.retain(|id, _| mine.contains(id));
        if ticks.is_multiple_of(240) {
            sweep_orphans(&env.ctx, &live).await;
        }
    }
}

/// Deletes state items whose alert was deleted (the owner of the alert id does it).
async fn sweep_orphans(ctx: &Arc<NodeCtx>, live: &[u32]) {
    let orphans = ctx.global.read(model::orphan_states);
    for (repo, id) in orphans {
        let alert = id.trim_end_matches(model::STATE_SUFFIX);
        if owner::owner(alert, live) == Some(ctx.cfg.node_id) {
            let _ = ctx
                .global
                .publish(GlobalEvent::DeleteItem {
                    repo,
                    kind: ItemKind::Alert,
                    id,
                })
                .await;
        }
    }
}

fn backoff_ms(failures: u32) -> i64 {
    (1000i64 << failures.saturating_sub(1).min(10)).min(MAX_BACKOFF_MS)
}

/// The state an evaluation of `alert` starts from: what this node has not yet written to
/// Global if it is based on the current state item, else Global's.
pub(super) fn current_state(alert: &StoredAlert, r: &Runner) -> AlertState {
    match &r.pending {
        Some((v, st)) if *v == alert.state_version => st.clone(),
        _ => alert.state.clone(),
    }
}

/// Evaluates one alert and records the outcome.
async fn evaluate(
    env: &Env,
    alert: StoredAlert,
    mut r: Runner,
    hold: Option<String>,
    now: i64,
) -> Vec<(String, Runner)> {
    let mut st = current_state(&alert, &r);
    let res = match &alert.spec.kind {
        AlertKind::Aggregate { .. } | AlertKind::Legacy { .. } => {
            aggregate(env, &alert, &mut st, &mut r, now).await
        }
        AlertKind::Filter => {
            filter::evaluate(env, &alert, &mut st, &mut r, hold.as_deref(), now).await
        }
        AlertKind::Scheduled { .. } => scheduled(env, &alert, &mut st, now).await,
    };
    record(env, &alert, st, &mut r, res, now).await;
    vec![(alert.id, r)]
}

/// Records how an evaluation ended: the error or its clearing, the schedule, the state.
pub(super) async fn record(
    env: &Env,
    alert: &StoredAlert,
    mut st: AlertState,
    r: &mut Runner,
    res: Result<Step, AlertError>,
    now: i64,
) {
    match res {
        Ok(step) => {
            st.failures = 0;
            if !step.keep_error {
                st.last_successful_poll = Some(now);
                st.last_error_time = step.partial.as_ref().map(|_| now);
                st.last_error = step.partial;
            }
            r.next_due = step.next_due;
        }
        Err(e) => {
            metrics::ALERTS_ERRORS.inc();
            tracing::warn!(alert = %alert.id, name = %alert.name, error = %e, "alert evaluation failed");
            st.failures = st.failures.saturating_add(1);
            st.last_error = Some(e.to_string());
            st.last_error_time = Some(now);
            r.next_due = now + backoff_ms(st.failures);
        }
    }
    if st.last_error != alert.state.last_error
        && (st.last_error.is_some() || alert.state.last_error.is_some())
    {
        activity::record(&env.ctx, alert, st.last_error.as_deref()).await;
    }
    publish(env, alert, st, r, now).await;
}

/// True when `a` and `b` differ in more than progress (which may be written lazily).
fn significant(a: &AlertState, b: &AlertState) -> bool {
    let strip = |s: &AlertState| AlertState {
        last_successful_poll: None,
        cursor: None,
        cursor_id: None,
        failures: 0,
        last_error_time: None,
        ..s.clone()
    };
    strip(a) != strip(b)
}

async fn publish(env: &Env, alert: &StoredAlert, st: AlertState, r: &mut Runner, now: i64) {
    let due = significant(&st, &alert.state)
        || (st != alert.state && now - r.last_publish >= LAZY_PUBLISH_MS);
    if !due {
        r.pending = (st != alert.state).then_some((alert.state_version, st));
        return;
    }
    let body = match serde_json::to_string(&st) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(alert = %alert.id, error = %e, "alert state does not encode");
            return;
        }
    };
    let ev = GlobalEvent::PutItem {
        repo: alert.repo.clone(),
        kind: ItemKind::Alert,
        id: model::state_id(&alert.id),
        name: alert.name.clone(),
        body,
        expected_version: alert.state_version,
    };
    match env.ctx.global.publish(ev).await {
        Ok((_, Outcome::Applied)) => {
            r.pending = None;
            r.last_publish = now;
        }
        Ok((_, Outcome::Rejected(why))) => {
            // Another evaluator (or a user clearing the error) wrote it: start from theirs.
            tracing::info!(alert = %alert.id, %why, "alert state changed elsewhere; re-reading");
            r.pending = None;
        }
        Err(e) => {
            tracing::warn!(alert = %alert.id, error = %e, "could not record alert state; retrying");
            r.pending = Some((alert.state_version, st));
        }
    }
}

/// The trigger a template sees.
pub(super) fn trigger(
    env: &Env,
    alert: &StoredAlert,
    window: (i64, i64),
    configured: (String, String),
    events: Vec<serde_json::Map<String, serde_json::Value>>,
    now: i64,
) -> Trigger {
    Trigger {
        alert_id: alert.id.clone(),
        alert_name: alert.name.clone(),
        alert_description: alert.spec.description.clone(),
        alert_type: alert.spec.kind.type_name().to_string(),
        repo: alert.repo.clone(),
        query_string: alert.spec.query_string.clone(),
        query_time_start: configured.0,
        query_time_end: configured.1,
        query_start_ms: window.0,
        query_end_ms: window.1,
        triggered_ms: now,
        events,
        warnings: Vec::new(),
        base_url: env.ctx.cfg.advertise_url.clone(),
    }
}

/// Runs the alert's actions for one trigger. Ok (with the failures of some, if any) when at
/// least one action succeeded or there are none; Err when every action failed.
pub(super) async fn fire(
    env: &Env,
    alert: &StoredAlert,
    t: &Trigger,
) -> Result<Option<String>, AlertError> {
    let all = env.ctx.global.read(|s| model::actions(s, &alert.repo));
    let mut errors = Vec::new();
    let mut chosen: Vec<&StoredAction> = Vec::new();
    for id in &alert.spec.action_ids {
        match all.iter().find(|a| &a.id == id) {
            Some(a) => chosen.push(a),
            None => errors.push(AlertError::MissingAction(id.clone())),
        }
    }
    let sent =
        futures::future::join_all(chosen.iter().map(|a| env.sender.send(&env.ctx, a, t))).await;
    let mut ok = 0;
    for (a, r) in chosen.iter().zip(sent) {
        match r {
            Ok(()) => ok += 1,
            Err(e) => {
                metrics::ALERTS_ACTION_FAILURES.inc();
                errors.push(AlertError::Action {
                    name: a.name.clone(),
                    source: e,
                });
            }
        }
    }
    if errors.is_empty() {
        return Ok(None);
    }
    if ok == 0 {
        if errors.len() == 1 {
            return Err(errors.remove(0));
        }
        let msg = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(AlertError::Invalid(msg));
    }
    Ok(Some(
        errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    ))
}

/// Drops the rows throttled at `now`; counts a fully throttled trigger.
fn unthrottled(
    spec: &AlertSpec,
    st: &mut AlertState,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
    now: i64,
) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let rows = match &spec.throttle_field {
        None if st.throttled_until(spec, now).is_some() => Vec::new(),
        None => rows,
        Some(f) => {
            st.prune_throttle(spec, now);
            rows.into_iter()
                .filter(|r| !st.value_throttled(spec, &filter::field_value(r, f), now))
                .collect()
        }
    };
    if rows.is_empty() {
        metrics::ALERTS_THROTTLED.inc();
    }
    rows
}

/// Marks a trigger at `now` in the throttle state.
pub(super) fn triggered(
    spec: &AlertSpec,
    st: &mut AlertState,
    rows: &[serde_json::Map<String, serde_json::Value>],
    now: i64,
) {
    metrics::ALERTS_TRIGGERED.inc();
    tracing::debug!(events = rows.len(), "alert triggered");
    st.last_triggered = Some(now);
    if let (Some(f), true) = (&spec.throttle_field, spec.throttle_time_seconds > 0) {
        for r in rows {
            st.throttled_values.insert(filter::field_value(r, f), now);
        }
    }
}

/// What an aggregate alert does with a result that reported missing data (LogScale's
/// `TriggerMode`): `CompleteMode` waits up to [`WAIT_FOR_COMPLETE_MS`] for a complete result;
/// `ImmediateMode` triggers at once on rows it has and waits only when it has none. After the
/// wait either mode takes the result as it is (with a note in the alert's last error).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum OnIncomplete {
    /// Evaluate the rows (a trigger if there are any).
    Evaluate,
    /// Retry later; the error says the result is incomplete.
    Wait,
    /// Waited long enough: evaluate the rows as they are, noting it.
    EvaluateAsIs,
}

/// How long an aggregate alert waits for a complete result (LogScale: twenty minutes).
pub(super) const WAIT_FOR_COMPLETE_MS: i64 = 20 * 60_000;

pub(super) fn on_incomplete(mode: TriggerMode, has_rows: bool, waited_ms: i64) -> OnIncomplete {
    match mode {
        TriggerMode::ImmediateMode if has_rows => OnIncomplete::Evaluate,
        _ if waited_ms >= WAIT_FOR_COMPLETE_MS => OnIncomplete::EvaluateAsIs,
        _ => OnIncomplete::Wait,
    }
}

/// Aggregate alerts and legacy alerts: the query over the window ending now; rows trigger.
async fn aggregate(
    env: &Env,
    alert: &StoredAlert,
    st: &mut AlertState,
    r: &mut Runner,
    now: i64,
) -> Result<Step, AlertError> {
    let (window_ms, configured_start, mode) = match &alert.spec.kind {
        AlertKind::Aggregate {
            search_interval_seconds,
            trigger_mode,
            ..
        } => (
            (*search_interval_seconds as i64).saturating_mul(1000),
            format!("{search_interval_seconds}s"),
            *trigger_mode,
        ),
        // A legacy alert is a live query: it triggers on what it has.
        AlertKind::Legacy { query_start, .. } => (
            super::relative_ms(query_start, "queryStart")?,
            query_start.clone(),
            TriggerMode::ImmediateMode,
        ),
        _ => return Err(AlertError::Invalid("not an aggregate alert".into())),
    };
    let start = now - window_ms;
    let found = env
        .search(
            &alert.repo,
            &alert.spec.query_string,
            start,
            now + 1,
            RESULT_LIMIT,
        )
        .await?;
    let mut note = None;
    if found.warnings.is_empty() {
        r.incomplete_since = None;
    } else {
        let since = *r.incomplete_since.get_or_insert(now);
        match on_incomplete(mode, !found.rows.is_empty(), now - since) {
            OnIncomplete::Evaluate => {}
            OnIncomplete::Wait => return Err(AlertError::Incomplete(found.warnings.join("; "))),
            OnIncomplete::EvaluateAsIs => {
                note = Some(format!(
                    "evaluated an incomplete result after waiting {} minutes: {}",
                    WAIT_FOR_COMPLETE_MS / 60_000,
                    found.warnings.join("; ")
                ));
            }
        }
    }
    let next = now + env.poll_ms;
    let idle = |note| Step {
        next_due: next,
        partial: note,
        keep_error: false,
    };
    if found.rows.is_empty() {
        return Ok(idle(note));
    }
    let rows = unthrottled(&alert.spec, st, found.rows, now);
    if rows.is_empty() {
        return Ok(idle(note));
    }
    let configured = (configured_start, "now".to_string());
    let t = trigger(env, alert, (start, now), configured, rows.clone(), now);
    let partial = fire(env, alert, &t).await?;
    triggered(&alert.spec, st, &rows, now);
    let notes: Vec<String> = note.into_iter().chain(partial).collect();
    Ok(idle((!notes.is_empty()).then(|| notes.join("; "))))
}

async fn scheduled(
    env: &Env,
    alert: &StoredAlert,
    st: &mut AlertState,
    now: i64,
) -> Result<Step, AlertError> {
    let AlertKind::Scheduled {
        query_start,
        query_end,
        schedule: expr,
        time_zone,
        backfill_limit,
    } = &alert.spec.kind
    else {
        return Err(AlertError::Invalid("not a scheduled search".into()));
    };
    let cron = schedule::parse_cron(expr)?;
    let zone = schedule::parse_zone(time_zone)?;
    let before_start = super::relative_ms(query_start, "queryStart")?;
    let before_end = super::relative_ms(query_end, "queryEnd")?;
    let last = st.last_scheduled_run.unwrap_or(alert.spec.created_ms);
    // A run at time t waits until events ingested by t are searchable.
    let (due, skipped) = cron.due(&zone, last, now - env.delay_ms, *backfill_limit);
    let mut notes = Vec::new();
    if skipped > 0 {
        tracing::warn!(alert = %alert.id, skipped, "scheduled search missed more runs than its backfill limit");
        notes.push(format!(
            "skipped {skipped} missed run(s) beyond the backfill limit of {backfill_limit}"
        ));
    }
    for t in due {
        let (start, end) = (t - before_start, t - before_end + 1);
        let found = env
            .search(
                &alert.repo,
                &alert.spec.query_string,
                start,
                end,
                RESULT_LIMIT,
            )
            .await?;
        if !found.warnings.is_empty() {
            return Err(AlertError::Incomplete(found.warnings.join("; ")));
        }
        if !found.rows.is_empty() {
            let configured = (query_start.clone(), query_end.clone());
            let trig = trigger(
                env,
                alert,
                (start, end - 1),
                configured,
                found.rows.clone(),
                now,
            );
            if let Some(p) = fire(env, alert, &trig).await? {
                notes.push(p);
            }
            triggered(&alert.spec, st, &found.rows, now);
        }
        st.last_scheduled_run = Some(t);
    }
    let from = st
        .last_scheduled_run
        .unwrap_or(last)
        .max(now - env.delay_ms);
    let next_due = cron
        .next_after(&zone, from)
        .map(|n| n + env.delay_ms)
        .unwrap_or(now + 3_600_000);
    Ok(Step {
        next_due,
        partial: (!notes.is_empty()).then(|| notes.join("; ")),
        keep_error: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigger_mode_decides_what_an_incomplete_result_does() {
        use OnIncomplete::*;
        use TriggerMode::*;
        // Complete mode waits for a complete result, rows or not, up to the limit.
        assert_eq!(on_incomplete(CompleteMode, true, 0), Wait);
        assert_eq!(on_incomplete(CompleteMode, false, 0), Wait);
        assert_eq!(
            on_incomplete(CompleteMode, true, WAIT_FOR_COMPLETE_MS - 1),
            Wait
        );
        assert_eq!(
            on_incomplete(CompleteMode, true, WAIT_FOR_COMPLETE_MS),
            EvaluateAsIs
        );
        // Immediate mode triggers on the rows it has, and waits only when it has none.
        assert_eq!(on_incomplete(ImmediateMode, true, 0), Evaluate);
        assert_eq!(on_incomplete(ImmediateMode, false, 0), Wait);
        assert_eq!(
            on_incomplete(ImmediateMode, false, WAIT_FOR_COMPLETE_MS),
            EvaluateAsIs
        );
    }
}
