//! LogScale-compatible ingest endpoints. A request is parsed completely before anything is
//! published, so a malformed request changes nothing (400 naming the problem); a request is
//! answered 200 only after every event is durable in the ingest queue (else 503).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use super::{ApiError, Caller};
use crate::ingest::parsers::{self, find_timestamp};
use crate::ingest::script::ParserSpec;
use crate::ingest::{Batch, QueuedEvent};
use crate::node::NodeCtx;
use crate::text::{flatten_json, now_ms, time};

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/api/v1/ingest/humio-structured", post(structured))
        .route("/api/v1/ingest/humio-unstructured", post(unstructured))
        .route("/api/v1/ingest/raw", post(raw))
        .route("/api/v1/ingest/json", post(json))
        .route("/api/v1/ingest/hec", post(hec))
        .route("/services/collector", post(hec))
        .route("/services/collector/event", post(hec))
        .route("/api/v1/ingest/hec/raw", post(hec_raw))
        .route("/services/collector/raw", post(hec_raw))
        .route("/api/v1/ingest/elastic-bulk", post(elastic_bulk))
        .route("/api/v1/ingest/elastic-bulk/_bulk", post(elastic_bulk))
        .route("/_bulk", post(elastic_bulk))
        .route("/api/v1/dataspaces/{repo}/ingest", post(structured))
        .route(
            "/api/v1/dataspaces/{repo}/ingest-messages",
            post(unstructured),
        )
        .route("/api/v1/repositories/{repo}/ingest", post(structured))
        .route(
            "/api/v1/repositories/{repo}/ingest-messages",
            post(unstructured),
        )
}

/// The target of an ingest request: repository and default parser.
struct Target {
    repo: String,
    parser: Option<String>,
}

fn target(
    node: &NodeCtx,
    headers: &HeaderMap,
    path_repo: Option<&str>,
) -> Result<Target, ApiError> {
    match node.authenticate(headers)? {
        Caller::Ingest { repo, parser, .. } => {
            if let Some(p) = path_repo {
                if p != repo {
                    return Err(ApiError::forbidden(format!(
                        "this ingest token is for repository {repo:?}, not {p:?}"
                    )));
                }
            }
            Ok(Target { repo, parser })
        }
        Caller::User { is_root: true, .. } => {
            let repo = path_repo.ok_or_else(|| {
                ApiError::forbidden(
                    "ingest with an API token needs a repository in the path; use an ingest token",
                )
            })?;
            if !node.global.read(|s| s.repositories.contains_key(repo)) {
                return Err(ApiError::not_found(format!(
                    "repository {repo:?} does not exist"
                )));
            }
            Ok(Target {
                repo: repo.to_string(),
                parser: None,
            })
        }
        Caller::User { username, .. } => Err(ApiError::forbidden(format!(
            "user {username} may not ingest"
        ))),
    }
}

/// The body, gunzipped when `Content-Encoding: gzip` (bounded by the body limit).
fn body_bytes(node: &NodeCtx, headers: &HeaderMap, body: Bytes) -> Result<Vec<u8>, ApiError> {
    let gz = headers
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if !gz {
        return Ok(body.to_vec());
    }
    let limit = node.cfg.max_body_bytes as u64;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(&body[..])
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::bad_request(format!("body is not valid gzip: {e}")))?;
    if out.len() as u64 > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("decompressed body exceeds {limit} bytes"),
        ));
    }
    Ok(out)
}

fn utf8(bytes: Vec<u8>) -> Result<String, ApiError> {
    String::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(format!(
            "body is not valid UTF-8 at byte {}",
            e.utf8_error().valid_up_to()
        ))
    })
}

fn parse_json_body(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

async fn publish(node: &NodeCtx, repo: &str, batches: Vec<Batch>) -> Result<usize, ApiError> {
    let n = match node.ingester.publish(repo, batches, now_ms()).await {
        Ok(n) => n,
        Err(e) => {
            crate::metrics::INGEST_REJECTED.inc();
            return Err(e.into());
        }
    };
    crate::metrics::INGEST_EVENTS.inc_by(n as u64);
    crate::metrics::INGEST_REQUESTS.inc();
    Ok(n)
}

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

fn timestamp_of(v: &Value, at: &dyn std::fmt::Display) -> Result<(i64, u32), ApiError> {
    match v {
        Value::String(s) => time::parse_any(s).ok_or_else(|| {
            ApiError::bad_request(format!("{at}: timestamp {s:?} is not ISO 8601 or epoch"))
        }),
        Value::Number(n) => n
            .as_f64()
            .and_then(time::parse_epoch)
            .ok_or_else(|| ApiError::bad_request(format!("{at}: timestamp {n} is out of range"))),
        _ => Err(ApiError::bad_request(format!(
            "{at}: timestamp must be a string or a number"
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
            let (ts, nanos) = match e.get("timestamp") {
                Some(v) => timestamp_of(v, &at)?,
                None => (now, 0),
            };
            let mut fields = BTreeMap::new();
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

/// Parses lines with a parser into batches keyed by the tags the parser found.
fn parse_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    parser: &ParserSpec,
    base_tags: &BTreeMap<String, String>,
    base_fields: &BTreeMap<String, String>,
) -> Result<Vec<Batch>, ApiError> {
    let now = now_ms();
    let mut by_tags: BTreeMap<BTreeMap<String, String>, Vec<QueuedEvent>> = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let Some((tags, mut ev)) = parsers::event_from_line(parser, line.to_string(), now)
            .map_err(|e| ApiError::bad_request(format!("line {}: {e}", i + 1)))?
        else {
            continue;
        };
        for (k, v) in base_fields {
            if !ev.fields.iter().any(|(n, _)| n == k) {
                ev.fields.push((k.clone(), v.clone()));
            }
        }
        let mut t = base_tags.clone();
        t.extend(tags);
        by_tags.entry(t).or_default().push(ev);
    }
    Ok(by_tags
        .into_iter()
        .map(|(tags, events)| Batch { tags, events })
        .collect())
}

/// The parser `name` of repository `repo`: a repository parser script or a built-in.
fn resolve_parser(node: &NodeCtx, repo: &str, name: &str) -> Result<ParserSpec, ApiError> {
    node.global
        .read(|s| ParserSpec::resolve(s, repo, name))
        .map_err(ApiError::bad_request)
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
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "{at}: type must be a parser name"
                )))
            }
            None => default_parser,
        };
        let parser = resolve_parser(node, repo, parser)?;
        let tags = tags_of(obj.get("tags"), &at)?;
        let mut fields = BTreeMap::new();
        if let Some(f) = obj.get("fields") {
            if !f.is_object() {
                return Err(ApiError::bad_request(format!(
                    "{at}: fields must be an object"
                )));
            }
            flatten_json("", f, &mut fields);
        }
        out.extend(parse_lines(lines.into_iter(), &parser, &tags, &fields)?);
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
async fn structured(
    State(node): State<Arc<NodeCtx>>,
    repo: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repo = repo.map(|Path(r)| r);
    json_batches_endpoint(&node, &headers, repo.as_deref(), body, true).await
}

/// `humio-unstructured`; also the older `.../{repo}/ingest-messages` paths.
async fn unstructured(
    State(node): State<Arc<NodeCtx>>,
    repo: Option<Path<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repo = repo.map(|Path(r)| r);
    json_batches_endpoint(&node, &headers, repo.as_deref(), body, false).await
}

#[derive(serde::Deserialize)]
struct ParserParam {
    parser: Option<String>,
}

/// One event per non-empty line, parsed with `?parser=`, the token's parser, or `none`.
async fn raw(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    Query(q): Query<ParserParam>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let t = target(&node, &headers, None)?;
    let text = utf8(body_bytes(&node, &headers, body)?)?;
    let parser = q.parser.or(t.parser).unwrap_or_else(|| "none".into());
    let parser = resolve_parser(&node, &t.repo, &parser)?;
    let lines = text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty());
    let batches = parse_lines(lines, &parser, &BTreeMap::new(), &BTreeMap::new())?;
    publish(&node, &t.repo, batches).await?;
    Ok(ok_json())
}

/// A JSON object or an array of objects; each is one event parsed with the token's parser
/// (json when none is assigned).
async fn json(
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
    let batches = parse_lines(
        lines.iter().map(String::as_str),
        &parser,
        &BTreeMap::new(),
        &BTreeMap::new(),
    )?;
    publish(&node, &t.repo, batches).await?;
    Ok(ok_json())
}

fn hec_ok() -> Response {
    (
        StatusCode::OK,
        Json(serde_json::json!({"text": "Success", "code": 0})),
    )
        .into_response()
}

/// Splunk HEC: concatenated JSON objects `{"time", "event", "fields", "host", "source", "sourcetype"}`.
async fn hec(
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

async fn hec_raw(
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

/// Elasticsearch `_bulk`: action line, then document line; `index` and `create` actions.
async fn elastic_bulk(
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
