//! Aggregate alerts, filter alerts and scheduled searches over GraphQL, with LogScale's names
//! (`createAggregateAlert`, `createFilterAlert`, `createScheduledSearch`, `update…`,
//! `delete…`, `enable…`/`disable…`, `clearErrorOn…`), listed on `searchDomain(name)` with
//! their actions and the evaluator's state (last triggered, last error, throttle state).
//! Inputs are checked before anything is published; errors name the field.

use async_graphql::{Context, Enum, Error, InputObject, Object, SimpleObject};
use strata_global::{GlobalEvent, ItemKind};

use super::actions::{self as gql_actions, Action};
use super::{node, publish, require_root, require_user, valid_name};
use crate::alerts::model::{self, AlertKind, AlertSpec, AlertState, StoredAlert, TimestampType};
use crate::alerts::{schedule, AlertError};

const MAX_ACTIONS: usize = 10;
const MAX_SECONDS: i64 = 366 * 86_400;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
#[graphql(rename_items = "PascalCase")]
pub enum QueryTimestampType {
    #[default]
    EventTimestamp,
    IngestTimestamp,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
#[graphql(rename_items = "PascalCase")]
pub enum TriggerMode {
    #[default]
    CompleteMode,
    ImmediateMode,
}

/// Whose permissions an alert's query runs with. Only `Organization` is supported.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
#[graphql(rename_items = "PascalCase")]
pub enum QueryOwnershipType {
    #[default]
    Organization,
    User,
}

#[derive(SimpleObject, Clone)]
pub struct ThrottledValue {
    value: String,
    /// Until when (epoch ms) this value does not trigger again.
    until: i64,
}

/// The state fields every trigger type shows.
#[derive(SimpleObject, Clone)]
pub struct TriggerState {
    last_triggered: Option<i64>,
    last_error: Option<String>,
    last_error_time: Option<i64>,
    last_successful_poll: Option<i64>,
    /// Throttled as a whole until then (epoch ms; null when not throttled).
    throttled_until: Option<i64>,
    /// With a throttle field: the values that are throttled now.
    throttled_field_values: Vec<ThrottledValue>,
    /// The node evaluating it now (null when disabled).
    evaluating_node: Option<u32>,
}

#[derive(SimpleObject, Clone)]
pub struct AggregateAlert {
    id: String,
    name: String,
    description: String,
    query_string: String,
    search_interval_seconds: i64,
    throttle_time_seconds: i64,
    throttle_field: Option<String>,
    trigger_mode: TriggerMode,
    query_timestamp_type: QueryTimestampType,
    enabled: bool,
    labels: Vec<String>,
    actions: Vec<Action>,
    #[graphql(flatten)]
    state: TriggerState,
}

#[derive(SimpleObject, Clone)]
pub struct FilterAlert {
    id: String,
    name: String,
    description: String,
    query_string: String,
    throttle_time_seconds: i64,
    throttle_field: Option<String>,
    enabled: bool,
    labels: Vec<String>,
    actions: Vec<Action>,
    /// Every event ingested up to this time (epoch ms) has been evaluated.
    evaluated_until: Option<i64>,
    #[graphql(flatten)]
    state: TriggerState,
}

#[derive(SimpleObject, Clone)]
pub struct ScheduledSearch {
    id: String,
    name: String,
    description: String,
    query_string: String,
    start: String,
    end: String,
    schedule: String,
    time_zone: String,
    backfill_limit: u32,
    enabled: bool,
    labels: Vec<String>,
    /// Action ids.
    actions: Vec<String>,
    actions_v2: Vec<Action>,
    /// The schedule time of the last run (epoch ms).
    last_executed: Option<i64>,
    time_of_next_planned_execution: Option<i64>,
    #[graphql(flatten)]
    state: TriggerState,
}

fn state_of(ctx: &Context<'_>, a: &StoredAlert) -> TriggerState {
    let now = crate::text::now_ms();
    let st: &AlertState = &a.state;
    let ms = model::throttle_ms(&a.spec);
    let n = node(ctx);
    let evaluating_node = a.spec.enabled.then(|| {
        let mut live = n.membership.live_nodes(&n.global);
        live.sort_unstable();
        crate::alerts::owner::owner(&a.id, &live)
    });
    TriggerState {
        last_triggered: st.last_triggered,
        last_error: st.last_error.clone(),
        last_error_time: st.last_error_time,
        last_successful_poll: st.last_successful_poll,
        throttled_until: st.throttled_until(&a.spec, now),
        throttled_field_values: st
            .throttled_values
            .iter()
            .filter(|(_, t)| **t + ms > now)
            .map(|(v, t)| ThrottledValue {
                value: v.clone(),
                until: t + ms,
            })
            .collect(),
        evaluating_node: evaluating_node.flatten(),
    }
}

fn actions_of(ctx: &Context<'_>, a: &StoredAlert) -> Vec<Action> {
    let all = node(ctx).global.read(|s| model::actions(s, &a.repo));
    a.spec
        .action_ids
        .iter()
        .filter_map(|id| all.iter().find(|x| &x.id == id).cloned())
        .map(|x| gql_actions::to_graphql(ctx, x))
        .collect()
}

fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn aggregate_of(ctx: &Context<'_>, a: StoredAlert) -> Option<AggregateAlert> {
    let AlertKind::Aggregate {
        search_interval_seconds,
        trigger_mode,
        query_timestamp_type,
    } = a.spec.kind
    else {
        return None;
    };
    Some(AggregateAlert {
        actions: actions_of(ctx, &a),
        state: state_of(ctx, &a),
        search_interval_seconds: secs(search_interval_seconds),
        trigger_mode: match trigger_mode {
            model::TriggerMode::CompleteMode => TriggerMode::CompleteMode,
            model::TriggerMode::ImmediateMode => TriggerMode::ImmediateMode,
        },
        query_timestamp_type: match query_timestamp_type {
            TimestampType::EventTimestamp => QueryTimestampType::EventTimestamp,
            TimestampType::IngestTimestamp => QueryTimestampType::IngestTimestamp,
        },
        throttle_time_seconds: secs(a.spec.throttle_time_seconds),
        id: a.id,
        name: a.name,
        description: a.spec.description,
        query_string: a.spec.query_string,
        throttle_field: a.spec.throttle_field,
        enabled: a.spec.enabled,
        labels: a.spec.labels,
    })
}

fn filter_of(ctx: &Context<'_>, a: StoredAlert) -> Option<FilterAlert> {
    if a.spec.kind != AlertKind::Filter {
        return None;
    }
    Some(FilterAlert {
        actions: actions_of(ctx, &a),
        state: state_of(ctx, &a),
        evaluated_until: a.state.cursor,
        throttle_time_seconds: secs(a.spec.throttle_time_seconds),
        id: a.id,
        name: a.name,
        description: a.spec.description,
        query_string: a.spec.query_string,
        throttle_field: a.spec.throttle_field,
        enabled: a.spec.enabled,
        labels: a.spec.labels,
    })
}

fn scheduled_of(ctx: &Context<'_>, a: StoredAlert) -> Option<ScheduledSearch> {
    let AlertKind::Scheduled {
        query_start,
        query_end,
        schedule: expr,
        time_zone,
        backfill_limit,
    } = a.spec.kind.clone()
    else {
        return None;
    };
    let next = match (
        schedule::parse_cron(&expr),
        schedule::parse_zone(&time_zone),
    ) {
        (Ok(c), Ok(z)) => {
            let from = a
                .state
                .last_scheduled_run
                .unwrap_or(a.spec.created_ms)
                .max(crate::text::now_ms() - node(ctx).cfg.alert_ingest_delay_ms as i64);
            c.next_after(&z, from)
        }
        _ => None,
    };
    Some(ScheduledSearch {
        actions_v2: actions_of(ctx, &a),
        state: state_of(ctx, &a),
        actions: a.spec.action_ids.clone(),
        last_executed: a.state.last_scheduled_run,
        time_of_next_planned_execution: a.spec.enabled.then_some(next).flatten(),
        id: a.id,
        name: a.name,
        description: a.spec.description,
        query_string: a.spec.query_string,
        start: query_start,
        end: query_end,
        schedule: expr,
        time_zone,
        backfill_limit,
        enabled: a.spec.enabled,
        labels: a.spec.labels,
    })
}

fn stored(ctx: &Context<'_>, repo: &str) -> Result<Vec<StoredAlert>, Error> {
    node(ctx)
        .global
        .read(|s| {
            s.repositories
                .contains_key(repo)
                .then(|| model::alerts(s, Some(repo)))
        })
        .ok_or_else(|| Error::new(format!("repository {repo:?} does not exist")))
}

/// A repository as LogScale's `searchDomain`: its actions and triggers.
pub struct SearchDomain {
    name: String,
}

#[Object]
impl SearchDomain {
    async fn name(&self) -> &str {
        &self.name
    }
    async fn actions(&self, ctx: &Context<'_>) -> Result<Vec<Action>, Error> {
        require_user(ctx)?;
        Ok(gql_actions::list(ctx, &self.name)?
            .into_iter()
            .map(|a| gql_actions::to_graphql(ctx, a))
            .collect())
    }
    async fn action(&self, ctx: &Context<'_>, id: String) -> Result<Action, Error> {
        require_user(ctx)?;
        gql_actions::list(ctx, &self.name)?
            .into_iter()
            .find(|a| a.id == id)
            .map(|a| gql_actions::to_graphql(ctx, a))
            .ok_or_else(|| Error::new(format!("action {id:?} does not exist")))
    }
    async fn aggregate_alerts(&self, ctx: &Context<'_>) -> Result<Vec<AggregateAlert>, Error> {
        require_user(ctx)?;
        Ok(stored(ctx, &self.name)?
            .into_iter()
            .filter_map(|a| aggregate_of(ctx, a))
            .collect())
    }
    async fn aggregate_alert(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> Result<AggregateAlert, Error> {
        require_user(ctx)?;
        stored(ctx, &self.name)?
            .into_iter()
            .filter(|a| a.id == id)
            .find_map(|a| aggregate_of(ctx, a))
            .ok_or_else(|| Error::new(format!("aggregate alert {id:?} does not exist")))
    }
    async fn filter_alerts(&self, ctx: &Context<'_>) -> Result<Vec<FilterAlert>, Error> {
        require_user(ctx)?;
        Ok(stored(ctx, &self.name)?
            .into_iter()
            .filter_map(|a| filter_of(ctx, a))
            .collect())
    }
    async fn filter_alert(&self, ctx: &Context<'_>, id: String) -> Result<FilterAlert, Error> {
        require_user(ctx)?;
        stored(ctx, &self.name)?
            .into_iter()
            .filter(|a| a.id == id)
            .find_map(|a| filter_of(ctx, a))
            .ok_or_else(|| Error::new(format!("filter alert {id:?} does not exist")))
    }
    async fn scheduled_searches(&self, ctx: &Context<'_>) -> Result<Vec<ScheduledSearch>, Error> {
        require_user(ctx)?;
        Ok(stored(ctx, &self.name)?
            .into_iter()
            .filter_map(|a| scheduled_of(ctx, a))
            .collect())
    }
    async fn scheduled_search(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> Result<ScheduledSearch, Error> {
        require_user(ctx)?;
        stored(ctx, &self.name)?
            .into_iter()
            .filter(|a| a.id == id)
            .find_map(|a| scheduled_of(ctx, a))
            .ok_or_else(|| Error::new(format!("scheduled search {id:?} does not exist")))
    }
}

#[derive(Default)]
pub struct AlertQuery;

#[Object]
impl AlertQuery {
    /// A repository with its actions, alerts and scheduled searches.
    async fn search_domain(&self, ctx: &Context<'_>, name: String) -> Result<SearchDomain, Error> {
        require_user(ctx)?;
        stored(ctx, &name)?;
        Ok(SearchDomain { name })
    }
}

fn invalid(e: AlertError) -> Error {
    Error::new(e.to_string())
}

fn seconds(what: &str, v: i64, min: i64) -> Result<u64, Error> {
    if v < min || v > MAX_SECONDS {
        return Err(Error::new(format!(
            "{what} must be between {min} and {MAX_SECONDS} seconds, got {v}"
        )));
    }
    Ok(v as u64)
}

fn ownership(t: Option<QueryOwnershipType>, run_as: &Option<String>) -> Result<(), Error> {
    if t == Some(QueryOwnershipType::User) || run_as.is_some() {
        return Err(Error::new(
            "queryOwnershipType User (and runAsUserId) is not supported: triggers run with the organization's permissions",
        ));
    }
    Ok(())
}

/// Action ids or names → ids of actions in `repo`.
fn resolve_actions(ctx: &Context<'_>, repo: &str, given: &[String]) -> Result<Vec<String>, Error> {
    if given.len() > MAX_ACTIONS {
        return Err(Error::new(format!(
            "at most {MAX_ACTIONS} actions can be attached"
        )));
    }
    let all = gql_actions::list(ctx, repo)?;
    let mut ids = Vec::new();
    for g in given {
        let a = all
            .iter()
            .find(|a| &a.id == g)
            .or_else(|| all.iter().find(|a| &a.name == g))
            .ok_or_else(|| {
                Error::new(format!(
                    "actionIdsOrNames: action {g:?} does not exist in {repo:?}"
                ))
            })?;
        if !ids.contains(&a.id) {
            ids.push(a.id.clone());
        }
    }
    Ok(ids)
}

/// The parts every trigger's input has.
struct Common {
    repo: String,
    name: String,
    description: String,
    query_string: String,
    actions: Vec<String>,
    labels: Vec<String>,
    enabled: bool,
    throttle_time_seconds: u64,
    throttle_field: Option<String>,
}

/// Checks and stores a trigger: a new one when `id` is None, else a replacement of `id`
/// (which must be of the same type; its creation time is kept).
async fn put(
    ctx: &Context<'_>,
    id: Option<String>,
    c: Common,
    kind: AlertKind,
) -> Result<StoredAlert, Error> {
    require_root(ctx)?;
    valid_name(kind.type_name(), &c.name)?;
    let want_aggregate = match kind {
        AlertKind::Aggregate { .. } => Some(true),
        AlertKind::Filter => Some(false),
        AlertKind::Scheduled { .. } => None,
    };
    crate::alerts::check_query(&c.query_string, want_aggregate).map_err(invalid)?;
    if let Some(f) = &c.throttle_field {
        if f.trim().is_empty() {
            return Err(Error::new("throttleField must not be empty when given"));
        }
    }
    let actions = resolve_actions(ctx, &c.repo, &c.actions)?;
    let existing = stored(ctx, &c.repo)?;
    if existing.iter().any(|a| {
        a.name == c.name
            && a.spec.kind.type_name() == kind.type_name()
            && Some(&a.id) != id.as_ref()
    }) {
        return Err(Error::new(format!(
            "a {} named {:?} already exists in {:?}",
            kind.type_name(),
            c.name,
            c.repo
        )));
    }
    let (id, created_ms, expected_version) = match id {
        None => (
            format!("{:016x}", rand::random::<u64>()),
            crate::text::now_ms(),
            None,
        ),
        Some(id) => {
            let old = existing
                .iter()
                .find(|a| a.id == id && a.spec.kind.type_name() == kind.type_name())
                .ok_or_else(|| {
                    Error::new(format!(
                        "{} {id:?} does not exist in {:?}",
                        kind.type_name(),
                        c.repo
                    ))
                })?;
            (id, old.spec.created_ms, Some(old.version))
        }
    };
    let spec = AlertSpec {
        kind,
        description: c.description,
        query_string: c.query_string,
        action_ids: actions,
        labels: c.labels,
        enabled: c.enabled,
        throttle_time_seconds: c.throttle_time_seconds,
        throttle_field: c.throttle_field,
        created_ms,
    };
    let body = serde_json::to_string(&spec).map_err(|e| Error::new(e.to_string()))?;
    publish(
        ctx,
        GlobalEvent::PutItem {
            repo: c.repo.clone(),
            kind: ItemKind::Alert,
            id: id.clone(),
            name: c.name.clone(),
            body,
            expected_version,
        },
    )
    .await?;
    find(ctx, &c.repo, &id)
}

fn find(ctx: &Context<'_>, repo: &str, id: &str) -> Result<StoredAlert, Error> {
    stored(ctx, repo)?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| Error::new(format!("{id:?} does not exist in {repo:?}")))
}

/// Loads trigger `id` of type `type_name` for a change.
fn current(ctx: &Context<'_>, repo: &str, id: &str, type_name: &str) -> Result<StoredAlert, Error> {
    require_root(ctx)?;
    stored(ctx, repo)?
        .into_iter()
        .find(|a| a.id == id && a.spec.kind.type_name() == type_name)
        .ok_or_else(|| Error::new(format!("{type_name} {id:?} does not exist in {repo:?}")))
}

async fn set_enabled(
    ctx: &Context<'_>,
    repo: &str,
    id: &str,
    type_name: &str,
    enabled: bool,
) -> Result<StoredAlert, Error> {
    let a = current(ctx, repo, id, type_name)?;
    let mut spec = a.spec.clone();
    spec.enabled = enabled;
    let body = serde_json::to_string(&spec).map_err(|e| Error::new(e.to_string()))?;
    publish(
        ctx,
        GlobalEvent::PutItem {
            repo: repo.to_string(),
            kind: ItemKind::Alert,
            id: id.to_string(),
            name: a.name.clone(),
            body,
            expected_version: Some(a.version),
        },
    )
    .await?;
    find(ctx, repo, id)
}

async fn clear_error(
    ctx: &Context<'_>,
    repo: &str,
    id: &str,
    type_name: &str,
) -> Result<StoredAlert, Error> {
    let a = current(ctx, repo, id, type_name)?;
    if a.state.last_error.is_some() {
        let mut st = a.state.clone();
        st.last_error = None;
        st.last_error_time = None;
        let body = serde_json::to_string(&st).map_err(|e| Error::new(e.to_string()))?;
        publish(
            ctx,
            GlobalEvent::PutItem {
                repo: repo.to_string(),
                kind: ItemKind::Alert,
                id: model::state_id(id),
                name: a.name.clone(),
                body,
                expected_version: a.state_version,
            },
        )
        .await?;
    }
    find(ctx, repo, id)
}

async fn delete(
    ctx: &Context<'_>,
    repo: String,
    id: String,
    type_name: &str,
) -> Result<bool, Error> {
    let a = current(ctx, &repo, &id, type_name)?;
    publish(
        ctx,
        GlobalEvent::DeleteItem {
            repo: repo.clone(),
            kind: ItemKind::Alert,
            id: id.clone(),
        },
    )
    .await?;
    if a.state_version.is_some() {
        // Best effort: an orphaned state item is swept by the evaluator.
        let _ = publish(
            ctx,
            GlobalEvent::DeleteItem {
                repo,
                kind: ItemKind::Alert,
                id: model::state_id(&id),
            },
        )
        .await;
    }
    Ok(true)
}

#[derive(InputObject)]
pub struct CreateAggregateAlert {
    view_name: String,
    name: String,
    #[graphql(default)]
    description: Option<String>,
    query_string: String,
    #[graphql(default)]
    action_ids_or_names: Vec<String>,
    #[graphql(default)]
    labels: Vec<String>,
    #[graphql(default = true)]
    enabled: bool,
    throttle_time_seconds: i64,
    #[graphql(default)]
    throttle_field: Option<String>,
    search_interval_seconds: i64,
    #[graphql(default)]
    query_timestamp_type: QueryTimestampType,
    #[graphql(default)]
    trigger_mode: TriggerMode,
    #[graphql(default)]
    query_ownership_type: Option<QueryOwnershipType>,
    #[graphql(default)]
    run_as_user_id: Option<String>,
}

impl CreateAggregateAlert {
    fn parts(self) -> Result<(Common, AlertKind), Error> {
        ownership(self.query_ownership_type, &self.run_as_user_id)?;
        if self.query_timestamp_type == QueryTimestampType::IngestTimestamp {
            return Err(Error::new(
                "queryTimestampType IngestTimestamp is not supported for aggregate alerts; use EventTimestamp",
            ));
        }
        let kind = AlertKind::Aggregate {
            search_interval_seconds: seconds(
                "searchIntervalSeconds",
                self.search_interval_seconds,
                1,
            )?,
            trigger_mode: match self.trigger_mode {
                TriggerMode::CompleteMode => model::TriggerMode::CompleteMode,
                TriggerMode::ImmediateMode => model::TriggerMode::ImmediateMode,
            },
            query_timestamp_type: TimestampType::EventTimestamp,
        };
        Ok((
            Common {
                repo: self.view_name,
                name: self.name,
                description: self.description.unwrap_or_default(),
                query_string: self.query_string,
                actions: self.action_ids_or_names,
                labels: self.labels,
                enabled: self.enabled,
                throttle_time_seconds: seconds(
                    "throttleTimeSeconds",
                    self.throttle_time_seconds,
                    0,
                )?,
                throttle_field: self.throttle_field,
            },
            kind,
        ))
    }
}

#[derive(InputObject)]
pub struct CreateFilterAlert {
    view_name: String,
    name: String,
    #[graphql(default)]
    description: Option<String>,
    query_string: String,
    #[graphql(default)]
    action_ids_or_names: Vec<String>,
    #[graphql(default)]
    labels: Vec<String>,
    #[graphql(default = true)]
    enabled: bool,
    #[graphql(default)]
    throttle_time_seconds: Option<i64>,
    #[graphql(default)]
    throttle_field: Option<String>,
    #[graphql(default)]
    query_ownership_type: Option<QueryOwnershipType>,
    #[graphql(default)]
    run_as_user_id: Option<String>,
}

impl CreateFilterAlert {
    fn parts(self) -> Result<(Common, AlertKind), Error> {
        ownership(self.query_ownership_type, &self.run_as_user_id)?;
        if self.throttle_field.is_some() && self.throttle_time_seconds.unwrap_or(0) == 0 {
            return Err(Error::new("throttleField needs throttleTimeSeconds"));
        }
        Ok((
            Common {
                repo: self.view_name,
                name: self.name,
                description: self.description.unwrap_or_default(),
                query_string: self.query_string,
                actions: self.action_ids_or_names,
                labels: self.labels,
                enabled: self.enabled,
                throttle_time_seconds: seconds(
                    "throttleTimeSeconds",
                    self.throttle_time_seconds.unwrap_or(0),
                    0,
                )?,
                throttle_field: self.throttle_field,
            },
            AlertKind::Filter,
        ))
    }
}

#[derive(InputObject)]
pub struct CreateScheduledSearch {
    view_name: String,
    name: String,
    #[graphql(default)]
    description: Option<String>,
    query_string: String,
    /// Start of the relative window (e.g. `1h`).
    query_start: String,
    #[graphql(default_with = "\"now\".to_string()")]
    query_end: String,
    /// Cron: `minute hour day-of-month month day-of-week`.
    schedule: String,
    /// `UTC`, a UTC offset (`UTC+01:00`) or an IANA name (`Europe/Copenhagen`).
    #[graphql(default_with = "\"UTC\".to_string()")]
    time_zone: String,
    #[graphql(default)]
    backfill_limit: u32,
    #[graphql(default = true)]
    enabled: bool,
    /// Action ids (LogScale's older name; `actionIdsOrNames` also works).
    #[graphql(default)]
    actions: Vec<String>,
    #[graphql(default)]
    action_ids_or_names: Vec<String>,
    #[graphql(default)]
    labels: Vec<String>,
    #[graphql(default)]
    query_ownership_type: Option<QueryOwnershipType>,
    #[graphql(default)]
    run_as_user_id: Option<String>,
}

impl CreateScheduledSearch {
    fn parts(self) -> Result<(Common, AlertKind), Error> {
        ownership(self.query_ownership_type, &self.run_as_user_id)?;
        schedule::parse_cron(&self.schedule).map_err(invalid)?;
        schedule::parse_zone(&self.time_zone).map_err(invalid)?;
        let start = crate::alerts::relative_ms(&self.query_start, "queryStart").map_err(invalid)?;
        let end = crate::alerts::relative_ms(&self.query_end, "queryEnd").map_err(invalid)?;
        if start <= end {
            return Err(Error::new(format!(
                "queryStart {:?} must be before queryEnd {:?}",
                self.query_start, self.query_end
            )));
        }
        if self.backfill_limit > 1000 {
            return Err(Error::new("backfillLimit must be at most 1000"));
        }
        let mut actions = self.actions;
        actions.extend(self.action_ids_or_names);
        Ok((
            Common {
                repo: self.view_name,
                name: self.name,
                description: self.description.unwrap_or_default(),
                query_string: self.query_string,
                actions,
                labels: self.labels,
                enabled: self.enabled,
                throttle_time_seconds: 0,
                throttle_field: None,
            },
            AlertKind::Scheduled {
                query_start: self.query_start,
                query_end: self.query_end,
                schedule: self.schedule,
                time_zone: self.time_zone,
                backfill_limit: self.backfill_limit,
            },
        ))
    }
}

/// Declares an `update…` input: the trigger's id plus the fields of creating it.
macro_rules! update_input {
    ($name:ident, $create:ty) => {
        #[derive(InputObject)]
        pub struct $name {
            id: String,
            #[graphql(flatten)]
            trigger: $create,
        }
    };
}
update_input!(UpdateAggregateAlert, CreateAggregateAlert);
update_input!(UpdateFilterAlert, CreateFilterAlert);
update_input!(UpdateScheduledSearch, CreateScheduledSearch);

/// Names one trigger (delete, enable, disable, clear error).
#[derive(InputObject)]
pub struct TriggerRef {
    view_name: String,
    id: String,
}

const AGG: &str = "AggregateAlert";
const FIL: &str = "FilterAlert";
const SCH: &str = "ScheduledSearch";

fn agg(ctx: &Context<'_>, a: StoredAlert) -> Result<AggregateAlert, Error> {
    aggregate_of(ctx, a).ok_or_else(|| Error::new("not an aggregate alert"))
}
fn fil(ctx: &Context<'_>, a: StoredAlert) -> Result<FilterAlert, Error> {
    filter_of(ctx, a).ok_or_else(|| Error::new("not a filter alert"))
}
fn sch(ctx: &Context<'_>, a: StoredAlert) -> Result<ScheduledSearch, Error> {
    scheduled_of(ctx, a).ok_or_else(|| Error::new("not a scheduled search"))
}

#[derive(Default)]
pub struct AlertMutation;

#[Object]
impl AlertMutation {
    async fn create_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: CreateAggregateAlert,
    ) -> Result<AggregateAlert, Error> {
        let (c, k) = input.parts()?;
        agg(ctx, put(ctx, None, c, k).await?)
    }
    async fn update_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: UpdateAggregateAlert,
    ) -> Result<AggregateAlert, Error> {
        let (c, k) = input.trigger.parts()?;
        agg(ctx, put(ctx, Some(input.id), c, k).await?)
    }
    async fn delete_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<bool, Error> {
        delete(ctx, input.view_name, input.id, AGG).await
    }
    async fn enable_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<AggregateAlert, Error> {
        agg(
            ctx,
            set_enabled(ctx, &input.view_name, &input.id, AGG, true).await?,
        )
    }
    async fn disable_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<AggregateAlert, Error> {
        agg(
            ctx,
            set_enabled(ctx, &input.view_name, &input.id, AGG, false).await?,
        )
    }
    async fn clear_error_on_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<AggregateAlert, Error> {
        agg(
            ctx,
            clear_error(ctx, &input.view_name, &input.id, AGG).await?,
        )
    }

    async fn create_filter_alert(
        &self,
        ctx: &Context<'_>,
        input: CreateFilterAlert,
    ) -> Result<FilterAlert, Error> {
        let (c, k) = input.parts()?;
        fil(ctx, put(ctx, None, c, k).await?)
    }
    async fn update_filter_alert(
        &self,
        ctx: &Context<'_>,
        input: UpdateFilterAlert,
    ) -> Result<FilterAlert, Error> {
        let (c, k) = input.trigger.parts()?;
        fil(ctx, put(ctx, Some(input.id), c, k).await?)
    }
    async fn delete_filter_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<bool, Error> {
        delete(ctx, input.view_name, input.id, FIL).await
    }
    async fn enable_filter_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<FilterAlert, Error> {
        fil(
            ctx,
            set_enabled(ctx, &input.view_name, &input.id, FIL, true).await?,
        )
    }
    async fn disable_filter_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<FilterAlert, Error> {
        fil(
            ctx,
            set_enabled(ctx, &input.view_name, &input.id, FIL, false).await?,
        )
    }
    async fn clear_error_on_filter_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<FilterAlert, Error> {
        fil(
            ctx,
            clear_error(ctx, &input.view_name, &input.id, FIL).await?,
        )
    }

    async fn create_scheduled_search(
        &self,
        ctx: &Context<'_>,
        input: CreateScheduledSearch,
    ) -> Result<ScheduledSearch, Error> {
        let (c, k) = input.parts()?;
        sch(ctx, put(ctx, None, c, k).await?)
    }
    async fn update_scheduled_search(
        &self,
        ctx: &Context<'_>,
        input: UpdateScheduledSearch,
    ) -> Result<ScheduledSearch, Error> {
        let (c, k) = input.trigger.parts()?;
        sch(ctx, put(ctx, Some(input.id), c, k).await?)
    }
    async fn delete_scheduled_search(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<bool, Error> {
        delete(ctx, input.view_name, input.id, SCH).await
    }
    async fn enable_scheduled_search(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<ScheduledSearch, Error> {
        sch(
            ctx,
            set_enabled(ctx, &input.view_name, &input.id, SCH, true).await?,
        )
    }
    async fn disable_scheduled_search(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<ScheduledSearch, Error> {
        sch(
            ctx,
            set_enabled(ctx, &input.view_name, &input.id, SCH, false).await?,
        )
    }
    async fn clear_error_on_scheduled_search(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<ScheduledSearch, Error> {
        sch(
            ctx,
            clear_error(ctx, &input.view_name, &input.id, SCH).await?,
        )
    }
}
