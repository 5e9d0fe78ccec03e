//! The audit log: each change (a GraphQL mutation, a sign-in) and each search leaves exactly
//! one event in `humio-audit` naming the right actor; only callers given a permission on
//! `humio-audit` can search it, and nobody can delete it.

mod common;

use common::{Node, ROOT};
use serde_json::{json, Value};

const AUDIT: &str = "humio-audit";

fn gql(node: &Node, token: &str, query: &str) -> Value {
    let r = node
        .client
        .post(node.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().unwrap()
}

fn login(node: &Node, user: &str, password: &str) -> String {
    let r = node
        .client
        .post(node.url("/api/v1/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The audit events matching `filter`, once at least `n` are there (as root).
fn events(node: &Node, filter: &str, n: usize) -> Vec<Value> {
    let mut rows = Vec::new();
    node.wait_until(60, &format!("{n} audit events {filter}"), || {
        if !node.graphql(r#"{ searchDomains { name } }"#)["searchDomains"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["name"] == AUDIT)
        {
            return false;
        }
        rows = node.query(AUDIT, filter);
        rows.len() >= n
    });
    rows
}

#[test]
fn each_change_and_search_leaves_one_audit_event_with_its_actor() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    // Root: a repository, a user who may read it.
    assert!(gql(
        &node,
        ROOT,
        r#"mutation { createRepository(name: "web") { repository { name } } }"#
    )
    .get("errors")
    .is_none());
    let d = gql(
        &node,
        ROOT,
        r#"mutation { addUserV2(input: {username: "ann", password: "ann-password-1"}) { username } }"#,
    );
    assert!(d.get("errors").is_none(), "{d}");
    let g = gql(
        &node,
        ROOT,
        r#"mutation { addGroup(displayName: "readers") { group { id } } }"#,
    )["data"]["addGroup"]["group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = gql(
        &node,
        ROOT,
        r#"mutation { createRole(input: {displayName: "reader", viewPermissions: [ReadAccess, ChangeDashboards]}) { role { id } } }"#,
    )["data"]["createRole"]["role"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for m in [
        format!(
            r#"mutation {{ addUsersToGroup(input: {{groupId: "{g}", users: ["ann"]}}) {{ group {{ id }} }} }}"#
        ),
        format!(
            r#"mutation {{ assignRoleToGroup(input: {{viewId: "web", groupId: "{g}", roleId: "{r}"}}) {{ group {{ id }} }} }}"#
        ),
    ] {
        assert!(gql(&node, ROOT, &m).get("errors").is_none());
    }

    // Ann signs in, changes something, searches, and is refused a change.
    let ann = login(&node, "ann", "ann-password-1");
    let d = gql(
        &node,
        &ann,
        r#"mutation { createDashboard(input: {searchDomainName: "web", name: "ann-dash"}) { id } }"#,
    );
    assert!(d.get("errors").is_none(), "{d}");
    let (s, body) = node.post(
        "/api/v1/repositories/web/query",
        &ann,
        r#"{"queryString": "audit-marker-1", "start": "1h"}"#,
    );
    assert_eq!(s, 200, "{body}");
    let d = gql(
        &node,
        &ann,
        r#"mutation { updateRetention(repositoryName: "web", timeBasedRetention: 3) }"#,
    );
    assert_eq!(d["errors"][0]["extensions"]["status"], 403, "{d}");

    let one = |filter: &str| -> Value {
        let rows = events(&node, filter, 1);
        // Whatever was written for this action is in by now (written before the answer, or
        // for searches right after it): more than one is a duplicate.
        assert_eq!(rows.len(), 1, "{filter}: {rows:?}");
        rows[0].clone()
    };
    let e = one(r#"type="graphql.mutation" mutation=createRepository"#);
    assert_eq!(e["actor.username"], "root");
    assert_eq!(e["result"], "ok");
    assert!(e["arguments"].as_str().unwrap().contains("web"), "{e}");
    let e = one(r#"type="graphql.mutation" mutation=addUserV2"#);
    assert_eq!(e["actor.username"], "root");
    assert!(
        !e["arguments"].as_str().unwrap().contains("ann-password-1"),
        "the password must not be in the audit log: {e}"
    );
    let e = one(r#"type="graphql.mutation" mutation=createDashboard"#);
    assert_eq!(e["actor.username"], "ann");
    assert_eq!(e["actor.tokenType"], "session");
    let e = one(r#"type="graphql.mutation" mutation=updateRetention"#);
    assert_eq!(e["actor.username"], "ann");
    assert_eq!(e["result"], "denied");
    let e = one(r#"type="dataspace.query" dataspace=web queryString="audit-marker-1""#);
    assert_eq!(e["actor.username"], "ann");
    assert_eq!(e["status"], "200");
    let e = one(r#"type="user.login" username=ann"#);
    assert_eq!(e["result"], "ok");
    assert_eq!(e["actor.username"], "ann");

    // A refused sign-in is audited too, without an actor.
    let refused = node
        .client
        .post(node.url("/api/v1/login"))
        .json(&json!({"username": "ann", "password": "not her password"}))
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let e = one(r#"type="user.login" result=denied"#);
    assert_eq!(e["actor.type"], "anonymous");

    // Ann may not search the audit log (it is invisible to her), root may not delete it.
    let (s, _) = node.post(
        &format!("/api/v1/repositories/{AUDIT}/query"),
        &ann,
        r#"{"queryString": "*", "start": "1h"}"#,
    );
    assert_eq!(s, 404);
    let d = gql(
        &node,
        ROOT,
        &format!(r#"mutation {{ deleteSearchDomain(name: "{AUDIT}") }}"#),
    );
    assert!(
        d["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cannot be deleted"),
        "{d}"
    );
    // Given a role on it, she may.
    assert!(gql(
        &node,
        ROOT,
        &format!(r#"mutation {{ assignRoleToGroup(input: {{viewId: "{AUDIT}", groupId: "{g}", roleId: "{r}"}}) {{ group {{ id }} }} }}"#),
    )
    .get("errors")
    .is_none());
    let (s, body) = node.post(
        &format!("/api/v1/repositories/{AUDIT}/query"),
        &ann,
        r#"{"queryString": "type=\"graphql.mutation\" | count()", "start": "1h"}"#,
    );
    assert_eq!(s, 200, "{body}");
}

/// Repeated failed sign-ins of one username from one address are locked out with 429 and
/// `Retry-After` (even with the right password, until the lock ends); other users are not.
#[test]
fn failed_sign_ins_are_rate_limited_per_user_and_address() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &["--audit-log", "false"]);
    for u in ["rita", "sam"] {
        node.graphql(&format!(
            r#"mutation {{ addUserV2(input: {{username: "{u}", password: "right-{u}-pw"}}) {{ username }} }}"#
        ));
    }
    let attempt = |user: &str, pw: &str| {
        node.client
            .post(node.url("/api/v1/login"))
            .json(&json!({"username": user, "password": pw}))
            .send()
            .unwrap()
    };
    for _ in 0..6 {
        assert_eq!(attempt("rita", "wrong").status().as_u16(), 401);
    }
    let r = attempt("rita", "right-rita-pw");
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "Retry-After {retry}");
    assert!(r.text().unwrap().contains("too many failed sign-ins"));
    assert_eq!(attempt("sam", "right-sam-pw").status().as_u16(), 200);
}
