//! The GraphQL API the web UI uses, against a real node: token checks, repository
//! administration (description, retention, tokens, delete), parser scripts (test runs and use
//! at ingest), saved searches, dashboards, the cluster view; and the UI served at `/`.

mod common;

use common::{Node, ROOT};
use serde_json::{json, Value};

fn gql_raw(node: &Node, token: Option<&str>, query: &str) -> (u16, Value) {
    let mut r = node
        .client
        .post(node.url("/graphql"))
        .json(&json!({ "query": query }));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// The first error message of a GraphQL answer that must fail.
fn gql_err(node: &Node, query: &str) -> String {
    let (status, v) = gql_raw(node, Some(ROOT), query);
    assert_eq!(status, 200);
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {v}"))
        .to_string()
}

#[test]
fn every_request_needs_an_api_token() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let token = node.repo_with_token("web", "kv");
    let (s, _) = gql_raw(&node, None, "{ repositories { name } }");
    assert_eq!(s, 401);
    let (s, _) = gql_raw(&node, Some("wrong"), "{ viewer { username } }");
    assert_eq!(s, 401);
    let (s, v) = gql_raw(&node, Some(&token), "{ repositories { name } }");
    assert_eq!(s, 403, "an ingest token must not read metadata: {v}");
    let (s, v) = gql_raw(&node, Some(ROOT), "{ viewer { username isRoot } }");
    assert_eq!(s, 200);
    assert_eq!(
        v["data"]["viewer"],
        json!({"username": "root", "isRoot": true})
    );
}

#[test]
fn repository_administration() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    node.graphql(r#"mutation { createRepository(name: "web", description: "front") { repository { name } } }"#);
    node.graphql(
        r#"mutation { updateDescriptionForSearchDomain(name: "web", newDescription: "edge") }"#,
    );
    node.graphql(r#"mutation { updateRetention(repositoryName: "web", timeBasedRetention: 7, ingestSizeBasedRetention: 1.5) }"#);
    let d = node.graphql(r#"{ repository(name: "web") { description timeBasedRetention ingestSizeBasedRetention storageSizeBasedRetention } }"#);
    assert_eq!(
        d["repository"],
        json!({"description": "edge", "timeBasedRetention": 7.0, "ingestSizeBasedRetention": 1.5, "storageSizeBasedRetention": null})
    );
    let e = gql_err(
        &node,
        r#"mutation { updateRetention(repositoryName: "web", timeBasedRetention: 0) }"#,
    );
    assert!(e.contains("timeBasedRetention"), "{e}");
    let e = gql_err(
        &node,
        r#"mutation { updateRetention(repositoryName: "web", storageSizeBasedRetention: -2) }"#,
    );
    assert!(e.contains("storageSizeBasedRetention"), "{e}");
    let e = gql_err(
        &node,
        r#"mutation { updateRetention(repositoryName: "nope", timeBasedRetention: 3) }"#,
    );
    assert!(e.contains("does not exist"), "{e}");

    // Tokens: create two, remove one, assign a parser to the other.
    let t1 = node.graphql(
        r#"mutation { addIngestTokenV3(input: {repositoryName: "web", name: "a"}) { token } }"#,
    )["addIngestTokenV3"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    node.graphql(
        r#"mutation { addIngestTokenV3(input: {repositoryName: "web", name: "b"}) { token } }"#,
    );
    node.graphql(r#"mutation { removeIngestToken(repositoryName: "web", name: "b") }"#);
    node.graphql(r#"mutation { assignParserToIngestTokenV2(input: {repositoryName: "web", tokenName: "a", parser: "json"}) { name } }"#);
    let d = node
        .graphql(r#"{ repository(name: "web") { ingestTokens { name token parser { name } } } }"#);
    assert_eq!(
        d["repository"]["ingestTokens"],
        json!([{"name": "a", "token": null, "parser": {"name": "json"}}])
    );
    let e = gql_err(
        &node,
        r#"mutation { assignParserToIngestTokenV2(input: {repositoryName: "web", tokenName: "a", parser: "nosuch"}) { name } }"#,
    );
    assert!(e.contains("unknown parser \"nosuch\""), "{e}");

    let (s, _) = node.post("/api/v1/ingest/json", &t1, r#"{"msg": "hi"}"#);
    assert_eq!(s, 200);
    node.wait_until(20, "the event", || node.count("web", "msg=hi") == 1);
    let d = node.graphql(r#"{ repositories { name eventCount } }"#);
    assert_eq!(
        d["repositories"],
        json!([{"name": "web", "eventCount": 0}]),
        "still in work in progress"
    );

    // Deleting the repository removes its tokens with it.
    node.graphql(r#"mutation { deleteSearchDomain(name: "web", deleteMessage: "test") }"#);
    assert_eq!(
        node.graphql("{ repositories { name } }")["repositories"],
        json!([])
    );
    let (s, _) = node.post("/api/v1/ingest/json", &t1, r#"{"msg": "again"}"#);
    assert_eq!(s, 401);
    let e = gql_err(&node, r#"mutation { deleteSearchDomain(name: "web") }"#);
    assert!(e.contains("does not exist"), "{e}");
}

#[test]
fn parser_scripts_are_tested_and_used_at_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    node.graphql(r#"mutation { createRepository(name: "app") { repository { name } } }"#);
    let script = r#"/^(?<ts>\\S+) (?<level>\\w+) (?<msg>.*)$/ | @timestamp := parseTimestamp(field=ts) | drop(ts)"#;
    // A test line the script drops refuses the parser.
    let e = gql_err(
        &node,
        &format!(
            r#"mutation {{ createParser(input: {{repositoryName: "app", name: "p", script: "{script}", testData: ["bad line"]}}) {{ name }} }}"#
        ),
    );
    assert!(e.contains("test line 1 is dropped"), "{e}");
    let e = gql_err(
        &node,
        r#"mutation { createParser(input: {repositoryName: "app", name: "p", script: "groupBy("}) { name } }"#,
    );
    assert!(e.contains("position"), "{e}");
    let e = gql_err(
        &node,
        r#"mutation { createParser(input: {repositoryName: "app", name: "json", script: "x"}) { name } }"#,
    );
    assert!(e.contains("built-in"), "{e}");
    node.graphql(&format!(r#"mutation {{ createParser(input: {{repositoryName: "app", name: "p", script: "{script}", testData: ["2024-05-01T10:00:00Z INFO ok"]}}) {{ name }} }}"#));

    let d = node.graphql(r#"{ testParser(repositoryName: "app", parser: "p", testData: ["2024-05-01T10:00:00Z ERROR disk full", "nope"]) { kept timestamp fields { name value } } }"#);
    assert_eq!(
        d["testParser"],
        json!([
            {"kept": true, "timestamp": 1714557600000i64, "fields": [{"name": "level", "value": "ERROR"}, {"name": "msg", "value": "disk full"}]},
            {"kept": false, "timestamp": null, "fields": []}
        ])
    );
    let parsers = node.graphql(r#"{ repository(name: "app") { parsers { name isBuiltIn } } }"#);
    assert_eq!(
        parsers["repository"]["parsers"].as_array().unwrap().len(),
        5
    );

    // Ingest through a token that uses the script: fields extracted, timestamp taken, the
    // line the script drops is not stored.
    let tok = node.graphql(r#"mutation { addIngestTokenV3(input: {repositoryName: "app", name: "t", parser: "p"}) { token } }"#)["addIngestTokenV3"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let body = json!([{"messages": [format!("{now} ERROR disk full"), format!("{now} INFO fine"), "unparseable"]}]);
    let (s, t) = node.post("/api/v1/ingest/humio-unstructured", &tok, body.to_string());
    assert_eq!(s, 200, "{t}");
    node.wait_until(20, "parsed events", || node.count("app", "*") == 2);
    let rows = node.query("app", "level=ERROR | table([level, msg])");
    assert_eq!(rows, vec![json!({"level": "ERROR", "msg": "disk full"})]);

    // Replacing and deleting.
    node.graphql(r#"mutation { updateParser(input: {repositoryName: "app", name: "p", script: "kvParse()"}) { name } }"#);
    node.graphql(r#"mutation { deleteParser(input: {repositoryName: "app", id: "p"}) }"#);
    let (s, t) = node.post("/api/v1/ingest/raw", &tok, "x=1");
    assert_eq!(
        s, 400,
        "a token whose parser is gone is refused with a reason"
    );
    assert!(t.contains("unknown parser \"p\""), "{t}");
}

#[test]
fn saved_searches_and_dashboards() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    node.graphql(r#"mutation { createRepository(name: "web") { repository { name } } }"#);
    let q = node.graphql(r#"mutation { createSavedQuery(input: {name: "errors", viewName: "web", queryString: "level=ERROR | count()", start: "1h"}) { id name queryString start end } }"#);
    assert_eq!(q["createSavedQuery"]["start"], "1h");
    assert_eq!(q["createSavedQuery"]["end"], "now");
    let e = gql_err(
        &node,
        r#"mutation { createSavedQuery(input: {name: "bad", viewName: "web", queryString: "count("}) { id } }"#,
    );
    assert!(
        e.contains("query parse error") && e.contains("position"),
        "{e}"
    );
    let e = gql_err(
        &node,
        r#"mutation { createSavedQuery(input: {name: "bad", viewName: "web", queryString: "x", start: "3 fortnights"}) { id } }"#,
    );
    assert!(e.contains("start"), "{e}");
    let d = node.graphql(r#"{ repository(name: "web") { savedQueries { name queryString } } }"#);
    assert_eq!(
        d["repository"]["savedQueries"],
        json!([{"name": "errors", "queryString": "level=ERROR | count()"}])
    );

    let d = node.graphql(r#"mutation { createDashboard(input: {searchDomainName: "web", name: "Ops", widgets: [{title: "n", queryString: "count()", visualization: SINGLE_VALUE}, {title: "by host", queryString: "groupBy(host)", visualization: BAR_CHART}]}) { id widgets { id title visualization } } }"#);
    let id = d["createDashboard"]["id"].as_str().unwrap().to_string();
    assert_eq!(d["createDashboard"]["widgets"].as_array().unwrap().len(), 2);
    let e = gql_err(
        &node,
        &format!(
            r#"mutation {{ updateDashboard(input: {{id: "{id}", searchDomainName: "web", name: "Ops", widgets: [{{title: "x", queryString: "groupBy(", visualization: TABLE}}]}}) {{ id }} }}"#
        ),
    );
    assert!(e.contains("widget 1"), "{e}");
    node.graphql(&format!(r#"mutation {{ updateDashboard(input: {{id: "{id}", searchDomainName: "web", name: "Ops 2", start: "7d", refreshIntervalSeconds: 30, widgets: [{{title: "t", queryString: "tail(5)", visualization: TABLE}}]}}) {{ id }} }}"#));
    let d = node.graphql(&format!(r#"{{ repository(name: "web") {{ dashboard(id: "{id}") {{ name start refreshIntervalSeconds widgets {{ title queryString visualization }} }} }} }}"#));
    assert_eq!(
        d["repository"]["dashboard"],
        json!({"name": "Ops 2", "start": "7d", "refreshIntervalSeconds": 30, "widgets": [{"title": "t", "queryString": "tail(5)", "visualization": "TABLE"}]})
    );
    node.graphql(&format!(
        r#"mutation {{ deleteDashboard(input: {{id: "{id}", searchDomainName: "web"}}) }}"#
    ));
    assert_eq!(
        node.graphql(r#"{ repository(name: "web") { dashboards { id } } }"#)["repository"]
            ["dashboards"],
        json!([])
    );
}

#[test]
fn cluster_view_and_ui_serving() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("web", "kv");
    let (s, _) = node.post("/api/v1/ingest/raw", &tok, "a=1\na=2\na=3");
    assert_eq!(s, 200);
    let d = node.graphql("{ cluster { nodes { id isThisNode isAvailable state } ingestPartitions { id nodeIds safeOffset endOffset lag } segmentCount bucket bucketUploadBacklog { segments } } }");
    let c = &d["cluster"];
    assert_eq!(
        c["nodes"],
        json!([{"id": 1, "isThisNode": true, "isAvailable": true, "state": "Running"}])
    );
    let parts = c["ingestPartitions"].as_array().unwrap();
    assert_eq!(parts.len(), 4);
    let lag: u64 = parts.iter().map(|p| p["lag"].as_u64().unwrap()).sum();
    // The acked record, and the audit events of the two set-up mutations (humio-audit is
    // written through the ingest queue too).
    assert_eq!(lag, 3, "three acked records not yet in a segment");
    assert!(parts.iter().all(|p| p["nodeIds"] == json!([1])));
    assert_eq!(c["bucket"], Value::Null);

    // The UI: index.html at / and for client-side routes; API paths never fall back to it.
    let ui_built = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ui/dist/index.html")
        .exists();
    for path in ["/", "/search?repo=web&query=x", "/dashboards/web/123"] {
        let r = node.client.get(node.url(path)).send().unwrap();
        if ui_built {
            assert_eq!(r.status().as_u16(), 200, "{path}");
            assert!(r.text().unwrap().contains(r#"<div id="app">"#), "{path}");
        } else {
            assert_eq!(r.status().as_u16(), 503, "{path}");
            assert!(r.text().unwrap().contains("not built"), "{path}");
        }
    }
    let r = node.client.get(node.url("/api/v1/nosuch")).send().unwrap();
    assert_eq!(r.status().as_u16(), 404);
}
