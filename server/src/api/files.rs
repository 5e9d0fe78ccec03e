//! LogScale's Lookup API (<https://library.humio.com/logscale-api/api-lookup.html>): upload
//! (multipart, the file in a part named `file`; an existing name is replaced), list, download
//! and delete the lookup files of a repository. Reading needs `ReadAccess`, changing needs
//! `ChangeFiles`. Storage and parsing are in `lookup/`.

use std::sync::Arc;

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::ApiError;
use super::Caller;
use crate::auth::{Scope, ViewPermission};
use crate::ctx::NodeCtx;
use crate::lookup::{self, LookupError, MAX_FILE_BYTES};

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/api/v1/repositories/{repo}/files", get(list).post(upload))
        .route(
            "/api/v1/repositories/{repo}/files/{name}",
            get(download).delete(remove),
        )
}

impl From<LookupError> for ApiError {
    fn from(e: LookupError) -> Self {
        let status = match &e {
            LookupError::TooLarge { .. } | LookupError::TooLargeStored { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            LookupError::BadName(_) | LookupError::BadContent { .. } => StatusCode::BAD_REQUEST,
            LookupError::NotFound { .. } | LookupError::NoRepository(_) => StatusCode::NOT_FOUND,
            LookupError::Damaged(..) => StatusCode::INTERNAL_SERVER_ERROR,
            LookupError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, e.to_string())
    }
}

fn user_of(c: &Caller) -> String {
    match c {
        Caller::User { username, .. } => username.clone(),
        Caller::Ingest { name, .. } => format!("ingest token {name}"),
    }
}

async fn list(
    State(node): State<Arc<NodeCtx>>,
    Path(repo): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    node.authorize(
        &headers,
        Scope::Repository(&repo),
        ViewPermission::ReadAccess,
    )?;
    Ok(Json(lookup::list(&node.global, &repo)?).into_response())
}

async fn download(
    State(node): State<Arc<NodeCtx>>,
    Path((repo, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    node.authorize(
        &headers,
        Scope::Repository(&repo),
        ViewPermission::ReadAccess,
    )?;
    let (f, _) = lookup::get(&node.global, &repo, &name)?;
    let bytes = lookup::content(&name, &f)?;
    let ct = if name.to_ascii_lowercase().ends_with(".json") {
        "application/json"
    } else {
        "text/csv; charset=utf-8"
    };
    Ok(([("content-type", ct)], bytes).into_response())
}

async fn remove(
    State(node): State<Arc<NodeCtx>>,
    Path((repo, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    node.authorize(
        &headers,
        Scope::Repository(&repo),
        ViewPermission::ChangeFiles,
    )?;
    lookup::delete(&node.global, &repo, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST …/files`, multipart with the file in the part `file` (its file name is the lookup
/// file's name). Authorised before the body is read.
async fn upload(
    State(node): State<Arc<NodeCtx>>,
    Path(repo): Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let caller = node.authorize(
        req.headers(),
        Scope::Repository(&repo),
        ViewPermission::ChangeFiles,
    )?;
    let mut form = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::bad_request(format!("expected a multipart/form-data body: {e}")))?;
    let mut got = None;
    while let Some(mut part) = form
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?
    {
        if part.name() != Some("file") {
            continue;
        }
        let name = part
            .file_name()
            .map(str::to_string)
            .ok_or_else(|| ApiError::bad_request("the part `file` has no file name"))?;
        // Read chunk by chunk so an oversized file is refused without holding all of it.
        let mut bytes = Vec::new();
        while let Some(chunk) = part
            .chunk()
            .await
            .map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?
        {
            if bytes.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(LookupError::TooLarge {
                    size: bytes.len() + chunk.len(),
                    max: MAX_FILE_BYTES,
                }
                .into());
            }
            bytes.extend_from_slice(&chunk);
        }
        got = Some((name, bytes));
        break;
    }
    let (name, bytes) =
        got.ok_or_else(|| ApiError::bad_request("the upload has no part named `file`"))?;
    let info = lookup::put(&node.global, &repo, &name, &bytes, &user_of(&caller)).await?;
    Ok(Json(info).into_response())
}
