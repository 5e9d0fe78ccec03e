//! Splunk HTTP Event Collector, as LogScale documents it: concatenated JSON objects
//! (`time` in seconds with fractions, `timezone` → `@timezone` (default `Z`), `host` →
//! `@host`, `source` → `@source`, `sourcetype` → the `#type` tag and the parser of that name
//! when the repository has one (else the token's parser parses string events), `index` must
//! name the token's repository, `fields` become fields; an event its parser cannot parse is
//! kept unparsed with `@error`/`@error_msg`), the raw variant (one event per line),
//! `health`, and indexer acknowledgement. Answers and errors use HEC's shape
//! `{"text": ..., "code": N}` with Splunk's codes, which HEC clients read.
//!
//! Acknowledgement: a 200 is only sent once the events are durable, so an ack id is true as
//! soon as it was handed out; requests that carry a channel get one.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use super::{body_bytes, publish, resolve_parser, target, utf8, Target};
use crate::api::{token_from_headers, ApiError};
use crate::ctx::NodeCtx;
use crate::ingest::parsers::find_timestamp;
use crate::ingest::script::ParserSpec;
use crate::ingest::timezone::Zone;
use crate::ingest::{Batch, QueuedEvent};
use crate::text::{flatten_json, now_ms};

pub(super) fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/api/v1/ingest/hec", post(event))
        .route("/services/collector", post(event))
        .route("/services/collector/event", post(event))
        .route("/services/collector/event/1.0", post(event))
        .route("/api/v1/ingest/hec/raw", post(raw))
        .route("/services/collector/raw", post(raw))
        .route("/services/collector/raw/1.0", post(raw))
        .route("/api/v1/ingest/hec/health", get(health))
        .route("/services/collector/health", get(health))
        .route("/services/collector/health/1.0", get(health))
        .route("/api/v1/ingest/hec/ack", post(ack))
        .route("/services/collector/ack", post(ack))
}

/// The next ack id handed out (one sequence for the node; ids only need to be unique).
static NEXT_ACK: AtomicU64 = AtomicU64::new(0);

/// An answer in HEC's shape.
struct Hec {
    status: StatusCode,
    text: String,
    code: u32,
}

impl Hec {
    fn bad(code: u32, text: impl Into<String>) -> Hec {
        Hec {
            status: StatusCode::BAD_REQUEST,
            text: text.into(),
            code,
        }
    }
}

impl From<ApiError> for Hec {
    fn from(e: ApiError) -> Hec {
        let code = match e.status {
            StatusCode::UNAUTHORIZED => 3,
            StatusCode::FORBIDDEN => 4,
            StatusCode::SERVICE_UNAVAILABLE => 9,
            s if s.is_server_error() => 8,
            _ => 6,
        };
        Hec {
            status: e.status,
            text: e.message,
            code,
        }
    }
}

impl IntoResponse for Hec {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, message = %self.text, "HEC request failed");
        }
        (
            self.status,
            Json(json!({"text": self.text, "code": self.code})),
        )
            .into_response()
    }
}

/// Authenticates like Splunk answers: no token is code 2, a wrong one code 4. The token is
/// the `Authorization` header's (`Splunk <t>`, `Bearer <t>`, or basic auth's password) or,
/// as Splunk's query-string authentication sends it, `?token=`.
fn hec_target(
    node: &NodeCtx,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
) -> Result<Target, Hec> {
    let from_query;
    let headers = match (token_from_headers(headers), q.get("token")) {
        (Some(_), _) => headers,
        (None, Some(t)) => {
            let mut h = headers.clone();
            let v = HeaderValue::from_str(&format!("Bearer {t}"))
                .map_err(|_| Hec::bad(6, "Invalid data format: ?token= is not a valid token"))?;
            h.insert(axum::http::header::AUTHORIZATION, v);
            from_query = h;
            &from_query
        }
        (None, None) => {
            return Err(Hec {
                status: StatusCode::UNAUTHORIZED,
                text: "Token is required".into(),
                code: 2,
            })
        }
    };
    target(node, headers, None).map_err(|e| {
        let mut h = Hec::from(e);
        if h.status == StatusCode::UNAUTHORIZED {
            h.status = StatusCode::FORBIDDEN;
            h.code = 4;
            h.text = format!("Invalid token: {}", h.text);
        }
        h
    })
}

/// The request's channel (`X-Splunk-Request-Channel` or `?channel=`), which must be a GUID.
fn channel(headers: &HeaderMap, q: &HashMap<String, String>) -> Result<Option<String>, Hec> {
    let c = headers
        .get("x-splunk-request-channel")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| q.get("channel").cloned());
    match c {
        None => Ok(None),
        Some(c) if is_guid(&c) => Ok(Some(c)),
        Some(c) => Err(Hec::bad(
            11,
            format!("Invalid data channel: {c:?} is not a GUID"),
        )),
    }
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn success(channel: Option<String>) -> Response {
    match channel {
        None => Json(json!({"text": "Success", "code": 0})).into_response(),
        Some(_) => {
            let id = NEXT_ACK.fetch_add(1, Ordering::Relaxed);
            Json(json!({"text": "Success", "code": 0, "ackId": id})).into_response()
        }
    }
}

async fn health() -> Response {
    Json(json!({"text": "HEC is healthy", "code": 17})).into_response()
}

/// `{"acks": [ids]}` → `{"acks": {"id": true}}`: every id this node handed out is durable.
async fn ack(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Hec> {
    hec_target(&node, &headers, &q)?;
    if channel(&headers, &q)?.is_none() {
        return Err(Hec::bad(10, "Data channel is missing"));
    }
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| Hec::bad(6, format!("Invalid data format: {e}")))?;
    let ids = v
        .get("acks")
        .and_then(Value::as_array)
        .ok_or_else(|| Hec::bad(6, "Invalid data format: expected {\"acks\": [ids]}"))?;
    let issued = NEXT_ACK.load(Ordering::Relaxed);
    let mut acks = serde_json::Map::new();
    for id in ids {
        let n = id.as_u64().ok_or_else(|| {
            Hec::bad(
                6,
                format!("Invalid data format: ack id {id} is not a number"),
            )
        })?;
        acks.insert(n.to_string(), Value::Bool(n < issued));
    }
    Ok(Json(json!({"acks": acks})).into_response())
}

/// HEC `time`: epoch seconds as a number or a numeric string, fractions kept to the nanosecond.
fn hec_time(v: &Value) -> Option<(i64, u32)> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return None,
    };
    // A number serde printed in exponent form (huge or tiny) is not a plausible time.
    let (secs, frac) = text.split_once('.').unwrap_or((&text, ""));
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) || secs.len() > 12 {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let mut digits: Vec<u8> = frac.bytes().take(9).map(|b| b - b'0').collect();
    digits.resize(9, 0);
    let frac_ns = digits.iter().fold(0u64, |a, d| a * 10 + u64::from(*d));
    Some((
        secs * 1000 + (frac_ns / 1_000_000) as i64,
        (frac_ns % 1_000_000) as u32,
    ))
}

fn string_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        _ => None,
    }
}

/// Parsers chosen by `sourcetype`, resolved once per request.
struct Parsers<'a> {
    node: &'a NodeCtx,
    repo: &'a str,
    by_name: HashMap<String, Option<ParserSpec>>,
    token: Option<ParserSpec>,
}

impl<'a> Parsers<'a> {
    fn new(node: &'a NodeCtx, t: &'a Target) -> Result<Parsers<'a>, Hec> {
        let token = match &t.parser {
            Some(p) => Some(resolve_parser(node, &t.repo, p)?),
            None => None,
        };
        Ok(Parsers {
            node,
            repo: &t.repo,
            by_name: HashMap::new(),
            token,
        })
    }

    /// The parser named `sourcetype` if the repository (or the built-ins) has one, else the
    /// token's.
    fn get(&mut self, sourcetype: Option<&str>) -> Option<&ParserSpec> {
        if let Some(st) = sourcetype {
            let (node, repo) = (self.node, self.repo);
            let p = self
                .by_name
                .entry(st.to_string())
                .or_insert_with(|| resolve_parser(node, repo, st).ok());
            if p.is_some() {
                return p.as_ref();
            }
        }
        self.token.as_ref()
    }
}

/// `POST /services/collector[/event]`: concatenated (or whitespace-separated) JSON objects.
async fn event(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Hec> {
    let t = hec_target(&node, &headers, &q)?;
    let ch = channel(&headers, &q)?;
    let bytes = body_bytes(&node, &headers, body)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Hec::bad(5, "No data"));
    }
    let now = now_ms();
    let mut parsers = Parsers::new(&node, &t)?;
    let mut by_tags: BTreeMap<BTreeMap<String, String>, Vec<QueuedEvent>> = BTreeMap::new();
    for (i, item) in serde_json::Deserializer::from_slice(&bytes)
        .into_iter::<Value>()
        .enumerate()
    {
        let item = item.map_err(|e| {
            Hec::bad(
                6,
                format!("Invalid data format: event {i}: invalid JSON: {e}"),
            )
        })?;
        let Value::Object(obj) = item else {
            return Err(Hec::bad(
                6,
                format!("Invalid data format: event {i} must be a JSON object"),
            ));
        };
        let Some(ev) = obj.get("event") else {
            return Err(Hec::bad(12, format!("Event field is required (event {i})")));
        };
        if matches!(ev, Value::String(s) if s.is_empty()) || ev.is_null() {
            return Err(Hec::bad(
                13,
                format!("Event field cannot be blank (event {i})"),
            ));
        }
        if let Some(idx) = obj.get("index").and_then(string_of) {
            if idx != t.repo {
                return Err(Hec::bad(
                    7,
                    format!("Incorrect index: event {i} names index {idx:?}, but this token ingests into {:?}", t.repo),
                ));
            }
        }
        let time = match obj.get("time") {
            None | Some(Value::Null) => None,
            Some(v) => Some(hec_time(v).ok_or_else(|| {
                Hec::bad(
                    6,
                    format!("Invalid data format: event {i}: time {v} is not epoch seconds"),
                )
            })?),
        };
        let zone = match obj.get("timezone").and_then(Value::as_str) {
            None => "Z".to_string(),
            Some(z) => {
                Zone::parse(z)
                    .map_err(|e| Hec::bad(6, format!("Invalid data format: event {i}: {e}")))?;
                z.to_string()
            }
        };
        let sourcetype = obj.get("sourcetype").and_then(string_of);
        let mut tags = BTreeMap::new();
        let mut fields = BTreeMap::new();
        let mut parsed_ts = None;
        let raw = match ev {
            Value::String(s) => {
                if let Some(p) = parsers.get(sourcetype.as_deref()) {
                    match p.parse(s) {
                        Ok(Some(parsed)) => {
                            fields = parsed.fields;
                            tags = parsed.tags;
                            parsed_ts = parsed.timestamp;
                        }
                        // The parser script filtered the event out.
                        Ok(None) => continue,
                        // As LogScale does: the event is kept unparsed and says why.
                        Err(e) => {
                            fields.insert("@error".into(), "true".into());
                            fields.insert("@error_msg".into(), e.to_string());
                        }
                    }
                }
                s.clone()
            }
            Value::Object(_) => {
                flatten_json("", ev, &mut fields);
                parsed_ts = find_timestamp(&fields);
                ev.to_string()
            }
            other => other.to_string(),
        };
        if let Some(f) = obj.get("fields") {
            if !f.is_object() {
                return Err(Hec::bad(
                    6,
                    format!("Invalid data format: event {i}: fields must be an object"),
                ));
            }
            flatten_json("", f, &mut fields);
        }
        for (k, name) in [("host", "@host"), ("source", "@source")] {
            if let Some(s) = obj.get(k).and_then(string_of) {
                fields.insert(name.to_string(), s);
            }
        }
        fields.insert("@timezone".into(), zone);
        // `#type` names the parser: `sourcetype`'s, else the token's, else `none` (LogScale's
        // default, which Vector's humio_logs sink expects).
        let ty = sourcetype
            .or_else(|| t.parser.clone())
            .unwrap_or_else(|| "none".into());
        tags.insert("type".into(), ty);
        let (ts, mut nanos) = time.or(parsed_ts).unwrap_or((now, 0));
        // Vector's humio_logs sink sends `time` in milliseconds and the rest of the nanoseconds
        // as an `@timestamp.nanos` field of the event: it is the timestamp's, not a field.
        if let Some(n) = fields
            .get("@timestamp.nanos")
            .and_then(|v| v.parse::<u32>().ok())
        {
            if nanos == 0 && n < 1_000_000 {
                nanos = n;
                fields.remove("@timestamp.nanos");
            }
        }
        by_tags.entry(tags).or_default().push(QueuedEvent {
            timestamp: ts,
            nanos,
            raw,
            fields: fields.into_iter().collect(),
        });
    }
    let batches = by_tags
        .into_iter()
        .map(|(tags, events)| Batch { tags, events })
        .collect();
    publish(&node, &t.repo, batches).await?;
    Ok(success(ch))
}

/// `POST /services/collector/raw`: one event per line, parsed with `?sourcetype=`'s parser or
/// the token's; `?host=`, `?source=`, `?sourcetype=` as for JSON events.
async fn raw(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Result<Response, Hec> {
    let t = hec_target(&node, &headers, &q)?;
    let ch = channel(&headers, &q)?;
    if let Some(idx) = q.get("index") {
        if *idx != t.repo {
            return Err(Hec::bad(
                7,
                format!(
                    "Incorrect index: {idx:?}, but this token ingests into {:?}",
                    t.repo
                ),
            ));
        }
    }
    let text = utf8(body_bytes(&node, &headers, body)?)?;
    if text.trim().is_empty() {
        return Err(Hec::bad(5, "No data"));
    }
    let mut parsers = Parsers::new(&node, &t)?;
    let none = ParserSpec::Builtin("none".into());
    let sourcetype = q.get("sourcetype").cloned();
    let parser = parsers.get(sourcetype.as_deref()).unwrap_or(&none);
    let ty = sourcetype
        .or_else(|| t.parser.clone())
        .unwrap_or_else(|| "none".into());
    let base_tags = BTreeMap::from([("type".to_string(), ty)]);
    let mut base_fields = BTreeMap::from([("@timezone".to_string(), "Z".to_string())]);
    for (k, name) in [("host", "@host"), ("source", "@source")] {
        if let Some(v) = q.get(k) {
            base_fields.insert(name.to_string(), v.clone());
        }
    }
    let lines = text.lines().filter(|l| !l.trim().is_empty());
    let batches =
        crate::ingest::lines::parse_lines(lines, parser, &base_tags, &base_fields, now_ms())
            .map_err(|e| Hec::bad(6, format!("Invalid data format: {e}")))?;
    publish(&node, &t.repo, batches).await?;
    Ok(success(ch))
}
