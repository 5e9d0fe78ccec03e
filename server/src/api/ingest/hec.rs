//! Splunk HTTP Event Collector: concatenated JSON events and the raw-lines variant, answered
//! the way HEC clients expect (`{"text": "Success", "code": 0}`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::{body_bytes, parse_lines, publish, resolve_parser, target, timestamp_of, utf8};
use crate::api::ApiError;
use crate::ctx::NodeCtx;
use crate::ingest::parsers::find_timestamp;
use crate::ingest::{Batch, QueuedEvent};
use crate::text::{flatten_json, now_ms};

fn hec_ok() -> Response {
    (
        StatusCode::OK,
        Json(serde_json::json!({"text": "Success", "code": 0})),
    )
        .into_response()
}

/// Splunk HEC: concatenated JSON objects `{"time", "event", "fields", "host", "source", "sourcetype"}`.
pub(super) async fn hec(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = target(&node, &headers, None)?;
    let bytes = body_bytes(&node, &headers, body)?;
    let now = now_ms();
    let mut events = Vec::new();
    for (i, item) in serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<Value>()
        .enumerate()
    {
        let at = format!("event {i}");
        let item = item.map_err(|e| ApiError::bad_request(format!("{at}: invalid JSON: {e}")))?;
        let obj = item
            .as_object()
            .ok_or_else(|| ApiError::bad_request(format!("{at} must be an object")))?;
        let ev = obj
            .get("event")
            .ok_or_else(|| ApiError::bad_request(format!("{at}: missing \"event\"")))?;
        let mut fields = BTreeMap::new();
        let raw = match ev {
            Value::String(s) => s.clone(),
            Value::Object(_) => {
                flatten_json("", ev, &mut fields);
                ev.to_string()
            }
            other => other.to_string(),
        };
        let (ts, nanos) = match obj.get("time") {
            Some(v) => timestamp_of(v, &at)?,
            None => find_timestamp(&fields).unwrap_or((now, 0)),
        };
        if let Some(f) = obj.get("fields") {
            if !f.is_object() {
                return Err(ApiError::bad_request(format!(
                    "{at}: fields must be an object"
                )));
            }
            flatten_json("", f, &mut fields);
        }
        for k in ["host", "source", "sourcetype", "index"] {
            if let Some(Value::String(s)) = obj.get(k) {
                fields.insert(k.to_string(), s.clone());
            }
        }
        events.push(QueuedEvent {
            timestamp: ts,
            nanos,
            raw,
            fields: fields.into_iter().collect(),
        });
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
    Ok(hec_ok())
}

pub(super) async fn hec_raw(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = target(&node, &headers, None)?;
    let text = utf8(body_bytes(&node, &headers, body)?)?;
    let parser = resolve_parser(&node, &t.repo, t.parser.as_deref().unwrap_or("none"))?;
    let lines = text.lines().filter(|l| !l.trim().is_empty());
    publish(
        &node,
        &t.repo,
        parse_lines(lines, &parser, &BTreeMap::new(), &BTreeMap::new())?,
    )
    .await?;
    Ok(hec_ok())
}
