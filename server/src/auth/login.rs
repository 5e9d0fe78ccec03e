//! Sign-in with a username and password: `POST /api/v1/login` (JSON `{"username",
//! "password"}`) answers `{"token", "expiresAt", "username"}`, a session token that is used
//! like any API token (`Authorization: Bearer`); `POST /api/v1/logout` ends the session.
//! Sessions live in Global (see the module docs of `auth`). Every attempt is audited;
//! repeated failures of one username from one address are locked out (`ratelimit.rs`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use strata_global::{hash_token, GlobalEvent, Outcome, TokenScope};

use super::audit::{self, Entry};
use super::{new_id, new_token, password, SESSION_TTL_MS};
use crate::api::{peer_of, ApiError, Caller, TokenKind};
use crate::ctx::NodeCtx;

pub fn routes() -> Router<Arc<NodeCtx>> {
    Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginInput {
    username: String,
    password: String,
}

const REFUSED: &str = "invalid username or password";

/// This node's failed sign-ins (node-local: a lock-out is per node, which bounds guessing
/// to the cluster's size times the per-node rate).
static LIMITER: std::sync::LazyLock<super::ratelimit::SignInLimiter> =
    std::sync::LazyLock::new(Default::default);

/// 429 with `Retry-After` (whole seconds, rounded up).
fn too_many(wait_ms: i64) -> Response {
    let secs = (wait_ms.max(1) + 999) / 1000;
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            ("retry-after", secs.to_string()),
            ("content-type", "text/plain; charset=utf-8".to_string()),
        ],
        format!(
            "too many failed sign-ins for this user from this address; try again in {secs} s\n"
        ),
    )
        .into_response()
}

async fn login(
    State(node): State<Arc<NodeCtx>>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let peer = peer_of(&req);
    let body = axum::body::to_bytes(req.into_body(), 64 * 1024)
        .await
        .map_err(|e| ApiError::bad_request(format!("could not read the sign-in body: {e}")))?;
    let input: LoginInput = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "sign-in needs a JSON body {{\"username\", \"password\"}}: {e}"
        ))
    })?;
    if input.username.is_empty() || input.username.len() > 200 {
        return Err(ApiError::bad_request("the username must be 1-200 bytes"));
    }
    if input.password.len() > password::MAX_PASSWORD_BYTES {
        return Err(ApiError::bad_request(format!(
            "the password is longer than {} bytes",
            password::MAX_PASSWORD_BYTES
        )));
    }
    let addr = peer.clone().unwrap_or_default();
    if let Some(wait) = LIMITER.locked(&input.username, &addr, crate::text::now_ms()) {
        return Ok(too_many(wait));
    }
    let phc = node.global.read(|s| {
        s.users
            .get(&input.username)
            .and_then(|u| u.password_hash.clone())
    });
    let known = phc.is_some();
    let phc = phc.unwrap_or_else(|| password::dummy_hash().to_string());
    let pw = input.password.clone();
    // Argon2 is slow on purpose: off the async threads.
    let ok = tokio::task::spawn_blocking(move || password::verify(&pw, &phc))
        .await
        .unwrap_or(false)
        && known;
    let attempt = vec![("username".to_string(), input.username.clone())];
    if !ok {
        // This answer is still the 401 it earned; the lock-out applies from the next try.
        let _ = LIMITER.failed(&input.username, &addr, crate::text::now_ms());
        audit::record(
            &node,
            None,
            peer.as_deref(),
            Entry {
                kind: "user.login".into(),
                sensitive: false,
                result: "denied".into(),
                fields: attempt,
            },
        )
        .await;
        return Err(ApiError::unauthorized(REFUSED));
    }
    LIMITER.succeeded(&input.username, &addr);
    let now = crate::text::now_ms();
    // Expired sessions of this user go now: they accumulate nowhere else.
    let expired: Vec<String> = node.global.read(|s| {
        s.api_tokens
            .values()
            .filter(|t| t.username == input.username && t.scope == TokenScope::Session)
            .filter(|t| t.expires_ms.is_some_and(|e| e <= now))
            .map(|t| t.id.clone())
            .collect()
    });
    for token_id in expired {
        let _ = node
            .global
            .publish(GlobalEvent::RemoveApiToken { token_id })
            .await;
    }
    let token = new_token();
    let token_id = new_id();
    let expires = now + SESSION_TTL_MS;
    match node
        .global
        .publish(GlobalEvent::CreateToken {
            token_id: token_id.clone(),
            name: "session".into(),
            username: input.username.clone(),
            scope: TokenScope::Session,
            token_hash: hash_token(&token),
            created_ms: now,
            expires_ms: Some(expires),
        })
        .await
    {
        Ok((_, Outcome::Applied)) => {}
        // The user was removed between the check and now.
        Ok((_, Outcome::Rejected(_))) => return Err(ApiError::unauthorized(REFUSED)),
        Err(e) => {
            return Err(ApiError::unavailable(format!(
                "the metadata store could not record the session: {e}"
            )))
        }
    }
    let caller = node.global.read(|s| {
        let is_root = s.users.get(&input.username).is_some_and(|u| u.is_root);
        Caller::User {
            username: input.username.clone(),
            is_root,
            access: Arc::new(super::Access::of_user(s, &input.username, is_root)),
            token: TokenKind::Session,
            token_id: Some(token_id),
        }
    });
    audit::record(
        &node,
        Some(&caller),
        peer.as_deref(),
        Entry {
            kind: "user.login".into(),
            sensitive: false,
            result: "ok".into(),
            fields: attempt,
        },
    )
    .await;
    Ok(Json(serde_json::json!({
        "token": token,
        "expiresAt": expires,
        "username": input.username,
    }))
    .into_response())
}

async fn logout(
    State(node): State<Arc<NodeCtx>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = node.authenticate(&headers)?;
    let Caller::User {
        token: TokenKind::Session,
        token_id: Some(id),
        ..
    } = &caller
    else {
        return Err(ApiError::bad_request(
            "this token is not a sign-in session; revoke API tokens with deleteToken",
        ));
    };
    node.global
        .publish(GlobalEvent::RemoveApiToken {
            token_id: id.clone(),
        })
        .await
        .map_err(|e| ApiError::unavailable(format!("metadata store unavailable: {e}")))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
