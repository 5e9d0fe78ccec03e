//! What Global stores for actions, alerts and their state, and reading it back.
//!
//! Every object is a Global item (`GlobalEvent::PutItem`) of its repository with a JSON body
//! owned here:
//! - an action: kind `Action`, body [`ActionSpec`];
//! - an aggregate alert, filter alert or scheduled search: kind `Alert`, body [`AlertSpec`]
//!   (the `type` field tells which);
//! - the evaluator's state of an alert: kind `Alert`, id `<alert id>#state`, body
//!   [`AlertState`]. It is a sibling item, not part of the alert's body, so a user editing the
//!   alert and the evaluator recording a trigger never conflict over one item's version.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strata_global::{ItemKind, State};

/// Suffix of the id of an alert's state item.
pub const STATE_SUFFIX: &str = "#state";

/// The id of `alert_id`'s state item.
pub fn state_id(alert_id: &str) -> String {
    format!("{alert_id}{STATE_SUFFIX}")
}

/// One configured action.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ActionSpec {
    #[serde(rename_all = "camelCase")]
    Webhook {
        method: String,
        url: String,
        headers: Vec<(String, String)>,
        body_template: String,
        ignore_ssl: bool,
        use_proxy: bool,
    },
    #[serde(rename_all = "camelCase")]
    Slack {
        url: String,
        /// (title, value template) of each Slack attachment field.
        fields: Vec<(String, String)>,
        use_proxy: bool,
    },
    #[serde(rename_all = "camelCase")]
    Email {
        recipients: Vec<String>,
        subject_template: String,
        body_template: String,
        attach_csv: bool,
        use_proxy: bool,
    },
    /// Ingests the triggering events into the repository of an ingest token. Only the
    /// token's SHA-256 is kept; the repository is looked up when the action runs, so a
    /// removed token stops the action.
    #[serde(rename_all = "camelCase")]
    HumioRepo { ingest_token_hash: String },
    #[serde(rename_all = "camelCase")]
    PagerDuty {
        severity: String,
        routing_key: String,
        use_proxy: bool,
    },
    #[serde(rename_all = "camelCase")]
    OpsGenie {
        api_url: String,
        genie_key: String,
        use_proxy: bool,
    },
}

impl ActionSpec {
    /// LogScale's type name of the action.
    pub fn type_name(&self) -> &'static str {
        match self {
            ActionSpec::Webhook { .. } => "WebhookAction",
            ActionSpec::Slack { .. } => "SlackAction",
            ActionSpec::Email { .. } => "EmailAction",
            ActionSpec::HumioRepo { .. } => "HumioRepoAction",
            ActionSpec::PagerDuty { .. } => "PagerDutyAction",
            ActionSpec::OpsGenie { .. } => "OpsGenieAction",
        }
    }
}

/// Which timestamp an alert's window is over (LogScale: `QueryTimestampType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TimestampType {
    #[default]
    EventTimestamp,
    IngestTimestamp,
}

/// LogScale's `TriggerMode`: what an aggregate alert does with a result that reports missing
/// data (`evaluator::on_incomplete`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TriggerMode {
    #[default]
    CompleteMode,
    ImmediateMode,
}

/// The kinds of trigger.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum AlertKind {
    /// An aggregate query over the last `search_interval_seconds`, evaluated every poll
    /// interval; triggers when the result has rows.
    #[serde(rename_all = "camelCase")]
    Aggregate {
        search_interval_seconds: u64,
        trigger_mode: TriggerMode,
        query_timestamp_type: TimestampType,
    },
    /// Per event: every event the (non-aggregate) query keeps triggers once.
    Filter,
    /// A query run on a cron schedule over a relative window.
    #[serde(rename_all = "camelCase")]
    Scheduled {
        query_start: String,
        query_end: String,
        schedule: String,
        time_zone: String,
        backfill_limit: u32,
    },
    /// LogScale's legacy (standard) alert: the query over the last `query_start` (a relative
    /// time), evaluated every poll interval like a live query's window; a non-empty result
    /// (events or aggregate rows) triggers. `throttle_time_millis` is LogScale's field; the
    /// spec's `throttle_time_seconds` holds it rounded up for the shared throttle logic.
    #[serde(rename_all = "camelCase")]
    Legacy {
        query_start: String,
        throttle_time_millis: u64,
    },
}

impl AlertKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            AlertKind::Aggregate { .. } => "AggregateAlert",
            AlertKind::Filter => "FilterAlert",
            AlertKind::Scheduled { .. } => "ScheduledSearch",
            AlertKind::Legacy { .. } => "Alert",
        }
    }
}

/// One aggregate alert, filter alert or scheduled search (the name is the item's name).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertSpec {
    #[serde(flatten)]
    pub kind: AlertKind,
    #[serde(default)]
    pub description: String,
    pub query_string: String,
    /// Action ids (names given at creation are resolved to ids).
    pub action_ids: Vec<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    pub enabled: bool,
    /// 0 = no throttling.
    #[serde(default)]
    pub throttle_time_seconds: u64,
    #[serde(default)]
    pub throttle_field: Option<String>,
    /// When it was created (epoch ms): a scheduled search never backfills before it.
    pub created_ms: i64,
}

/// The evaluator's record of an alert, kept in Global so another node resumes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertState {
    /// When actions last ran for a trigger (epoch ms).
    #[serde(default)]
    pub last_triggered: Option<i64>,
    /// The last evaluation or action failure, cleared by the next success.
    #[serde(default)]
    pub last_error: Option<String>,
    #[serde(default)]
    pub last_error_time: Option<i64>,
    /// The end of the last evaluation that succeeded (epoch ms). Written at most once a
    /// minute when nothing else changed.
    #[serde(default)]
    pub last_successful_poll: Option<i64>,
    /// Throttle by field: value → when it last triggered (epoch ms). Without a throttle field
    /// `last_triggered` throttles the whole alert.
    #[serde(default)]
    pub throttled_values: BTreeMap<String, i64>,
    /// Filter alerts: every event with an ingest time before this (epoch ms) has been
    /// evaluated, and so has every event at exactly this ingest time whose `@id` is ≤
    /// `cursor_id` (all of them when `cursor_id` is None).
    #[serde(default)]
    pub cursor: Option<i64>,
    #[serde(default)]
    pub cursor_id: Option<String>,
    /// Scheduled searches: the schedule time of the last run (epoch ms).
    #[serde(default)]
    pub last_scheduled_run: Option<i64>,
    /// Failed evaluations in a row (for the backoff; 0 after a success).
    #[serde(default)]
    pub failures: u32,
}

impl AlertState {
    /// The throttle's end for the whole alert (no throttle field), if throttled at `now`.
    pub fn throttled_until(&self, spec: &AlertSpec, now: i64) -> Option<i64> {
        if spec.throttle_time_seconds == 0 || spec.throttle_field.is_some() {
            return None;
        }
        let until = self.last_triggered? + throttle_ms(spec);
        (until > now).then_some(until)
    }

    /// Whether field value `v` is throttled at `now`.
    pub fn value_throttled(&self, spec: &AlertSpec, v: &str, now: i64) -> bool {
        spec.throttle_time_seconds > 0
            && self
                .throttled_values
                .get(v)
                .is_some_and(|t| t + throttle_ms(spec) > now)
    }

    /// Forgets field values whose throttle ended (keeps the state small).
    pub fn prune_throttle(&mut self, spec: &AlertSpec, now: i64) {
        let ms = throttle_ms(spec);
        self.throttled_values.retain(|_, t| *t + ms > now);
    }
}

pub fn throttle_ms(spec: &AlertSpec) -> i64 {
    (spec.throttle_time_seconds as i64).saturating_mul(1000)
}

/// An alert as read from Global.
#[derive(Clone, Debug)]
pub struct StoredAlert {
    pub repo: String,
    pub id: String,
    pub name: String,
    pub spec: AlertSpec,
    /// The configuration's item version (changes when a user edits the alert).
    pub version: u64,
    /// The state and its item version (`None` before the first write).
    pub state: AlertState,
    pub state_version: Option<u64>,
}

/// An action as read from Global.
#[derive(Clone, Debug)]
pub struct StoredAction {
    pub repo: String,
    pub id: String,
    pub name: String,
    pub spec: ActionSpec,
}

/// Every alert of every repository and view (or of `repo`), with its state. Bodies that do not decode
/// are logged and skipped (they were written by this module; one bad item must not stop the
/// others).
pub fn alerts(s: &State, repo: Option<&str>) -> Vec<StoredAlert> {
    let mut out = Vec::new();
    for (name, items) in s.all_domain_items() {
        if repo.is_some_and(|want| want != name) {
            continue;
        }
        let Some(items) = items.get(&ItemKind::Alert) else {
            continue;
        };
        for (id, item) in items.iter().filter(|(id, _)| !id.ends_with(STATE_SUFFIX)) {
            let spec = match serde_json::from_str::<AlertSpec>(&item.body) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(repo = %name, id = %id, error = %e, "unreadable alert body");
                    continue;
                }
            };
            let st = items.get(&state_id(id));
            let state = st
                .and_then(|i| serde_json::from_str::<AlertState>(&i.body).ok())
                .unwrap_or_default();
            out.push(StoredAlert {
                repo: name.clone(),
                id: id.clone(),
                name: item.name.clone(),
                spec,
                version: item.version,
                state,
                state_version: st.map(|i| i.version),
            });
        }
    }
    out
}

/// State items whose alert no longer exists: (repo, state item id).
pub fn orphan_states(s: &State) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, items) in s.all_domain_items() {
        if let Some(items) = items.get(&ItemKind::Alert) {
            for id in items.keys() {
                if let Some(alert) = id.strip_suffix(STATE_SUFFIX) {
                    if !items.contains_key(alert) {
                        out.push((name.clone(), id.clone()));
                    }
                }
            }
        }
    }
    out
}

/// The actions of `repo`.
pub fn actions(s: &State, repo: &str) -> Vec<StoredAction> {
    let Some(items) = s
        .domain_items(repo)
        .and_then(|items| items.get(&ItemKind::Action))
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|(id, item)| match serde_json::from_str(&item.body) {
            Ok(spec) => Some(StoredAction {
                repo: repo.to_string(),
                id: id.clone(),
                name: item.name.clone(),
                spec,
            }),
            Err(e) => {
                tracing::warn!(repo, id = %id, error = %e, "unreadable action body");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_with_their_type_tag() {
        let a = AlertSpec {
            kind: AlertKind::Scheduled {
                query_start: "1h".into(),
                query_end: "now".into(),
                schedule: "0 * * * *".into(),
                time_zone: "Europe/Copenhagen".into(),
                backfill_limit: 2,
            },
            description: "d".into(),
            query_string: "error | count()".into(),
            action_ids: vec!["a1".into()],
            labels: vec![],
            enabled: true,
            throttle_time_seconds: 0,
            throttle_field: None,
            created_ms: 5,
        };
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"type\":\"scheduled\""), "{json}");
        assert_eq!(serde_json::from_str::<AlertSpec>(&json).unwrap(), a);
        let w = ActionSpec::Webhook {
            method: "POST".into(),
            url: "http://x".into(),
            headers: vec![("a".into(), "b".into())],
            body_template: "{events}".into(),
            ignore_ssl: false,
            use_proxy: true,
        };
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<ActionSpec>(&json).unwrap(), w);
    }

    #[test]
    fn throttling_by_time_and_by_field() {
        let mut spec = AlertSpec {
            kind: AlertKind::Filter,
            description: String::new(),
            query_string: "x".into(),
            action_ids: vec![],
            labels: vec![],
            enabled: true,
            throttle_time_seconds: 10,
            throttle_field: None,
            created_ms: 0,
        };
        let mut st = AlertState {
            last_triggered: Some(1_000),
            ..Default::default()
        };
        assert_eq!(st.throttled_until(&spec, 5_000), Some(11_000));
        assert_eq!(st.throttled_until(&spec, 11_000), None);
        spec.throttle_field = Some("user".into());
        assert_eq!(
            st.throttled_until(&spec, 5_000),
            None,
            "throttled per value"
        );
        st.throttled_values.insert("alice".into(), 1_000);
        assert!(st.value_throttled(&spec, "alice", 10_999));
        assert!(!st.value_throttled(&spec, "alice", 11_000));
        assert!(!st.value_throttled(&spec, "bob", 2_000));
        st.prune_throttle(&spec, 11_000);
        assert!(st.throttled_values.is_empty());
    }
}
