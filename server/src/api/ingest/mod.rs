//! LogScale-compatible ingest endpoints. A request is parsed completely before anything is
//! published, so a malformed request changes nothing (400 naming the problem); a request is
//! answered 200 only after every event is durable in the ingest queue (else 503).
//!
//! Only protocol adapters live here (request decoding, auth, answers): `logscale.rs` for the
//! LogScale structured/unstructured, raw and JSON endpoints, `hec.rs` for Splunk HEC,
//! `elastic.rs` for Elasticsearch `_bulk`, `otlp.rs` for OTLP/HTTP logs. Each protocol answers
//! errors in its own clients' shape (HEC `{"text","code"}`, Elasticsearch `{"error":{..}}`,
//! OTLP `google.rpc.Status`). Parsing lines into events is
//! [`crate::ingest::lines`]; this file has the steps every adapter shares.

mod elastic;
mod filter_path;
mod hec;
mod logscale;
mod otlp;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use serde_json::Value;

use super::{ApiError, Caller};
use crate::ctx::NodeCtx;
use crate::ingest::script::ParserSpec;
use crate::ingest::{lines, Batch};
use crate::text::{now_ms, time};

pub use elastic::es_root;

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route(
            "/api/v1/ingest/humio-structured",
            post(logscale::structured),
        )
        .route(
            "/api/v1/ingest/humio-unstructured",
            post(logscale::unstructured),
        )
        .route("/api/v1/ingest/raw", post(logscale::raw))
        .route("/api/v1/ingest/json", post(logscale::json))
        .route("/api/v1/ingest/otlp/v1/logs", post(otlp::logs))
        .route("/v1/logs", post(otlp::logs))
        .merge(hec::routes())
        .merge(elastic::routes())
        .route(
            "/api/v1/dataspaces/{repo}/ingest",
            post(logscale::structured),
        )
        .route(
            "/api/v1/dataspaces/{repo}/ingest-messages",
            post(logscale::unstructured),
        )
        .route(
            "/api/v1/repositories/{repo}/ingest",
            post(logscale::structured),
        )
        .route(
            "/api/v1/repositories/{repo}/ingest-messages",
            post(logscale::unstructured),
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
    let enc = headers
        .get("content-encoding")
        .map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase())
        .unwrap_or_default();
    match enc.as_str() {
        "" | "identity" => return Ok(body.to_vec()),
        "gzip" | "x-gzip" => {}
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Content-Encoding {other:?} is not supported (gzip and identity are)"),
            ))
        }
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

/// The parser `name` of repository `repo`: a repository parser script or a built-in.
fn resolve_parser(node: &NodeCtx, repo: &str, name: &str) -> Result<ParserSpec, ApiError> {
    node.global
        .read(|s| ParserSpec::resolve(s, repo, name))
        .map_err(ApiError::bad_request)
}

/// Lines parsed with `parser` into batches (see [`lines::parse_lines`]); a refused line is a
/// 400 naming it.
fn parse_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    parser: &ParserSpec,
    base_tags: &BTreeMap<String, String>,
    base_fields: &BTreeMap<String, String>,
) -> Result<Vec<Batch>, ApiError> {
    lines::parse_lines(lines, parser, base_tags, base_fields, now_ms())
        .map_err(|e| ApiError::bad_request(e.to_string()))
}
