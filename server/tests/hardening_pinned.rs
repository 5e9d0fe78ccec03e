//! A quiet datasource must not pin its partition's ingest queue: its open work-in-progress
//! buffer holds the safe offset back, so without a limit the queue keeps every event of the
//! partition until that buffer ages out (30 min by default). With `--max-pinned-queue-bytes`
//! the digest closes the oldest buffer early, the queue is truncated, and nothing acknowledged
//! is lost across a SIGKILL.

mod common;

use std::path::Path;

use common::Node;
use serde_json::json;

const LIMIT: u64 = 1 << 20;

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The pinned-bytes gauge of `partition` from `/metrics`, if the node shows it.
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

fn send(node: &Node, tok: &str, host: &str, events: Vec<serde_json::Value>) {
    let body = json!([{"tags": {"host": host}, "events": events}]).to_string();
    let (status, text) = node.post("/api/v1/ingest/humio-structured", tok, body);
    assert_eq!(status, 200, "ingest answered {status}: {text}");
}

#[test]
fn a_trickle_datasource_does_not_pin_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let limit = LIMIT.to_string();
    // One partition, so the trickle and the heavy datasource share it; buffers that would
    // otherwise stay open for an hour and hold 64 MiB; small queue files so truncation (whole
    // files) can free space in small steps.
    let mut node = Node::start_with_env(
        &data,
        &[
            "--ingest-partitions",
            "1",
            "--mini-max-age-secs",
            "3600",
            "--mini-max-bytes",
            "67108864",
            "--max-pinned-queue-bytes",
            &limit,
        ],
        &[("STRATA_QUEUE_FILE_BYTES", "131072")],
    );
    let tok = node.repo_with_token("pin", "kv");
    let pad = "p".repeat(150);
    let now = 1_700_000_000_000i64;
    let mut heavy = 0u64;
    let mut trickle = 0u64;
    // ~10 MB of heavy events with a trickle event every 10 requests.
    for r in 0..100u64 {
        if r % 10 == 0 {
            send(
                &node,
                &tok,
                "trickle",
                vec![json!({"timestamp": now + r as i64, "rawstring": format!("trickle {r}")})],
            );
            trickle += 1;
        }
        let events = (0..500u64)
            .map(|i| json!({"timestamp": now + (r * 500 + i) as i64, "rawstring": format!("heavy {r} {i} {pad}")}))
            .collect();
        send(&node, &tok, "heavy", events);
        heavy += 500;
    }
    let queue_dir = data.join("queue").join("humio-ingest").join("0");
    // The queue is truncated down to what the open buffers may pin (plus the partly filled
    // files at both ends); before the limit existed the trickle buffer held all ~10 MB.
    node.wait_until(
        120,
        "the ingest queue to be truncated near the pin limit",
        || dir_bytes(&queue_dir) <= 3 * LIMIT,
    );
    let pinned = pinned_gauge(&node, 0).expect("/metrics shows the pinned bytes of partition 0");
    assert!(
        pinned <= LIMIT as f64,
        "partition 0 pins {pinned} bytes, over the {LIMIT} limit"
    );
    assert!(node.metric("strata_digest_pin_releases_total") >= 1.0);

    // Nothing acknowledged is lost, nothing doubled, when the node dies now.
    node.kill();
    node.restart();
    node.wait_until(120, "every acknowledged event to be searchable", || {
        node.count("pin", "heavy") == heavy && node.count("pin", "trickle") == trickle
    });
    assert_eq!(node.count("pin", "heavy"), heavy);
    assert_eq!(node.count("pin", "trickle"), trickle);
}
