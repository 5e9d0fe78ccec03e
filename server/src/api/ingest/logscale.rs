//! The LogScale ingest protocols: `humio-structured` (events with tags and attributes),
//! `humio-unstructured` (lines for a parser), the raw endpoint (the whole body is one event) and
//! the JSON endpoint; their request shapes and error positions follow LogScale's so its
//! shippers work unchanged. Events a parser parsed carry its name as the `#type` tag.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::Value;

use super::{
    body_bytes, parse_json_body, parse_lines, publish, resolve_parser, target, timestamp_of, utf8,
};
use crate::api::ApiError;
use crate::ctx::NodeCtx;
use crate::ingest::timezone::{has_zone, Zone};
use crate::ingest::{Batch, QueuedEvent};
use crate::text::{flatten_json, now_ms, time};

/// Where in a request body an error is: `element i` or `element i event j`. Formatted only when
/// an error is reported (building the text for every event cost more than parsing it).
struct At(usize, Option<usize>);

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            None => write!(f, "element {}", self.0),
            Some(j) => write!(f, "element {} event {j}", self.0),
        }
    }
}

fn tags_of(
    v: Option<&Value>,
    at: &dyn std::fmt::Display,
) -> Result<BTreeMap<String, String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.trim_start_matches('#').to_string(), s.clone())),
                Value::Number(_) | Value::Bool(_) => {
                    Ok((k.trim_start_matches('#').to_string(), v.to_string()))
                }
                _ => Err(ApiError::bad_request(format!(
                    "{at}: tag {k:?} must be a string"
                ))),
            })
            .collect(),
        Some(_) => Err(ApiError::bad_request(format!(
            "{at}: tags must be an object"
        ))),
    }
}

/// `[{"tags": {...}, "events": [{"timestamp", "attributes", "rawstring"}]}]`
fn structured_batches(body: Value) -> Result<Vec<Batch>, ApiError> {
    let Value::Array(arr) = body else {
        return Err(ApiError::bad_request(
            "body must be a JSON array of {tags, events} objects",
        ));
    };
    let now = now_ms();
    let mut out = Vec::new();
    for (i, item) in arr.into_iter().enumerate() {
        let at = At(i, None);
        let Value::Object(mut obj) = item else {
            return Err(ApiError::bad_request(format!("{at} must be an object")));
        };
        let tags = tags_of(obj.get("tags"), &at)?;
        let Some(Value::Array(events)) = obj.remove("events") else {
            return Err(ApiError::bad_request(format!(
                "{at}: events must be an array"
            )));
        };
        let mut batch_events = Vec::with_capacity(events.len());
        let mut extra: BTreeMap<BTreeMap<String, String>, Vec<QueuedEvent>> = BTreeMap::new();
        for (j, ev) in events.into_iter().enumerate() {
            let at = At(i, Some(j));
            let Value::Object(mut e) = ev else {
                return Err(ApiError::bad_request(format!("{at} must be an object")));
            };
            let zone = match e.get("timezone") {
                None | Some(Value::Null) => None,
                Some(Value::String(z)) => Some((
                    Zone::parse(z).map_err(|m| ApiError::bad_request(format!("{at}: {m}")))?,
                    z.clone(),
                )),
                Some(_) => {
                    return Err(ApiError::bad_request(format!(
                        "{at}: timezone must be a string"
                    )))
                }
            };
            let (ts, nanos) = match e.get("timestamp") {
                Some(v) => {
                    let (ms, n) = timestamp_of(v, &at)?;
                    match (&zone, v) {
                        // A wall-clock time without a zone of its own is in the event's zone.
                        (Some((z, _)), Value::String(s))
                            if !has_zone(s) && time::parse_iso8601(s).is_some() =>
                        {
                            (z.local_to_utc(ms), n)
                        }
                        _ => (ms, n),
                    }
                }
                None => (now, 0),
            };
            let mut fields = BTreeMap::new();
            if let Some((_, name)) = zone {
                fields.insert("@timezone".to_string(), name);
            }
            if let Some(a) = e.get("attributes") {
                if !a.is_object() {
                    return Err(ApiError::bad_request(format!(
                        "{at}: attributes must be an object"
                    )));
                }
                flatten_json("", a, &mut fields);
            }
            // Taken out of the parsed body, not copied.
            let raw = match e.remove("rawstring") {
                Some(Value::String(s)) => s,
                Some(_) => {
                    return Err(ApiError::bad_request(format!(
                        "{at}: rawstring must be a string"
                    )))
                }
                None => e
                    .get("attributes")
                    .map(|a| a.to_string())
                    .unwrap_or_default(),
            };
            let ev_tags: BTreeMap<String, String> = fields
                .iter()
                .filter(|(k, _)| k.starts_with('#'))
                .map(|(k, v)| (k[1..].to_string(), v.clone()))
                .collect();
            fields.retain(|k, _| !k.starts_with('#'));
            let qe = QueuedEvent {
                timestamp: ts,
                nanos,
                raw,
                fields: fields.into_iter().collect(),
            };
            if ev_tags.is_empty() {
                batch_events.push(qe);
            } else {
                let mut t = tags.clone();
                t.extend(ev_tags);
                extra.entry(t).or_default().push(qe);
            }
        }
        out.push(Batch {
            tags,
            events: batch_events,
        });
        out.extend(
            extra
                .into_iter()
                .map(|(tags, events)| Batch { tags, events }),
        );
    }
    Ok(out)
}

/// `[{"fields": {...}, "tags": {...}, "messages": [...], "type": "parser"}]`
fn unstructured_batches(
    node: &NodeCtx,
    repo: &str,
    body: &Value,
    default_parser: &str,
) -> Result<Vec<Batch>, ApiError> {
    let arr = body.as_array().ok_or_else(|| {
        ApiError::bad_request("body must be a JSON array of {fields, messages} objects")
    })?;
    let mut out = Vec::new();
    let mut specs: std::collections::HashMap<String, crate::ingest::script::ParserSpec> =
        Default::default();
    for (i, item) in arr.iter().enumerate() {
        let at = format!("element {i}");
        let obj = item
            .as_object()
            .ok_or_else(|| ApiError::bad_request(format!("{at} must be an object")))?;
        let msgs = obj
            .get("messages")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ApiError::bad_request(format!("{at}: messages must be an array of strings"))
            })?;
        let lines: Vec<&str> = msgs
            .iter()
            .map(|m| {
                m.as_str().ok_or_else(|| {
                    ApiError::bad_request(format!("{at}: messages must be an array of strings"))
                })
            })
            .collect::<Result<_, _>>()?;
        let parser = match obj.get("type") {
            Some(Value::String(p)) => p.as_str(),
            None | Some(Value::Null) => default_parser,
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "{at}: type must be a parser name"
                )))
            }
        };
        // Compiled once per parser per request, not once per element under the Global lock.
        if !specs.contains_key(parser) {
            specs.insert(parser.to_string(), resolve_parser(node, repo, parser)?);
        }
        let spec = &specs[parser];
        let mut tags = tags_of(obj.get("tags"), &at)?;
        // LogScale tags each event with the parser that parsed it.
        tags.entry("type".to_string())
            .or_insert_with(|| parser.to_string());
        let mut fields = BTreeMap::new();
        if let Some(f) = obj.get("fields") {
            if !f.is_object() {
                return Err(ApiError::bad_request(format!(
                    "{at}: fields must be an object"
                )));
            }
            flatten_json("", f, &mut fields);
        }
        out.extend(parse_lines(lines.into_iter(), spec, &tags, &fields)?);
    }
    Ok(out)
}

fn ok_json() -> Response {
    (StatusCode::OK, Json(serde_json::json!({}))).into_response()
}

/// `humio-structured` and `humio-unstructured` bodies, with the repository from the token or
/// (older paths) from the URL.
async fn json_batches_endpoint(
    node: &NodeCtx,
    headers: &HeaderMap,
    path_repo: Option<&str>,
    body: Bytes,
    structured: bool,
) -> Result<Response, ApiError> {
    let t = target(node, headers, path_repo)?;
    let v = parse_json_body(&body_bytes(node, headers, body)?)?;
    let batches = if structured {
        structured_batches(v)?
    } else {
        unstructured_batches(node, &t.repo, &v, t.parser.as_deref().unwrap_or("kv"))?
    };
    publish(node, &t.repo, batches).await?;
    Ok(ok_json())
}

/// `humio-structured`; also the older `.../{repo}/ingest` paths.
pub(super) async fn structured(
    State(node): State<Arc<NodeCtx>>,
    repo: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repo = repo.map(|Path(r)| r);
    json_batches_endpoint(&node, &headers, repo.as_deref(), body, true).await
}

/// `humio-unstructured`; also the older `.../{repo}/ingest-messages` paths.
pub(super) async fn unstructured(
    State(node): State<Arc<NodeCtx>>,
    repo: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repo = repo.map(|Path(r)| r);
    json_batches_endpoint(&node, &headers, repo.as_deref(), body, false).await
}

/// `?parser=` of the raw endpoint.
#[derive(serde::Deserialize)]
pub(super) struct ParserParam {
    parser: Option<String>,
}

/// The whole body is one event, as LogScale documents its raw endpoint (a trailing newline is
/// not part of it), parsed with `?parser=` or the token's parser (then `#type` names it), else
/// stored unparsed.
pub(super) async fn raw(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    Query(q): Query<ParserParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = target(&node, &headers, None)?;
    let text = utf8(body_bytes(&node, &headers, body)?)?;
    let event = text.trim_end_matches(['\n', '\r']);
    if event.trim().is_empty() {
        return Err(ApiError::bad_request(
            "the body is empty; the raw endpoint stores the whole body as one event",
        ));
    }
    let named = q.parser.or(t.parser);
    let parser = resolve_parser(&node, &t.repo, named.as_deref().unwrap_or("none"))?;
    let tags: BTreeMap<String, String> =
        named.map(|p| ("type".to_string(), p)).into_iter().collect();
    let batches = parse_lines(std::iter::once(event), &parser, &tags, &BTreeMap::new())?;
    publish(&node, &t.repo, batches).await?;
    Ok(ok_json())
}

/// A JSON object or an array of objects; each is one event parsed with the token's parser
/// (json when none is assigned).
pub(super) async fn json(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = target(&node, &headers, None)?;
    let v = parse_json_body(&body_bytes(&node, &headers, body)?)?;
    let items: Vec<&Value> = match &v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![&v],
        _ => {
            return Err(ApiError::bad_request(
                "body must be a JSON object or an array of objects",
            ))
        }
    };
    let mut lines = Vec::with_capacity(items.len());
    for (i, it) in items.iter().enumerate() {
        if !it.is_object() {
            return Err(ApiError::bad_request(format!(
                "element {i} must be an object"
            )));
        }
        lines.push(it.to_string());
    }
    let parser = resolve_parser(&node, &t.repo, t.parser.as_deref().unwrap_or("json"))?;
    let tags: BTreeMap<String, String> = t
        .parser
        .map(|p| ("type".to_string(), p))
        .into_iter()
        .collect();
    let batches = parse_lines(
        lines.iter().map(String::as_str),
        &parser,
        &tags,
        &BTreeMap::new(),
    )?;
    publish(&node, &t.repo, batches).await?;
    Ok(ok_json())
}
