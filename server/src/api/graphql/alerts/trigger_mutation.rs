//! Trigger mutations with LogScale's names: `createAggregateAlert`, `createFilterAlert`,
//! `createScheduledSearch`, `update…`, `delete…`, `enable…`/`disable…`, `clearErrorOn…`.
//! Every change needs `ChangeTriggers` on the repository; the configuration is checked
//! before it is published.

use async_graphql::{Context, Error, Object};
use strata_global::{GlobalEvent, ItemKind};

use super::actions as gql_actions;
use super::trigger_inputs::*;
use super::triggers::{
    aggregate_of, filter_of, scheduled_of, stored, AggregateAlert, FilterAlert, ScheduledSearch,
};
use crate::alerts::model::{self, AlertKind, AlertSpec, StoredAlert};
use crate::api::graphql::{publish, require_view, valid_name};
use crate::auth::ViewPermission;

const MAX_ACTIONS: usize = 10;

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

/// Checks and stores a trigger: a new one when `id` is None, else a replacement of `id`
/// (which must be of the same type; its creation time is kept).
pub(super) async fn put(
    ctx: &Context<'_>,
    id: Option<String>,
    c: Common,
    kind: AlertKind,
) -> Result<StoredAlert, Error> {
    require_view(ctx, &c.repo, ViewPermission::ChangeTriggers)?;
    valid_name(kind.type_name(), &c.name)?;
    let want_aggregate = match kind {
        AlertKind::Aggregate { .. } => Some(true),
        AlertKind::Filter => Some(false),
        AlertKind::Scheduled { .. } | AlertKind::Legacy { .. } => None,
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

pub(super) fn find(ctx: &Context<'_>, repo: &str, id: &str) -> Result<StoredAlert, Error> {
    stored(ctx, repo)?
        .into_iter()
        .find(|a| a.id == id)
        .ok_or_else(|| Error::new(format!("{id:?} does not exist in {repo:?}")))
}

/// Loads trigger `id` of type `type_name` for a change.
fn current(ctx: &Context<'_>, repo: &str, id: &str, type_name: &str) -> Result<StoredAlert, Error> {
    require_view(ctx, repo, ViewPermission::ChangeTriggers)?;
    stored(ctx, repo)?
        .into_iter()
        .find(|a| a.id == id && a.spec.kind.type_name() == type_name)
        .ok_or_else(|| Error::new(format!("{type_name} {id:?} does not exist in {repo:?}")))
}

pub(super) async fn set_enabled(
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

pub(super) async fn clear_error(
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

pub(super) async fn delete(
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
pub struct TriggerMutation;

#[Object]
impl TriggerMutation {
    async fn create_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: CreateAggregateAlert,
    ) -> Result<AggregateAlert, Error> {
        // Before the input's checks: a caller without the permission learns nothing.
        require_view(ctx, &input.view_name, ViewPermission::ChangeTriggers)?;
        let (c, k) = input.parts()?;
        agg(ctx, put(ctx, None, c, k).await?)
    }
    async fn update_aggregate_alert(
        &self,
        ctx: &Context<'_>,
        input: UpdateAggregateAlert,
    ) -> Result<AggregateAlert, Error> {
        require_view(
            ctx,
            &input.trigger.view_name,
            ViewPermission::ChangeTriggers,
        )?;
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
        // Before the input's checks: a caller without the permission learns nothing.
        require_view(ctx, &input.view_name, ViewPermission::ChangeTriggers)?;
        let (c, k) = input.parts()?;
        fil(ctx, put(ctx, None, c, k).await?)
    }
    async fn update_filter_alert(
        &self,
        ctx: &Context<'_>,
        input: UpdateFilterAlert,
    ) -> Result<FilterAlert, Error> {
        require_view(
            ctx,
            &input.trigger.view_name,
            ViewPermission::ChangeTriggers,
        )?;
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
        // Before the input's checks: a caller without the permission learns nothing.
        require_view(ctx, &input.view_name, ViewPermission::ChangeTriggers)?;
        let (c, k) = input.parts()?;
        sch(ctx, put(ctx, None, c, k).await?)
    }
    async fn update_scheduled_search(
        &self,
        ctx: &Context<'_>,
        input: UpdateScheduledSearch,
    ) -> Result<ScheduledSearch, Error> {
        require_view(
            ctx,
            &input.trigger.view_name,
            ViewPermission::ChangeTriggers,
        )?;
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
