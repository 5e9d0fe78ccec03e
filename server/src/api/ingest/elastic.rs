//! Elasticsearch `_bulk`, so Beats, Logstash and other Elastic shippers can send here: action
//! and document line pairs in, an Elastic-shaped bulk answer out.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::{body_bytes, publish, target, utf8};
use crate::api::ApiError;
use crate::ctx::NodeCtx;
use crate::ingest::parsers::find_timestamp;
use crate::ingest::{Batch, QueuedEvent};
use crate::text::{flatten_json, now_ms};

/// Elasticsearch `_bulk`: action line, then document line; `index` and `create` actions.
pub(super) async fn elastic_bulk(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = target(&node, &headers, None)?;
    let text = utf8(body_bytes(&node, &headers, body)?)?;
    let now = now_ms();
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let mut events = Vec::new();
    let mut items = Vec::new();
    while let Some((ln, action)) = lines.next() {
        let a: Value = serde_json::from_str(action).map_err(|e| {
            ApiError::bad_request(format!("line {}: invalid JSON action: {e}", ln + 1))
        })?;
        let kind = a
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "line {}: action must be an object like {{\"index\":{{}}}}",
                    ln + 1
                ))
            })?;
        if kind != "index" && kind != "create" {
            return Err(ApiError::bad_request(format!(
                "line {}: unsupported bulk action {kind:?} (index and create are supported)",
                ln + 1
            )));
        }
        let (dn, doc) = lines.next().ok_or_else(|| {
            ApiError::bad_request(format!("line {}: action without a document", ln + 1))
        })?;
        let d: Value = serde_json::from_str(doc).map_err(|e| {
            ApiError::bad_request(format!("line {}: invalid JSON document: {e}", dn + 1))
        })?;
        if !d.is_object() {
            return Err(ApiError::bad_request(format!(
                "line {}: document must be an object",
                dn + 1
            )));
        }
        let mut fields = BTreeMap::new();
        flatten_json("", &d, &mut fields);
        let (ts, nanos) = find_timestamp(&fields).unwrap_or((now, 0));
        let raw = match d.get("message") {
            Some(Value::String(m)) if fields.len() == 1 => m.clone(),
            _ => doc.to_string(),
        };
        events.push(QueuedEvent {
            timestamp: ts,
            nanos,
            raw,
            fields: fields.into_iter().collect(),
        });
        items.push(serde_json::json!({ kind: {"status": 201, "result": "created"} }));
    }
    publish(
        &node,
        &t.repo,
        vec![Batch {
            tags: BTreeMap::new(),
            events,
        }],
    )
    .await?;
    Ok((
        StatusCode::OK,
        Json(serde_json::json!({"took": 0, "errors": false, "items": items})),
    )
        .into_response())
}
