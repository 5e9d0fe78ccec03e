//! The inputs of the trigger mutations (`CreateAggregateAlert`, `CreateFilterAlert`,
//! `CreateScheduledSearch`, their `Update…` twins, `TriggerRef`), each checked into the
//! stored configuration; errors name the field.

use async_graphql::{Error, InputObject};

use super::triggers::{QueryOwnershipType, QueryTimestampType, TriggerMode};
use crate::alerts::model::{self, AlertKind, TimestampType};
use crate::alerts::{schedule, AlertError};

const MAX_SECONDS: i64 = 366 * 86_400;

pub(super) fn invalid(e: AlertError) -> Error {
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

/// The parts every trigger's input has.
pub(super) struct Common {
    pub repo: String,
    pub name: String,
    pub description: String,
    pub query_string: String,
    pub actions: Vec<String>,
    pub labels: Vec<String>,
    pub enabled: bool,
    pub throttle_time_seconds: u64,
    pub throttle_field: Option<String>,
}

#[derive(InputObject)]
pub struct CreateAggregateAlert {
    pub(super) view_name: String,
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
    pub(super) fn parts(self) -> Result<(Common, AlertKind), Error> {
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
    pub(super) view_name: String,
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
    pub(super) fn parts(self) -> Result<(Common, AlertKind), Error> {
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
    pub(super) view_name: String,
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
    pub(super) fn parts(self) -> Result<(Common, AlertKind), Error> {
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
            pub id: String,
            #[graphql(flatten)]
            pub trigger: $create,
        }
    };
}
update_input!(UpdateAggregateAlert, CreateAggregateAlert);
update_input!(UpdateFilterAlert, CreateFilterAlert);
update_input!(UpdateScheduledSearch, CreateScheduledSearch);

/// Names one trigger (delete, enable, disable, clear error).
#[derive(InputObject)]
pub struct TriggerRef {
    pub view_name: String,
    pub id: String,
}
