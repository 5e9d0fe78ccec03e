//! The streaming `/query` endpoint against the built binary, read as a client reads it: the
//! default `text/plain`, JSON and NDJSON; an event list is never cut unless the query says so
//! (`tail(N)`/`head(N)` exactly); a 50,000-event export equals the ingested set, newest first;
//! the answer streams (proved without timing: the reader stops reading, an event older than
//! all others is ingested, and the still-open answer ends with it — only a search that had
//! not yet reached the oldest slice can see it); `isLive` delivers an event ingested after
//! the request started; bad parameters are refused by name.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::time::Duration;

use common::{Node, ROOT};
use serde_json::{json, Value};

const EVENTS: usize = 50_000;
/// Each event's padding: makes the export far larger than every buffer between the search and
/// the reader (channel, socket buffers), so a reader that stops reading stops the search.
const PAD: usize = 1000;

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap()
}

fn stream(node: &Node, body: Value, accept: Option<&str>) -> reqwest::blocking::Response {
    let mut r = client()
        .post(node.url("/api/v1/repositories/app/query"))
        .bearer_auth(ROOT)
        .json(&body);
    if let Some(a) = accept {
        r = r.header("accept", a);
    }
    r.send().unwrap()
}

fn text(node: &Node, body: Value, accept: Option<&str>) -> (u16, String, String) {
    let r = stream(node, body, accept);
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.text().unwrap())
}

fn ndjson(s: &str) -> Vec<Value> {
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn seqs(rows: &[Value]) -> Vec<u64> {
    rows.iter()
        .map(|r| r["seq"].as_str().unwrap().parse().unwrap())
        .collect()
}

/// Ingests `EVENTS` events, one every 10 ms ending a minute ago, with `seq` = their order.
fn ingest(node: &Node, tok: &str) -> i64 {
    let base = now_ms() - 60_000 - EVENTS as i64 * 10;
    let pad = "p".repeat(PAD);
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(2_000) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"timestamp": base + *i as i64 * 10, "attributes": {"seq": i.to_string()},
                       "rawstring": format!("export seq={i} {pad}")})
            })
            .collect();
        let (s, t) = node.post(
            "/api/v1/ingest/humio-structured",
            tok,
            json!([{"tags": {"host": "h1"}, "events": events}]).to_string(),
        );
        assert_eq!(s, 200, "{t}");
    }
    node.wait_until(120, "every event searchable", || {
        node.count("app", "export") == EVENTS as u64
    });
    base
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[test]
fn exports_every_event_in_every_format_and_streams_as_it_searches() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("app", "json");
    let base = ingest(&node, &tok);
    let all = json!({"queryString": "export", "start": "1d"});

    // NDJSON: every event once, newest first, nothing cut, no warning.
    let r = stream(&node, all.clone(), Some("application/x-ndjson"));
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    assert_eq!(r.headers()["x-strata-warnings"], "");
    let rows = ndjson(&r.text().unwrap());
    let want: Vec<u64> = (0..EVENTS as u64).rev().collect();
    assert_eq!(seqs(&rows), want, "the whole result, newest first");
    assert_eq!(
        rows[0]["@timestamp"],
        json!(base + (EVENTS as i64 - 1) * 10)
    );
    assert!(rows[0]["@rawstring"]
        .as_str()
        .unwrap()
        .starts_with("export seq=49999 "));

    // text/plain is the default: one @rawstring a line.
    let (s, ct, body) = text(&node, all.clone(), None);
    assert_eq!((s, ct.as_str()), (200, "text/plain; charset=utf-8"));
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), EVENTS);
    assert!(
        lines[0].starts_with("export seq=49999 ") && lines[EVENTS - 1].starts_with("export seq=0 ")
    );

    // JSON: one array with the same events.
    let (s, ct, body) = text(&node, all.clone(), Some("application/json"));
    assert_eq!((s, ct.as_str()), (200, "application/json"));
    let arr: Vec<Value> = serde_json::from_str(&body).unwrap();
    assert_eq!(arr, rows);

    // Explicit limits are honoured exactly: tail the newest, head the oldest (oldest first).
    let (_, _, t) = text(
        &node,
        json!({"queryString": "export | tail(1500)", "start": "1d"}),
        Some("application/x-ndjson"),
    );
    assert_eq!(
        seqs(&ndjson(&t)),
        (EVENTS as u64 - 1500..EVENTS as u64)
            .rev()
            .collect::<Vec<_>>()
    );
    let (_, _, h) = text(
        &node,
        json!({"queryString": "export | head(1500)", "start": "1d"}),
        Some("application/x-ndjson"),
    );
    assert_eq!(seqs(&ndjson(&h)), (0..1500).collect::<Vec<_>>());
    let (_, _, h) = text(
        &node,
        json!({"queryString": "export | head(50000)", "start": "1d"}),
        Some("application/x-ndjson"),
    );
    assert_eq!(seqs(&ndjson(&h)), (0..EVENTS as u64).collect::<Vec<_>>());

    // Aggregates answer whole, in every format (plain: LogScale's `name->value`).
    let (s, _, p) = text(
        &node,
        json!({"queryString": "export | count()", "start": "1d"}),
        None,
    );
    assert_eq!((s, p.as_str()), (200, "_count->50000\n"));

    // It streams: read the first line, stop reading, ingest an event older than every other;
    // once it is searchable, the rest of the same answer must end with it.
    let r = stream(&node, all.clone(), Some("application/x-ndjson"));
    let mut reader = BufReader::new(r);
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert_eq!(
        seqs(&[serde_json::from_str(&first).unwrap()]),
        vec![EVENTS as u64 - 1]
    );
    let old = json!([{"tags": {"host": "h1"}, "events": [
        {"timestamp": base - 3_600_000, "attributes": {"seq": "late"}, "rawstring": "export late-old"}]}]);
    let (s, t) = node.post("/api/v1/ingest/humio-structured", &tok, old.to_string());
    assert_eq!(s, 200, "{t}");
    node.wait_until(60, "the old event searchable", || {
        node.count("app", "late-old") == 1
    });
    let mut rest = String::new();
    reader.read_to_string(&mut rest).unwrap();
    let rest = ndjson(&rest);
    assert_eq!(rest.len(), EVENTS, "every other event, and the late one");
    assert_eq!(
        rest.last().unwrap()["@rawstring"],
        "export late-old",
        "the answer was still being searched when the reader paused"
    );
}

#[test]
fn live_streams_and_refused_requests() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("app", "json");
    let (s, t) = node.post(
        "/api/v1/ingest/json",
        &tok,
        json!([{"msg": "live-mark one"}, {"msg": "other"}]).to_string(),
    );
    assert_eq!(s, 200, "{t}");
    node.wait_until(30, "the first event searchable", || {
        node.count("app", "live-mark") == 1
    });

    // isLive: history first, then an event ingested after the request started.
    let r = stream(
        &node,
        json!({"queryString": "live-mark", "start": "1h", "isLive": true}),
        Some("application/x-ndjson"),
    );
    assert_eq!(r.status(), 200);
    let mut reader = BufReader::new(r);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["msg"], "live-mark one", "{line}");
    let (s, t) = node.post(
        "/api/v1/ingest/json",
        &tok,
        json!([{"msg": "not this"}, {"msg": "live-mark two"}]).to_string(),
    );
    assert_eq!(s, 200, "{t}");
    line.clear();
    reader.read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["msg"], "live-mark two", "{line}");
    drop(reader);

    // Refused by name.
    let refused = [
        (
            json!({"queryString": "x | count()", "isLive": true}),
            None,
            400,
            "filter query only",
        ),
        (
            json!({"queryString": "x", "timeZone": "Mars/Olympus"}),
            None,
            400,
            "Mars/Olympus",
        ),
        (
            json!({"queryString": "x", "timeZoneOffsetMinutes": "60"}),
            None,
            400,
            "timeZoneOffsetMinutes",
        ),
        (
            json!({"queryString": "x", "ingestStart": "1h"}),
            None,
            400,
            "ingestStart",
        ),
        (
            json!({"queryString": "x", "ingestEnd": 5}),
            None,
            400,
            "ingestEnd",
        ),
        (
            json!({"queryString": "x", "around": {"eventId": "a"}}),
            None,
            400,
            "around",
        ),
        (
            json!({"queryString": "x", "allowEventSkipping": "yes"}),
            None,
            400,
            "allowEventSkipping",
        ),
        (
            json!({"queryString": "x"}),
            Some("application/xml"),
            406,
            "application/xml",
        ),
    ];
    for (body, accept, status, says) in refused {
        let (s, _, t) = text(&node, body.clone(), accept);
        assert_eq!(s, status, "{body}: {t}");
        assert!(t.contains(says), "{body}: {t}");
    }
    // Accepted: a zone by name or offset, allowEventSkipping.
    let (s, _, t) = text(
        &node,
        json!({"queryString": "live-mark", "start": "1h", "timeZone": "Europe/Copenhagen", "allowEventSkipping": true}),
        None,
    );
    assert_eq!((s, t.lines().count()), (200, 2), "{t}");
    let (s, _, _) = text(
        &node,
        json!({"queryString": "x", "timeZoneOffsetMinutes": -300}),
        None,
    );
    assert_eq!(s, 200);
}
