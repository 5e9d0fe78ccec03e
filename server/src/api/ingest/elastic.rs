//! Elasticsearch `_bulk`, so the official clients, Beats, Logstash and Fluent Bit can send here
//! with nothing changed but the URL and the token. What they check, taken from their source:
//! every response carries `X-Elastic-Product: Elasticsearch` (elasticsearch-py 8 refuses a 2xx
//! without it); `GET`/`HEAD` on the base URL answers version info (Beats and Logstash ping it
//! on connect); `_bulk` and `/{index}/_bulk` take `POST` (Beats, Fluent Bit) and `PUT`
//! (elasticsearch-py 8 sends its bulk as `PUT`, which is why `helpers.bulk` got 405 before),
//! any of the ndjson content types; the answer has one item per action, in order, each
//! `{action: {_index, _id, status, result | error}}`, and `errors` is true when any item failed.
//!
//! Events are immutable, as in LogScale: `index` and `create` store the document; `delete`
//! answers `not_found` and `update` a `document_missing_exception`, item by item.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{body_bytes, filter_path, publish, target, utf8};
use crate::api::ApiError;
use crate::ctx::NodeCtx;
use crate::ingest::parsers::find_timestamp;
use crate::ingest::{Batch, QueuedEvent};
use crate::text::{flatten_json, now_ms};

/// The Elasticsearch version answered on the base URL: an 8.x, so 8.x Beats, Logstash and
/// clients accept it without `allow_older_versions`.
const ES_VERSION: &str = "8.17.0";

pub(super) fn routes() -> Router<Arc<NodeCtx>> {
    let bulk = || post(bulk_default).put(bulk_default);
    let bulk_index = || post(bulk_in_index).put(bulk_in_index);
    // Literal paths: the permission matrix test reads every route from the source.
    Router::new()
        .route("/api/v1/ingest/elastic-bulk", get(info).merge(bulk()))
        .route("/api/v1/ingest/elastic-bulk/", get(info).merge(bulk()))
        .route("/api/v1/ingest/elastic-bulk/_bulk", bulk())
        .route("/api/v1/ingest/elastic-bulk/{index}/_bulk", bulk_index())
        .route("/_bulk", bulk())
        .route("/{index}/_bulk", bulk_index())
        .layer(tower_http::set_header::SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-elastic-product"),
            HeaderValue::from_static("Elasticsearch"),
        ))
}

/// Whether a request for `/` comes from an Elasticsearch client rather than a browser: the
/// clients' own headers (`x-elastic-client-meta`, sent by the official clients; the
/// `vnd.elasticsearch` media types of 8.x clients), or, without `text/html` in `Accept` (every
/// browser asks for HTML), an `Accept` of JSON or a shipper's `User-Agent` (Beats, Logstash,
/// Fluent Bit, Vector).
fn is_es_client(headers: &HeaderMap) -> bool {
    if headers.contains_key("x-elastic-client-meta") {
        return true;
    }
    let accept = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",")
        .to_ascii_lowercase();
    if accept.contains("vnd.elasticsearch") {
        return true;
    }
    if accept.contains("text/html") {
        return false;
    }
    // A request that asks for JSON, or names a shipper that speaks Elasticsearch, is a client;
    // one that asks for nothing and says nothing (curl, a health probe) gets the UI as before.
    let agent = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    accept.contains("application/json")
        || [
            "elastic",
            "beat",
            "logstash",
            "fluent-bit",
            "fluentbit",
            "manticore",
            "vector",
        ]
        .iter()
        .any(|n| agent.contains(n))
}

/// A layer on the whole router: `GET`/`HEAD /` answers Elasticsearch's version info (with
/// `X-Elastic-Product`) to Elasticsearch clients, which ping the root URL on connect, and
/// leaves `/` to the web UI for browsers.
pub async fn es_root(
    State(node): State<Arc<NodeCtx>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let m = req.method();
    if req.uri().path() == "/"
        && (m == axum::http::Method::GET || m == axum::http::Method::HEAD)
        && is_es_client(req.headers())
    {
        let mut resp = info(State(node)).await;
        resp.headers_mut().insert(
            HeaderName::from_static("x-elastic-product"),
            HeaderValue::from_static("Elasticsearch"),
        );
        return resp;
    }
    next.run(req).await
}

/// `GET /` of an Elasticsearch node (`HEAD` is the same without the body).
async fn info(State(node): State<Arc<NodeCtx>>) -> Response {
    let name = format!("strata-{}", node.cfg.node_id);
    Json(json!({
        "name": name,
        "cluster_name": "strata",
        "cluster_uuid": "strata",
        "version": {
            "number": ES_VERSION,
            "build_flavor": "default",
            "build_type": "strata",
            "build_hash": "strata",
            "build_date": "2026-01-01T00:00:00.000Z",
            "build_snapshot": false,
            "lucene_version": "9.12.0",
            "minimum_wire_compatibility_version": "7.17.0",
            "minimum_index_compatibility_version": "7.0.0"
        },
        "tagline": "You Know, for Search"
    }))
    .into_response()
}

async fn bulk_default(
    State(node): State<Arc<NodeCtx>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(bulk(&node, &headers, None, body).await, &q)
}

async fn bulk_in_index(
    State(node): State<Arc<NodeCtx>>,
    Path(index): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    answer(bulk(&node, &headers, Some(index), body).await, &q)
}

/// The bulk answer, cut down to `?filter_path=` as Elasticsearch does (Beats ask for
/// `errors,items.*.error,items.*.status`), or the error in Elasticsearch's shape.
fn answer(r: Result<Value, ApiError>, q: &HashMap<String, String>) -> Response {
    match r {
        Ok(v) => match q
            .get("filter_path")
            .map(|f| f.trim())
            .filter(|f| !f.is_empty())
        {
            None => Json(v).into_response(),
            Some(f) => Json(filter_path::apply(v, f).unwrap_or_else(|| json!({}))).into_response(),
        },
        Err(e) => es_error(e),
    }
}

/// An error in Elasticsearch's shape, which its clients parse for `error.type`.
fn es_error(e: ApiError) -> Response {
    if e.status.is_server_error() {
        tracing::warn!(status = %e.status, message = %e.message, "bulk request failed");
    }
    let kind = match e.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "security_exception",
        StatusCode::PAYLOAD_TOO_LARGE => "content_too_long_exception",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "media_type_header_exception",
        s if s.is_server_error() => "unavailable_shards_exception",
        _ => "illegal_argument_exception",
    };
    let cause = json!({"type": kind, "reason": e.message});
    (
        e.status,
        Json(json!({"error": {"root_cause": [cause.clone()], "type": kind, "reason": e.message}, "status": e.status.as_u16()})),
    )
        .into_response()
}

/// A random 20-character id, the length and alphabet of Elasticsearch's auto ids.
fn new_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn malformed(line: usize, what: &str) -> ApiError {
    ApiError::bad_request(format!("Malformed action/metadata line [{line}], {what}"))
}

async fn bulk(
    node: &NodeCtx,
    headers: &HeaderMap,
    path_index: Option<String>,
    body: Bytes,
) -> Result<Value, ApiError> {
    let started = std::time::Instant::now();
    let t = target(node, headers, None)?;
    let text = utf8(body_bytes(node, headers, body)?)?;
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("request body is required"));
    }
    let default_index = path_index.unwrap_or_else(|| t.repo.clone());
    let now = now_ms();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty());
    let mut events = Vec::new();
    let mut items = Vec::new();
    let mut errors = false;
    while let Some((ln, action)) = lines.next() {
        let a: Value = serde_json::from_str(action)
            .map_err(|e| malformed(ln, &format!("is not JSON: {e}")))?;
        let Some((kind, meta)) = a.as_object().and_then(|o| o.iter().next()) else {
            return Err(malformed(ln, "expected an object like {\"index\":{}}"));
        };
        let kind = kind.as_str();
        if !matches!(kind, "index" | "create" | "update" | "delete") {
            return Err(malformed(
                ln,
                &format!(
                    "expected field [create], [delete], [index] or [update] but found [{kind}]"
                ),
            ));
        }
        let index = meta
            .get("_index")
            .and_then(Value::as_str)
            .map_or_else(|| default_index.clone(), str::to_string);
        let id = meta.get("_id").and_then(Value::as_str).map(str::to_string);
        if kind == "delete" {
            let id = id.unwrap_or_default();
            items.push(json!({kind: {"_index": index, "_id": id, "_version": 1, "result": "not_found", "status": 404}}));
            continue;
        }
        let (dn, doc) = lines.next().ok_or_else(|| {
            malformed(
                ln,
                &format!("action without a document: the {kind} action is the last line"),
            )
        })?;
        let id = id.unwrap_or_else(new_id);
        if kind == "update" {
            errors = true;
            items.push(json!({kind: {"_index": index, "_id": id, "status": 404, "error": {
                "type": "document_missing_exception",
                "reason": format!("[{id}]: document missing (events are immutable; only index and create store documents)"),
                "index": index}}}));
            continue;
        }
        let d = match serde_json::from_str::<Value>(doc) {
            Ok(d) if d.is_object() => d,
            Ok(_) => {
                errors = true;
                items.push(doc_error(
                    kind,
                    &index,
                    &id,
                    format!("line {dn}: the document must be a JSON object"),
                ));
                continue;
            }
            Err(e) => {
                errors = true;
                items.push(doc_error(
                    kind,
                    &index,
                    &id,
                    format!("line {dn}: the document is not JSON: {e}"),
                ));
                continue;
            }
        };
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
        let seq = items.len();
        items.push(
            json!({kind: {"_index": index, "_id": id, "_version": 1, "result": "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": seq, "_primary_term": 1, "status": 201}}),
        );
    }
    if !events.is_empty() {
        publish(
            node,
            &t.repo,
            vec![Batch {
                tags: BTreeMap::new(),
                events,
            }],
        )
        .await?;
    }
    Ok(json!({
        "took": started.elapsed().as_millis() as u64,
        "errors": errors,
        "items": items,
    }))
}

fn doc_error(kind: &str, index: &str, id: &str, reason: String) -> Value {
    json!({kind: {"_index": index, "_id": id, "status": 400, "error": {
        "type": "document_parsing_exception", "reason": reason}}})
}
