//! OTLP/HTTP logs (`/api/v1/ingest/otlp/v1/logs`, `/v1/logs`), as the OpenTelemetry SDK
//! exporters and the Collector's `otlphttp` exporter send them: an `ExportLogsServiceRequest`
//! in binary protobuf (`application/x-protobuf`) or OTLP's JSON mapping (`application/json`),
//! optionally gzipped. The answer is an `ExportLogsServiceResponse` in the request's encoding
//! (with `partialSuccess` when some records were refused); an error is a `google.rpc.Status`
//! in that encoding, as the OTLP specification asks, so exporters log the reason.
//!
//! Decoding is the generated `opentelemetry-proto` code (prost for protobuf, its serde mapping
//! for JSON); the record → event mapping, and the token's parser over it, are
//! [`crate::ingest::otlp`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use prost::Message;

use super::{body_bytes, publish, resolve_parser, target};
use crate::api::ApiError;
use crate::ctx::NodeCtx;
use crate::ingest::{otlp, Batch};
use crate::text::now_ms;

/// The two encodings OTLP/HTTP defines.
#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        }
    }
}

/// `google.rpc.Status`, the body of an OTLP error answer (only the fields OTLP uses).
#[derive(Clone, PartialEq, prost::Message)]
struct Status {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn encoding_of(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/x-protobuf")
        || mime.eq_ignore_ascii_case("application/protobuf")
    {
        Ok(Encoding::Protobuf)
    } else if mime.eq_ignore_ascii_case("application/json") {
        Ok(Encoding::Json)
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "OTLP/HTTP needs Content-Type application/x-protobuf or application/json, got {:?}",
                ct
            ),
        ))
    }
}

/// `POST .../v1/logs`.
pub(super) async fn logs(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // An unknown content type is answered in protobuf, OTLP's default encoding.
    let enc = encoding_of(&headers).unwrap_or(Encoding::Protobuf);
    match export(&node, &headers, body).await {
        Ok(resp) => encode(enc, StatusCode::OK, resp_body(enc, &resp)),
        Err(e) => error(enc, e),
    }
}

async fn export(
    node: &NodeCtx,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<ExportLogsServiceResponse, ApiError> {
    let enc = encoding_of(headers)?;
    let t = target(node, headers, None)?;
    let bytes = body_bytes(node, headers, body)?;
    let req = match enc {
        Encoding::Protobuf => ExportLogsServiceRequest::decode(&bytes[..]).map_err(|e| {
            ApiError::bad_request(format!(
                "body is not a valid OTLP ExportLogsServiceRequest protobuf: {e}"
            ))
        })?,
        Encoding::Json => {
            let bad = |e: serde_json::Error| {
                ApiError::bad_request(format!(
                    "body is not a valid OTLP ExportLogsServiceRequest in JSON: {e}"
                ))
            };
            let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(bad)?;
            times_as_strings(&mut v);
            serde_json::from_value(v).map_err(bad)?
        }
    };
    let parser = match &t.parser {
        Some(name) => Some((name, resolve_parser(node, &t.repo, name)?)),
        None => None,
    };
    let mapped = otlp::map_request(req, now_ms());
    if !mapped.events.is_empty() {
        let batches = match &parser {
            Some((name, spec)) => otlp::apply_parser(mapped.events, name, spec),
            None => vec![Batch {
                tags: BTreeMap::new(),
                events: mapped.events,
            }],
        };
        publish(node, &t.repo, batches).await?;
    }
    Ok(ExportLogsServiceResponse {
        partial_success: (mapped.rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: mapped.rejected,
            error_message: mapped.error.unwrap_or_default(),
        }),
    })
}

/// ProtoJSON writes 64-bit integers as strings but lets readers accept numbers too; the
/// generated deserializer takes only strings, so numeric record times are turned into strings.
fn times_as_strings(v: &mut serde_json::Value) {
    let records = v
        .get_mut("resourceLogs")
        .and_then(|r| r.as_array_mut())
        .into_iter()
        .flatten()
        .filter_map(|r| r.get_mut("scopeLogs").and_then(|s| s.as_array_mut()))
        .flatten()
        .filter_map(|s| s.get_mut("logRecords").and_then(|l| l.as_array_mut()))
        .flatten();
    for rec in records {
        for k in ["timeUnixNano", "observedTimeUnixNano"] {
            if let Some(t) = rec.get_mut(k) {
                if t.is_number() {
                    *t = serde_json::Value::String(t.to_string());
                }
            }
        }
    }
}

fn resp_body(enc: Encoding, r: &ExportLogsServiceResponse) -> Vec<u8> {
    match enc {
        Encoding::Protobuf => r.encode_to_vec(),
        // OTLP's JSON mapping writes int64 as a decimal string.
        Encoding::Json => match &r.partial_success {
            None => b"{}".to_vec(),
            Some(p) => serde_json::json!({"partialSuccess": {
                "rejectedLogRecords": p.rejected_log_records.to_string(),
                "errorMessage": p.error_message,
            }})
            .to_string()
            .into_bytes(),
        },
    }
}

fn encode(enc: Encoding, status: StatusCode, body: Vec<u8>) -> Response {
    (status, [("content-type", enc.content_type())], body).into_response()
}

/// An error as a `google.rpc.Status` (gRPC codes: 3 invalid argument, 16 unauthenticated,
/// 7 permission denied, 14 unavailable, 13 internal).
fn error(enc: Encoding, e: ApiError) -> Response {
    if e.status.is_server_error() {
        tracing::warn!(status = %e.status, message = %e.message, "OTLP export failed");
    }
    let code = match e.status {
        StatusCode::UNAUTHORIZED => 16,
        StatusCode::FORBIDDEN => 7,
        StatusCode::NOT_FOUND => 5,
        StatusCode::SERVICE_UNAVAILABLE => 14,
        s if s.is_server_error() => 13,
        _ => 3,
    };
    let body = match enc {
        Encoding::Protobuf => Status {
            code,
            message: e.message,
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({"code": code, "message": e.message})
            .to_string()
            .into_bytes(),
    };
    encode(enc, e.status, body)
}
