//! The audit log: one event in the `humio-audit` repository per authenticated change
//! (GraphQL mutations, sign-ins) and per search — who (`actor.*`), what (`type` and the
//! details), when (`@timestamp`), from which address (`actor.ip`), and the result. Like
//! LogScale, changes to access and deletions are tagged `#sensitive=true`.
//!
//! Written through the ingest queue like any event, so an audit event is as durable as the
//! data; a failure to write is logged (the change itself already happened and is in Global).
//! The repository is created on first use and cannot be deleted through the API.

use std::collections::BTreeMap;

use serde_json::Value;
use strata_global::{GlobalEvent, Outcome};

use super::AUDIT_REPO;
use crate::api::Caller;
use crate::ctx::NodeCtx;
use crate::ingest::{Batch, QueuedEvent};

/// One audit event before it is written.
pub struct Entry {
    /// LogScale-style event type, e.g. `dataspace.query`, `graphql.mutation`, `user.login`.
    pub kind: String,
    pub sensitive: bool,
    /// `ok`, or `error`/`denied` (with `error` set in `fields`).
    pub result: String,
    pub fields: Vec<(String, String)>,
}

/// The actor fields of `caller` (`None`: not signed in, e.g. a failed sign-in).
pub fn actor_fields(caller: Option<&Caller>, peer: Option<&str>) -> Vec<(String, String)> {
    let mut f = Vec::new();
    match caller {
        Some(Caller::User {
            username, token, ..
        }) => {
            f.push(("actor.type".into(), token.actor_type().into()));
            f.push(("actor.username".into(), username.clone()));
            f.push(("actor.tokenType".into(), token.name().into()));
        }
        Some(Caller::Ingest { repo, name, .. }) => {
            f.push(("actor.type".into(), "ingestToken".into()));
            f.push(("actor.ingestToken".into(), format!("{repo}/{name}")));
        }
        None => f.push(("actor.type".into(), "anonymous".into())),
    }
    if let Some(ip) = peer {
        f.push(("actor.ip".into(), ip.to_string()));
    }
    f
}

/// Writes one audit event; errors are logged, never returned (see the module docs).
pub async fn record(node: &NodeCtx, caller: Option<&Caller>, peer: Option<&str>, e: Entry) {
    if let Err(err) = write(node, caller, peer, &e).await {
        tracing::warn!(kind = %e.kind, error = %err, "could not write the audit event");
    }
}

/// Audits one search: who searched `repo` with `query`, and how it ended (`status`: the
/// HTTP status of the answer). The call for query handlers; the router's audit layer calls it
/// for every search route.
pub async fn search(
    node: &NodeCtx,
    caller: Option<&Caller>,
    repo: &str,
    query: &str,
    peer: Option<&str>,
    status: u16,
) {
    let result = match status {
        200..=299 => "ok",
        401 | 403 | 404 => "denied",
        _ => "error",
    };
    record(
        node,
        caller,
        peer,
        Entry {
            kind: "dataspace.query".into(),
            sensitive: false,
            result: result.into(),
            fields: vec![
                ("dataspace".into(), repo.to_string()),
                ("queryString".into(), query.to_string()),
                ("status".into(), status.to_string()),
            ],
        },
    )
    .await
}

async fn ensure_repo(node: &NodeCtx) -> Result<(), String> {
    if node
        .global
        .read(|s| s.repositories.contains_key(AUDIT_REPO))
    {
        return Ok(());
    }
    match node
        .global
        .publish(GlobalEvent::CreateRepository {
            name: AUDIT_REPO.into(),
            description: "Audit log: who changed or searched what".into(),
        })
        .await
    {
        // Rejected: another node (or request) created it first.
        Ok((_, Outcome::Applied | Outcome::Rejected(_))) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

async fn write(
    node: &NodeCtx,
    caller: Option<&Caller>,
    peer: Option<&str>,
    e: &Entry,
) -> Result<(), String> {
    if !node.cfg.audit_log {
        return Ok(());
    }
    ensure_repo(node).await?;
    let now = crate::text::now_ms();
    let mut fields: Vec<(String, String)> = vec![
        ("type".into(), e.kind.clone()),
        ("result".into(), e.result.clone()),
        ("node".into(), node.cfg.node_id.to_string()),
    ];
    fields.extend(actor_fields(caller, peer));
    fields.extend(e.fields.iter().cloned());
    let raw = Value::Object(
        fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
    .to_string();
    let tags = BTreeMap::from([("sensitive".to_string(), e.sensitive.to_string())]);
    node.ingester
        .publish(
            AUDIT_REPO,
            vec![Batch {
                tags,
                events: vec![QueuedEvent {
                    timestamp: now,
                    nanos: 0,
                    raw,
                    fields,
                }],
            }],
            now,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Argument names whose values never reach the audit log.
const SECRET_KEYS: &[&str] = &["password", "token", "secret", "apiKey", "genieKey"];

/// `v` with the values of secret-looking keys replaced by `"<redacted>"`.
pub fn redact(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let secret = SECRET_KEYS
                        .iter()
                        .any(|s| k.to_ascii_lowercase().contains(&s.to_ascii_lowercase()));
                    if secret {
                        (k, Value::String("<redacted>".into()))
                    } else {
                        (k, redact(v))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(redact).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_at_any_depth() {
        let v = super::redact(json!({"input": {"username": "ann", "password": "hunter22",
            "actions": [{"apiKey": "k"}]}}));
        assert_eq!(
            v,
            json!({"input": {"username": "ann", "password": "<redacted>",
                "actions": [{"apiKey": "<redacted>"}]}})
        );
    }
}
