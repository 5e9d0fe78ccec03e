//! Aggregate alerts, filter alerts and scheduled searches as GraphQL types, with the
//! evaluator's state (last triggered, last error, throttle state, which node evaluates it),
//! listed on LogScale's `searchDomain(name)` together with the repository's actions.

use async_graphql::{Context, Enum, Error, Object, SimpleObject};

use super::actions::{self as gql_actions, Action};
use crate::alerts::model::{self, AlertKind, AlertState, StoredAlert, TimestampType};
use crate::alerts::schedule;
use crate::api::graphql::{node, require_view, require_visible};
use crate::auth::ViewPermission;

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

pub(super) fn state_of(ctx: &Context<'_>, a: &StoredAlert) -> TriggerState {
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

pub(super) fn actions_of(ctx: &Context<'_>, a: &StoredAlert) -> Vec<Action> {
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

pub(super) fn aggregate_of(ctx: &Context<'_>, a: StoredAlert) -> Option<AggregateAlert> {
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

pub(super) fn filter_of(ctx: &Context<'_>, a: StoredAlert) -> Option<FilterAlert> {
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

pub(super) fn scheduled_of(ctx: &Context<'_>, a: StoredAlert) -> Option<ScheduledSearch> {
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

pub(super) fn stored(ctx: &Context<'_>, repo: &str) -> Result<Vec<StoredAlert>, Error> {
    node(ctx)
        .global
        .read(|s| {
            s.search_domain_exists(repo)
                .then(|| model::alerts(s, Some(repo)))
        })
        .ok_or_else(|| Error::new(format!("repository or view {repo:?} does not exist")))
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
    async fn id(&self) -> &str {
        &self.name
    }
    /// LogScale's repository type (`SYSTEM` for `humio-*`, else `DEFAULT`).
    #[graphql(name = "type")]
    async fn domain_type(&self) -> &'static str {
        crate::api::graphql::repository_type(&self.name)
    }
    async fn actions(&self, ctx: &Context<'_>) -> Result<Vec<Action>, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
        Ok(gql_actions::list(ctx, &self.name)?
            .into_iter()
            .map(|a| gql_actions::to_graphql(ctx, a))
            .collect())
    }
    async fn action(&self, ctx: &Context<'_>, id: String) -> Result<Action, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
        gql_actions::list(ctx, &self.name)?
            .into_iter()
            .find(|a| a.id == id)
            .map(|a| gql_actions::to_graphql(ctx, a))
            .ok_or_else(|| Error::new(format!("action {id:?} does not exist")))
    }
    async fn aggregate_alerts(&self, ctx: &Context<'_>) -> Result<Vec<AggregateAlert>, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
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
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
        stored(ctx, &self.name)?
            .into_iter()
            .filter(|a| a.id == id)
            .find_map(|a| aggregate_of(ctx, a))
            .ok_or_else(|| Error::new(format!("aggregate alert {id:?} does not exist")))
    }
    async fn filter_alerts(&self, ctx: &Context<'_>) -> Result<Vec<FilterAlert>, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
        Ok(stored(ctx, &self.name)?
            .into_iter()
            .filter_map(|a| filter_of(ctx, a))
            .collect())
    }
    async fn filter_alert(&self, ctx: &Context<'_>, id: String) -> Result<FilterAlert, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
        stored(ctx, &self.name)?
            .into_iter()
            .filter(|a| a.id == id)
            .find_map(|a| filter_of(ctx, a))
            .ok_or_else(|| Error::new(format!("filter alert {id:?} does not exist")))
    }
    /// Legacy (standard) alerts.
    async fn alerts(&self, ctx: &Context<'_>) -> Result<Vec<super::legacy::Alert>, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
        Ok(stored(ctx, &self.name)?
            .into_iter()
            .filter_map(|a| super::legacy::alert_of(ctx, a))
            .collect())
    }
    async fn alert(&self, ctx: &Context<'_>, id: String) -> Result<super::legacy::Alert, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
        stored(ctx, &self.name)?
            .into_iter()
            .filter(|a| a.id == id)
            .find_map(|a| super::legacy::alert_of(ctx, a))
            .ok_or_else(|| Error::new(format!("alert {id:?} does not exist")))
    }
    async fn scheduled_searches(&self, ctx: &Context<'_>) -> Result<Vec<ScheduledSearch>, Error> {
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
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
        require_view(ctx, &self.name, ViewPermission::ReadAccess)?;
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
        require_visible(ctx, &name)?;
        stored(ctx, &name)?;
        Ok(SearchDomain { name })
    }
}
