//! Alert activity as events in the `humio-activity` repository (LogScale keeps its alert
//! errors there too), so users can search and alert on them. Written when an alert starts
//! failing, when its error changes, and when it recovers — not on every retry. The repository
//! is created on first use. Best effort: a failure to record is logged, never the alert's
//! error.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use strata_global::{GlobalEvent, Outcome};

use super::model::StoredAlert;
use crate::ctx::NodeCtx;
use crate::ingest::{Batch, QueuedEvent};

pub const ACTIVITY_REPO: &str = "humio-activity";

static REPO_READY: AtomicBool = AtomicBool::new(false);

/// Records that `alert` failed with `error` (or recovered, when `error` is None).
pub async fn record(ctx: &Arc<NodeCtx>, alert: &StoredAlert, error: Option<&str>) {
    if let Err(e) = write(ctx, alert, error).await {
        tracing::warn!(alert = %alert.id, error = %e, "could not record alert activity");
    }
}

async fn write(ctx: &Arc<NodeCtx>, alert: &StoredAlert, error: Option<&str>) -> Result<(), String> {
    if !REPO_READY.load(Ordering::Relaxed) {
        let exists = ctx
            .global
            .read(|s| s.repositories.contains_key(ACTIVITY_REPO));
        if !exists {
            match ctx
                .global
                .publish(GlobalEvent::CreateRepository {
                    name: ACTIVITY_REPO.into(),
                    description: "Alert and action activity (errors, recoveries)".into(),
                })
                .await
            {
                // Rejected: another node created it first.
                Ok((_, Outcome::Applied | Outcome::Rejected(_))) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        REPO_READY.store(true, Ordering::Relaxed);
    }
    let now = crate::text::now_ms();
    let (severity, message) = match error {
        Some(e) => ("Error", e.to_string()),
        None => (
            "Info",
            "recovered: the last evaluation succeeded".to_string(),
        ),
    };
    let fields: Vec<(String, String)> = [
        ("category", "Alerts"),
        ("severity", severity),
        ("triggerType", alert.spec.kind.type_name()),
        ("triggerId", alert.id.as_str()),
        ("triggerName", alert.name.as_str()),
        ("repo", alert.repo.as_str()),
        ("node", &ctx.cfg.node_id.to_string()),
        ("message", message.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let raw = serde_json::Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect(),
    )
    .to_string();
    ctx.ingester
        .publish(
            ACTIVITY_REPO,
            vec![Batch {
                tags: BTreeMap::new(),
                events: vec![QueuedEvent {
                    timestamp: now,
                    nanos: 0,
                    raw,
                    fields,
                }],
            }],
            now,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}
