//! LogScale's legacy (formerly "standard") alerts over GraphQL: the `Alert` type, listed on
//! `searchDomain { alerts }`, and `createAlert`, `updateAlert`, `deleteAlert` (with its newer
//! name `deleteLegacyAlert`) and `clearErrorOnAlert`. A legacy alert runs its query over the
//! last `queryStart` every poll interval and triggers on a non-empty result (events, up to
//! 200, or aggregate rows), throttled by `throttleTimeMillis` (optionally per `throttleField`).
//! LogScale enables and disables them through `updateAlert`'s `enabled`.

use async_graphql::{Context, Error, InputObject, Object, SimpleObject};

use super::actions::Action;
use super::trigger_inputs::{invalid, Common, TriggerRef};
use super::trigger_mutation::{clear_error, delete, put};
use super::triggers::{actions_of, state_of, QueryOwnershipType, TriggerState};
use crate::alerts::model::{AlertKind, StoredAlert};
use crate::api::graphql::require_view;
use crate::auth::ViewPermission;

const TYPE: &str = "Alert";
const MAX_THROTTLE_MS: i64 = 366 * 86_400_000;

#[derive(SimpleObject, Clone)]
pub struct Alert {
    id: String,
    name: String,
    description: Option<String>,
    query_string: String,
    /// Start of the relative window the query runs over (e.g. `1h`).
    query_start: String,
    throttle_time_millis: i64,
    throttle_field: Option<String>,
    enabled: bool,
    labels: Vec<String>,
    /// Action ids.
    actions: Vec<String>,
    actions_v2: Vec<Action>,
    /// When the alert last triggered (epoch ms).
    time_of_last_trigger: Option<i64>,
    is_starred: bool,
    query_ownership_type: QueryOwnershipType,
    #[graphql(flatten)]
    state: TriggerState,
}

pub(super) fn alert_of(ctx: &Context<'_>, a: StoredAlert) -> Option<Alert> {
    let AlertKind::Legacy {
        query_start,
        throttle_time_millis,
    } = a.spec.kind.clone()
    else {
        return None;
    };
    Some(Alert {
        actions_v2: actions_of(ctx, &a),
        state: state_of(ctx, &a),
        actions: a.spec.action_ids.clone(),
        time_of_last_trigger: a.state.last_triggered,
        is_starred: false,
        query_ownership_type: QueryOwnershipType::Organization,
        query_start,
        throttle_time_millis: i64::try_from(throttle_time_millis).unwrap_or(i64::MAX),
        id: a.id,
        name: a.name,
        description: (!a.spec.description.is_empty()).then_some(a.spec.description),
        query_string: a.spec.query_string,
        throttle_field: a.spec.throttle_field,
        enabled: a.spec.enabled,
        labels: a.spec.labels,
    })
}

#[derive(InputObject)]
pub struct CreateAlert {
    view_name: String,
    name: String,
    #[graphql(default)]
    description: Option<String>,
    query_string: String,
    query_start: String,
    throttle_time_millis: i64,
    #[graphql(default)]
    throttle_field: Option<String>,
    #[graphql(default)]
    run_as_user_id: Option<String>,
    #[graphql(default = true)]
    enabled: bool,
    /// Action ids or names.
    #[graphql(default)]
    actions: Vec<String>,
    #[graphql(default)]
    labels: Vec<String>,
    #[graphql(default)]
    query_ownership_type: Option<QueryOwnershipType>,
}

impl CreateAlert {
    fn parts(self) -> Result<(Common, AlertKind), Error> {
        if self.query_ownership_type == Some(QueryOwnershipType::User)
            || self.run_as_user_id.is_some()
        {
            return Err(Error::new(
                "queryOwnershipType User (and runAsUserId) is not supported: triggers run with the organization's permissions",
            ));
        }
        if !(0..=MAX_THROTTLE_MS).contains(&self.throttle_time_millis) {
            return Err(Error::new(format!(
                "throttleTimeMillis must be between 0 and {MAX_THROTTLE_MS}, got {}",
                self.throttle_time_millis
            )));
        }
        let window =
            crate::alerts::relative_ms(&self.query_start, "queryStart").map_err(invalid)?;
        if window == 0 {
            return Err(Error::new(
                "queryStart must be a relative time before now, like 1h",
            ));
        }
        let ms = self.throttle_time_millis as u64;
        Ok((
            Common {
                repo: self.view_name,
                name: self.name,
                description: self.description.unwrap_or_default(),
                query_string: self.query_string,
                actions: self.actions,
                labels: self.labels,
                enabled: self.enabled,
                // Rounded up: throttling never ends before the configured time.
                throttle_time_seconds: ms.div_ceil(1000),
                throttle_field: self.throttle_field,
            },
            AlertKind::Legacy {
                query_start: self.query_start,
                throttle_time_millis: ms,
            },
        ))
    }
}

#[derive(InputObject)]
pub struct UpdateAlert {
    id: String,
    #[graphql(flatten)]
    alert: CreateAlert,
}

fn alert(ctx: &Context<'_>, a: StoredAlert) -> Result<Alert, Error> {
    alert_of(ctx, a).ok_or_else(|| Error::new("not a legacy alert"))
}

#[derive(Default)]
pub struct LegacyMutation;

#[Object]
impl LegacyMutation {
    /// Creates a legacy alert.
    async fn create_alert(&self, ctx: &Context<'_>, input: CreateAlert) -> Result<Alert, Error> {
        // Before the input's checks: a caller without the permission learns nothing.
        require_view(ctx, &input.view_name, ViewPermission::ChangeTriggers)?;
        let (c, k) = input.parts()?;
        alert(ctx, put(ctx, None, c, k).await?)
    }
    /// Replaces a legacy alert's configuration (also how it is enabled or disabled).
    async fn update_alert(&self, ctx: &Context<'_>, input: UpdateAlert) -> Result<Alert, Error> {
        require_view(ctx, &input.alert.view_name, ViewPermission::ChangeTriggers)?;
        let (c, k) = input.alert.parts()?;
        alert(ctx, put(ctx, Some(input.id), c, k).await?)
    }
    /// Deletes a legacy alert (LogScale's older name of `deleteLegacyAlert`).
    async fn delete_alert(&self, ctx: &Context<'_>, input: TriggerRef) -> Result<bool, Error> {
        delete(ctx, input.view_name, input.id, TYPE).await
    }
    async fn delete_legacy_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<bool, Error> {
        delete(ctx, input.view_name, input.id, TYPE).await
    }
    async fn clear_error_on_alert(
        &self,
        ctx: &Context<'_>,
        input: TriggerRef,
    ) -> Result<Alert, Error> {
        alert(
            ctx,
            clear_error(ctx, &input.view_name, &input.id, TYPE).await?,
        )
    }
}
