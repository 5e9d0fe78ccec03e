//! End to end against the built binary: GraphQL set-up, every ingest endpoint, query jobs and
//! the streaming endpoint, graceful shutdown, and merging.

mod common;

use std::time::Duration;

use common::{Node, ROOT};
use serde_json::{json, Value};

#[test]
fn ingest_through_every_endpoint_and_find_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("web", "kv");
    let d = node.graphql(r#"{ repositories { name } repository(name: "web") { ingestTokens { name parser { name } } } }"#);
    assert_eq!(d["repositories"][0]["name"], "web");
    assert_eq!(d["repository"]["ingestTokens"][0]["parser"]["name"], "kv");

    let cases: Vec<(&str, String)> = vec![
        ("/api/v1/ingest/humio-structured", json!([{"tags": {"host": "s1"}, "events": [{"timestamp": "2026-01-01T00:00:00Z", "attributes": {"k": "v"}, "rawstring": "ep-structured marker"}]}]).to_string()),
        ("/api/v1/ingest/humio-unstructured", json!([{"fields": {"f": "1"}, "messages": ["ep-unstructured level=WARN"]}]).to_string()),
        ("/api/v1/ingest/raw", "ep-raw one=1\nep-raw two=2\n".to_string()),
        ("/api/v1/ingest/json", json!([{"msg": "ep-json", "n": 1}]).to_string()),
        ("/api/v1/ingest/hec", r#"{"time": 1767225600, "event": "ep-hec-string"}{"event": {"msg": "ep-hec-object"}, "fields": {"x": "y"}}"#.to_string()),
        ("/services/collector", json!({"event": "ep-collector"}).to_string()),
        ("/api/v1/ingest/hec/raw", "ep-hec-raw line\n".to_string()),
        ("/services/collector/raw", "ep-collector-raw line\n".to_string()),
        ("/api/v1/ingest/elastic-bulk", format!("{}\n{}\n", json!({"index": {"_index": "x"}}), json!({"message": "ep-bulk", "@timestamp": "2026-01-01T00:00:00Z"}))),
        ("/_bulk", format!("{}\n{}\n", json!({"create": {}}), json!({"message": "ep-bulk-root", "a": 1}))),
        ("/api/v1/dataspaces/web/ingest", json!([{"events": [{"rawstring": "ep-dataspace-structured"}]}]).to_string()),
        ("/api/v1/dataspaces/web/ingest-messages", json!([{"messages": ["ep-dataspace-messages"]}]).to_string()),
    ];
    for (path, body) in &cases {
        let (status, text) = node.post(path, &tok, body.clone());
        assert_eq!(status, 200, "{path}: {text}");
    }
    // Beats send the ingest token as the basic-auth password.
    let r = node
        .client
        .post(node.url("/_bulk"))
        .basic_auth("beats", Some(&tok))
        .body(format!(
            "{}\n{}\n",
            json!({"index": {}}),
            json!({"message": "ep-basic-auth"})
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // Acknowledged means durable in the queue; searchable follows within moments.
    // The raw endpoint stores its whole two-line body as one event, as LogScale's does.
    node.wait_until(20, "all 14 events searchable", || {
        node.count("web", "ep-") == 14
    });
    let expected = [
        "ep-structured",
        "ep-unstructured",
        "ep-raw",
        "ep-json",
        "ep-hec-string",
        "ep-hec-object",
        "ep-collector",
        "ep-hec-raw",
        "ep-collector-raw",
        "ep-bulk",
        "ep-bulk-root",
        "ep-dataspace-structured",
        "ep-dataspace-messages",
        "ep-basic-auth",
    ];
    for e in expected {
        let rows = node.query("web", &format!("\"{e}\""));
        assert!(!rows.is_empty(), "{e} not found");
    }
    assert_eq!(
        node.count("web", "ep-raw"),
        1,
        "the raw endpoint's two-line body is one event"
    );
    // Parsers and fields: kv extracted `level`, structured attributes and tags are fields.
    assert_eq!(node.count("web", "level=WARN"), 1);
    let s = node.query("web", "ep-structured");
    assert_eq!(s[0]["k"], "v");
    assert_eq!(s[0]["#host"], "s1");
    assert_eq!(s[0]["@timestamp"], 1_767_225_600_000i64);
    assert!(s[0]["@id"].as_str().is_some());
    assert_eq!(node.count("web", "#host=s1"), 1);
    let h = node.query("web", "ep-hec-string");
    assert_eq!(h[0]["@timestamp"], 1_767_225_600_000i64);

    // Query job: create, poll until done, LogScale's response shape, newest first.
    let r: Value = node
        .client
        .post(node.url("/api/v1/repositories/web/queryjobs"))
        .bearer_auth(ROOT)
        .json(&json!({"queryString": "ep-", "start": "10y", "end": "now"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = r["id"].as_str().unwrap().to_string();
    let mut polled = Value::Null;
    for _ in 0..200 {
        polled = node
            .client
            .get(node.url(&format!("/api/v1/repositories/web/queryjobs/{id}")))
            .bearer_auth(ROOT)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if polled["done"] == true {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(polled["done"], true, "{polled}");
    assert_eq!(polled["cancelled"], false);
    let events = polled["events"].as_array().unwrap();
    assert_eq!(events.len(), 14);
    let ts: Vec<i64> = events
        .iter()
        .map(|e| e["@timestamp"].as_i64().unwrap())
        .collect();
    assert!(ts.windows(2).all(|w| w[0] >= w[1]), "newest first: {ts:?}");
    let md = &polled["metaData"];
    for k in [
        "eventCount",
        "processedEvents",
        "processedBytes",
        "isAggregate",
        "pollAfter",
        "fieldOrder",
    ] {
        assert!(md.get(k).is_some(), "metaData lacks {k}: {md}");
    }
    assert_eq!(md["extraData"]["hasMoreEvents"], "false");
    // head() and the aggregate shape.
    let agg = node.query("web", "ep- | head(3) | count()");
    assert_eq!(agg[0]["_count"], "3");
    // Cancel.
    let del = node
        .client
        .delete(node.url(&format!("/api/v1/repositories/web/queryjobs/{id}")))
        .bearer_auth(ROOT)
        .send()
        .unwrap();
    assert_eq!(del.status(), 204);
    let gone = node
        .client
        .get(node.url(&format!("/api/v1/repositories/web/queryjobs/{id}")))
        .bearer_auth(ROOT)
        .send()
        .unwrap();
    assert_eq!(gone.status(), 404);
    // Streaming formats and the dataspaces alias.
    let nd = node
        .client
        .post(node.url("/api/v1/dataspaces/web/query"))
        .bearer_auth(ROOT)
        .header("accept", "application/x-ndjson")
        .json(&json!({"queryString": "ep-raw", "start": "1y"}))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(nd.lines().count(), 1, "the raw body is one event");
    for l in nd.lines() {
        assert!(serde_json::from_str::<Value>(l).unwrap()["@rawstring"]
            .as_str()
            .unwrap()
            .starts_with("ep-raw"));
    }
    let txt = node
        .client
        .post(node.url("/api/v1/repositories/web/query"))
        .bearer_auth(ROOT)
        .header("accept", "text/plain")
        .json(&json!({"queryString": "ep-raw", "start": "1y"}))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(
        txt, "ep-raw one=1\nep-raw two=2\n",
        "the one raw event, as sent"
    );
    let status: Value = node
        .client
        .get(node.url("/api/v1/status"))
        .bearer_auth(common::ROOT)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(status["status"], "ok");
    assert!(status["version"].as_str().is_some());
}

/// SIGTERM closes work in progress into segments and writes a snapshot; a restart serves the
/// same events without replaying them into duplicates.
#[test]
fn graceful_shutdown_flushes_and_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("app", "json");
    for i in 0..50 {
        let (s, t) = node.post(
            "/api/v1/ingest/json",
            &tok,
            json!({"i": i, "msg": "graceful"}).to_string(),
        );
        assert_eq!(s, 200, "{t}");
    }
    // Acknowledged means durable in the queue; searchable follows within moments.
    node.wait_until(20, "all 50 events searchable", || {
        node.count("app", "graceful") == 50
    });
    let status = node.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(dir.path().join("n/global-snapshot.json").exists());
    let segs = std::fs::read_dir(dir.path().join("n/segments"))
        .unwrap()
        .count();
    assert!(segs >= 1, "WIP was closed into segments");
    node.restart();
    node.wait_until(20, "the events after restart", || {
        node.count("app", "graceful") >= 50
    });
    // Give a (wrong) replay time to show up as duplicates before checking exactly-once.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(node.count("app", "graceful"), 50);
    assert_eq!(node.count("app", "i=7"), 1);
}

/// Minis are merged into a zstd segment and the events stay exactly once.
#[test]
fn minis_merge_into_one_segment() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("n"),
        &[
            "--mini-max-age-secs",
            "1",
            "--minis-per-merge",
            "3",
            "--ingest-partitions",
            "1",
            // Rounds are told apart by the node's mini-segment count: humio-audit's minis
            // (of the searches below) would count too.
            "--audit-log",
            "false",
        ],
    );
    let tok = node.repo_with_token("m", "kv");
    for round in 0..3 {
        for i in 0..20 {
            let (s, _) = node.post(
                "/api/v1/ingest/raw",
                &tok,
                format!("round={round} i={i} merge-me"),
            );
            assert_eq!(s, 200);
        }
        // Let each round close into its own mini segment.
        node.wait_until(20, "a mini segment per round", || {
            node.metric("strata_digest_segments_total") as usize > round
        });
    }
    node.wait_until(30, "the merge", || {
        node.metric("strata_merge_segments_total") >= 1.0
    });
    assert_eq!(node.count("m", "merge-me"), 60);
    assert_eq!(node.count("m", "round=1"), 20);
}
