//! Hostile requests from a holder of an ingest token (issue 20): each is refused with a 4xx
//! naming the limit and the flag that sets it, or accepted truncated and flagged where
//! LogScale truncates, and the node keeps serving. Each test failed on the code before its
//! limit existed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::Node;
use serde_json::json;

fn structured(host: &str, n: usize) -> String {
    let events: Vec<_> = (0..n)
        .map(|i| json!({"timestamp": 1_700_000_000_000i64 + i as i64, "attributes": {"i": i}, "rawstring": format!("e{i} {host}")}))
        .collect();
    json!([{"tags": {"host": host}, "events": events}]).to_string()
}

/// The status line of the answer read from a raw socket (up to 10 s).
fn status_line(sock: &mut TcpStream) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[test]
fn datasources_past_the_repository_limit_are_refused_and_existing_ones_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("n"),
        &["--max-datasources-per-repo", "5", "--audit-log", "false"],
    );
    let tok = node.repo_with_token("ds", "kv");
    let other = node.repo_with_token("ds2", "kv");
    for h in 0..5 {
        let (s, t) = node.post(
            "/api/v1/ingest/humio-structured",
            &tok,
            structured(&format!("h{h}"), 2),
        );
        assert_eq!(s, 200, "datasource {h}: {t}");
    }
    // The 6th tag combination: refused whole, naming the limit and its flag.
    let (s, t) = node.post("/api/v1/ingest/humio-structured", &tok, structured("h5", 2));
    assert_eq!(s, 400, "{t}");
    assert!(
        t.contains("--max-datasources-per-repo") && t.contains("limit of 5 datasources"),
        "{t}"
    );
    // A request mixing a known and a new datasource is refused whole.
    let mixed = json!([
        {"tags": {"host": "h0"}, "events": [{"timestamp": 1_700_000_000_000i64, "rawstring": "mixed-known"}]},
        {"tags": {"host": "h6"}, "events": [{"timestamp": 1_700_000_000_000i64, "rawstring": "mixed-new"}]},
    ])
    .to_string();
    let (s, t) = node.post("/api/v1/ingest/humio-structured", &tok, mixed);
    assert_eq!(s, 400, "{t}");
    // Existing datasources and other repositories are unaffected.
    let (s, t) = node.post("/api/v1/ingest/humio-structured", &tok, structured("h0", 1));
    assert_eq!(s, 200, "{t}");
    let (s, t) = node.post(
        "/api/v1/ingest/humio-structured",
        &other,
        structured("h5", 1),
    );
    assert_eq!(s, 200, "{t}");
    node.wait_until(20, "accepted events to be searchable", || {
        node.count("ds", "") == 11
    });
    assert_eq!(
        node.count("ds", "mixed-known"),
        0,
        "a refused request stored nothing"
    );
    assert_eq!(node.count("ds", "#host=h5"), 0);
}

#[test]
fn ambiguous_tags_too_many_events_and_oversized_events() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("n"),
        &[
            "--max-events-per-request",
            "10",
            "--max-event-bytes",
            "2000",
            "--audit-log",
            "false",
        ],
    );
    let tok = node.repo_with_token("t", "none");
    // `a=b` as a tag name would make {a=b: c} and {a: b=c} one datasource key.
    for (name, value) in [("a=b", "c"), ("a\u{1f}b", "c"), ("host", "x\u{1f}y")] {
        let body = json!([{"tags": {name: value}, "events": [{"timestamp": 1_700_000_000_000i64, "rawstring": "ambiguous"}]}]);
        let (s, t) = node.post("/api/v1/ingest/humio-structured", &tok, body.to_string());
        assert_eq!(s, 400, "tag {name:?}={value:?}: {t}");
        assert!(t.contains("tag"), "{t}");
    }
    let (s, t) = node.post(
        "/api/v1/ingest/humio-structured",
        &tok,
        structured("many", 11),
    );
    assert_eq!(s, 413, "{t}");
    assert!(
        t.contains("11 events") && t.contains("--max-events-per-request"),
        "{t}"
    );
    // LogScale truncates an event over its size limit: stored cut, flagged in @error.
    let big = "z".repeat(5000);
    let (s, t) = node.post("/api/v1/ingest/raw", &tok, big.clone());
    assert_eq!(s, 200, "{t}");
    node.wait_until(20, "the truncated event to be searchable", || {
        node.count("t", "") == 1
    });
    let rows = node.query("t", "@error=true");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let raw = rows[0]["@rawstring"].as_str().unwrap();
    assert!(raw.len() <= 2000 && raw.ends_with("..."), "{}", raw.len());
    assert!(
        rows[0]["@error_msg"]
            .as_str()
            .unwrap()
            .contains("--max-event-bytes"),
        "{}",
        rows[0]
    );
    assert_eq!(node.count("t", "ambiguous"), 0);
}

#[test]
fn ingest_bytes_in_flight_past_the_limit_are_answered_429() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("n"),
        &[
            "--max-body-bytes",
            "100000",
            "--max-ingest-bytes-in-flight",
            "100000",
            "--audit-log",
            "false",
        ],
    );
    let tok = node.repo_with_token("f", "none");
    // A slow shipper: its 100 kB request holds the whole budget while its body trickles in.
    let open_slow = || {
        let mut slow = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
        let head = format!(
            "POST /api/v1/ingest/raw HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {tok}\r\nContent-Length: 100000\r\n\r\n"
        );
        slow.write_all(head.as_bytes()).unwrap();
        slow.write_all(&[b's'; 10]).unwrap();
        slow
    };
    let mut slow = open_slow();
    let t = Instant::now();
    let mut reopened = 0;
    let refused = loop {
        let (s, text) = node.post("/api/v1/ingest/raw", &tok, "small event");
        if s == 429 {
            break text;
        }
        assert_eq!(s, 200, "{text}");
        // A small request in flight when the slow one arrived holds part of the budget, so
        // the slow one is refused at once (rightly): open it again.
        slow.set_nonblocking(true).unwrap();
        let mut peek = [0u8; 16];
        let answered = slow.peek(&mut peek).is_ok_and(|n| n > 0);
        slow.set_nonblocking(false).unwrap();
        if answered {
            assert!(
                peek.starts_with(b"HTTP/1.1 429"),
                "{:?}",
                String::from_utf8_lossy(&peek)
            );
            reopened += 1;
            slow = open_slow();
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "never refused while 100 kB were in flight (the slow request was refused {reopened} times)"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        refused.contains("--max-ingest-bytes-in-flight"),
        "{refused}"
    );
    // The slow request completes and frees the budget.
    slow.write_all(&vec![b's'; 100_000 - 10]).unwrap();
    let line = status_line(&mut slow);
    assert!(line.starts_with("HTTP/1.1 200"), "{line:?}");
    let (s, text) = node.post("/api/v1/ingest/raw", &tok, "after");
    assert_eq!(s, 200, "{text}");
}

#[test]
fn an_unauthenticated_request_is_answered_before_its_body_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &["--audit-log", "false"]);
    for path in [
        "/api/v1/ingest/raw",
        "/api/v1/ingest/humio-structured",
        "/api/v1/ingest/elastic-bulk/_bulk",
    ] {
        let mut sock = TcpStream::connect(("127.0.0.1", node.port)).unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer not-a-token\r\nContent-Length: 500000\r\n\r\n"
        );
        sock.write_all(head.as_bytes()).unwrap();
        // No body is ever sent: the answer must not wait for it.
        let line = status_line(&mut sock);
        assert!(line.starts_with("HTTP/1.1 401"), "{path}: {line:?}");
    }
}

/// The pinned-bytes gauge of `partition` from `/metrics`.
fn pinned_gauge(node: &Node, partition: u32) -> Option<f64> {
    let text = node
        .client
        .get(node.url("/metrics"))
        .bearer_auth(common::ROOT)
        .send()
        .ok()?
        .text()
        .ok()?;
    let prefix = format!("strata_digest_pinned_queue_bytes{{partition=\"{partition}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix).and_then(|v| v.parse().ok()))
}

#[test]
fn deleting_a_repository_with_open_buffers_frees_the_queue_and_its_events_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(
        &dir.path().join("n"),
        &[
            "--ingest-partitions",
            "1",
            "--mini-max-age-secs",
            "2",
            "--audit-log",
            "false",
        ],
    );
    let tok = node.repo_with_token("gone", "none");
    let (s, t) = node.post(
        "/api/v1/ingest/humio-structured",
        &tok,
        structured("old", 10),
    );
    assert_eq!(s, 200, "{t}");
    node.graphql(r#"mutation { deleteSearchDomain(name: "gone") }"#);
    // Before: digest retried AddSegment for the deleted repository forever and the buffer
    // kept the partition's queue pinned.
    node.wait_until(30, "the deleted repository's buffer to be dropped", || {
        node.metric("strata_digest_dropped_events_total") >= 10.0
            && pinned_gauge(&node, 0) == Some(0.0)
    });
    // The safe offset is published right after the drop (same digest tick).
    std::thread::sleep(Duration::from_secs(2));
    node.kill();
    node.restart();
    let tok = node.repo_with_token("gone", "none");
    let (s, t) = node.post(
        "/api/v1/ingest/humio-structured",
        &tok,
        structured("new", 1),
    );
    assert_eq!(s, 200, "{t}");
    node.wait_until(20, "the new event to be searchable", || {
        node.count("gone", "") >= 1
    });
    // Past a digest flush (mini max age 2 s): the old events did not come back.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(node.count("gone", ""), 1);
    assert_eq!(node.count("gone", "#host=old"), 0);
}

/// Query jobs per user and live queries per node are bounded: past either limit a new one is a
/// 429 naming the limit and its flag; deleting a job frees its place; other users and static
/// queries are not held back by one user's live queries.
#[test]
fn query_jobs_per_user_and_live_queries_past_their_limits_are_429() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(
        &dir.path().join("n"),
        &[
            "--max-query-jobs-per-user",
            "3",
            "--max-live-queries",
            "2",
            "--audit-log",
            "false",
        ],
    );
    node.repo_with_token("q", "kv");
    let create = |body: serde_json::Value| -> (u16, serde_json::Value) {
        let r = node
            .client
            .post(node.url("/api/v1/repositories/q/queryjobs"))
            .bearer_auth(common::ROOT)
            .json(&body)
            .send()
            .unwrap();
        let s = r.status().as_u16();
        let t = r.text().unwrap_or_default();
        (
            s,
            serde_json::from_str(&t).unwrap_or(serde_json::Value::String(t)),
        )
    };
    let live = json!({"queryString": "count()", "start": "1h", "isLive": true});
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (s, v) = create(live.clone());
        assert_eq!(s, 200, "{v}");
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    // A third live query, as a job or as a stream: refused.
    let (s, v) = create(live.clone());
    assert_eq!(s, 429, "{v}");
    assert!(v.to_string().contains("--max-live-queries 2"), "{v}");
    let (s, t) = node.post(
        "/api/v1/repositories/q/query",
        common::ROOT,
        json!({"queryString": "x", "isLive": true}).to_string(),
    );
    assert_eq!(s, 429, "{t}");
    // A static job still fits (3 of 3); a fourth job of the same user does not.
    let (s, v) = create(json!({"queryString": "count()"}));
    assert_eq!(s, 200, "{v}");
    let (s, v) = create(json!({"queryString": "count()"}));
    assert_eq!(s, 429, "{v}");
    assert!(v.to_string().contains("--max-query-jobs-per-user 3"), "{v}");
    // Deleting a live job frees a place for both limits.
    let r = node
        .client
        .delete(node.url(&format!("/api/v1/repositories/q/queryjobs/{}", ids[0])))
        .bearer_auth(common::ROOT)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (s, v) = create(live);
    assert_eq!(s, 200, "{v}");
}
