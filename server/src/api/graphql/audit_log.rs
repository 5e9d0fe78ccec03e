//! Audit of GraphQL mutations: one `graphql.mutation` event per mutation field of a request,
//! with the caller, the mutation's name, its arguments (variables resolved, secrets redacted)
//! and whether it succeeded. Written before the answer is sent, so a client that got its answer
//! finds the change in `humio-audit`.

use async_graphql::parser::types::{DocumentOperations, OperationType, Selection};
use serde_json::Value;

use crate::api::Caller;
use crate::auth::audit::{self, Entry};
use crate::ctx::NodeCtx;

/// One mutation field of a request: its response key and name, and its arguments.
pub struct MutationField {
    key: String,
    name: String,
    arguments: Value,
}

/// The mutation fields `req` will run (none for queries or a request that does not parse;
/// those change nothing).
pub fn mutation_fields(req: &async_graphql::Request) -> Vec<MutationField> {
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return Vec::new();
    };
    let op = match &doc.operations {
        DocumentOperations::Single(op) => Some(op),
        DocumentOperations::Multiple(ops) => match &req.operation_name {
            Some(n) => ops.iter().find(|(k, _)| k.as_str() == n).map(|(_, o)| o),
            None => ops.values().next(),
        },
    };
    let Some(op) = op else {
        return Vec::new();
    };
    if op.node.ty != OperationType::Mutation {
        return Vec::new();
    }
    let vars = &req.variables;
    op.node
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|sel| match &sel.node {
            Selection::Field(f) => {
                let f = &f.node;
                let name = f.name.node.to_string();
                let key = f
                    .alias
                    .as_ref()
                    .map(|a| a.node.to_string())
                    .unwrap_or_else(|| name.clone());
                let args: serde_json::Map<String, Value> = f
                    .arguments
                    .iter()
                    .map(|(n, v)| {
                        let c = v
                            .node
                            .clone()
                            .into_const_with(|var| {
                                Ok::<_, std::convert::Infallible>(
                                    vars.get(&var).cloned().unwrap_or_default(),
                                )
                            })
                            .unwrap_or_default();
                        (n.node.to_string(), c.into_json().unwrap_or(Value::Null))
                    })
                    .collect();
                Some(MutationField {
                    key,
                    name,
                    arguments: audit::redact(Value::Object(args)),
                })
            }
            _ => None,
        })
        .collect()
}

/// Changes to who may do what, and deletions, are sensitive (LogScale's `#sensitive`).
fn sensitive(name: &str) -> bool {
    const WORDS: &[&str] = &[
        "User",
        "Group",
        "Role",
        "Token",
        "delete",
        "remove",
        "Retention",
        "Permission",
    ];
    WORDS.iter().any(|w| name.contains(w))
}

/// Writes one audit event per mutation field, with the error the field answered, if any.
pub async fn record_mutations(
    node: &NodeCtx,
    caller: &Caller,
    peer: Option<&str>,
    fields: Vec<MutationField>,
    resp: &async_graphql::Response,
) {
    for f in fields {
        let error = resp.errors.iter().find(|e| {
            matches!(e.path.first(), Some(async_graphql::PathSegment::Field(k)) if *k == f.key)
                || (e.path.is_empty() && resp.data == async_graphql::Value::Null)
        });
        let result = match error {
            None => "ok",
            Some(e) => match e.extensions.as_ref().and_then(|x| x.get("status")) {
                Some(async_graphql::Value::Number(n))
                    if matches!(n.as_u64(), Some(401 | 403 | 404)) =>
                {
                    "denied"
                }
                _ => "error",
            },
        };
        let mut details = vec![
            ("mutation".to_string(), f.name.clone()),
            ("arguments".to_string(), f.arguments.to_string()),
        ];
        if let Some(e) = error {
            details.push(("error".to_string(), e.message.clone()));
        }
        audit::record(
            node,
            Some(caller),
            peer,
            Entry {
                kind: "graphql.mutation".into(),
                sensitive: sensitive(&f.name),
                result: result.into(),
                fields: details,
            },
        )
        .await;
    }
}
