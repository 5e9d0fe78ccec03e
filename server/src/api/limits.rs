//! The gate in front of every ingest route: the caller is authenticated before a byte of the
//! body is read, and the request's bytes are reserved from the node's in-flight budget
//! (`--max-ingest-bytes-in-flight`), answered 429 at once when it is spent. The protocol
//! handlers (`api/ingest/*`) answer everything else in their clients' own shapes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Caller};
use crate::ctx::NodeCtx;

/// Authenticates before the body and reserves the body's bytes while the request is handled.
///
/// A caller that may not ingest gets its request passed on with an empty body, so the
/// handler refuses it in its protocol's shape (HEC `{"text","code"}`, OTLP `Status`, ...)
/// without the node ever reading what was sent. Requests without a body (HEC health,
/// Elasticsearch version info) pass untouched.
pub async fn ingest_gate(State(node): State<Arc<NodeCtx>>, req: Request, next: Next) -> Response {
    let caller = match query_token(&req) {
        // HEC's `?token=` (Splunk's query-string authentication): no header to read it from.
        Some(t)
            if !req
                .headers()
                .contains_key(axum::http::header::AUTHORIZATION) =>
        {
            let mut h = axum::http::HeaderMap::new();
            match axum::http::HeaderValue::from_str(&format!("Bearer {t}")) {
                Ok(v) => {
                    h.insert(axum::http::header::AUTHORIZATION, v);
                    node.authenticate(&h)
                }
                Err(_) => node.authenticate(req.headers()),
            }
        }
        _ => node.authenticate(req.headers()),
    };
    let may_ingest = matches!(
        caller,
        Ok(Caller::Ingest { .. }) | Ok(Caller::User { is_root: true, .. })
    );
    let bodiless = matches!(
        *req.method(),
        axum::http::Method::GET | axum::http::Method::HEAD
    );
    if bodiless {
        return next.run(req).await;
    }
    if !may_ingest {
        let (parts, _unread) = req.into_parts();
        return next
            .run(Request::from_parts(parts, axum::body::Body::empty()))
            .await;
    }
    // Without a Content-Length the body is bounded by `--max-body-bytes` as it is read.
    let bytes = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(node.cfg.max_body_bytes)
        .min(node.cfg.max_body_bytes);
    let _permit = match node.ingester.admission.reserve(bytes) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, "ingest request shed");
            return ApiError::from(e).into_response();
        }
    };
    next.run(req).await
}

/// The `token` query parameter, percent-decoded.
fn query_token(req: &Request) -> Option<String> {
    let q = req.uri().query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .filter(|t| !t.is_empty())
}
