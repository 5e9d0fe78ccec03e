//! Guards the core promise: an event acknowledged with 200 is never lost and never stored
//! twice, even when the node is SIGKILLed right after the last acknowledgement (and while
//! requests are still in flight). Run on the embedded queue and on a real Kafka-protocol
//! broker (Tansu).

mod common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use common::{Broker, Node};
use serde_json::Value;

/// Sends `threads × requests` small requests; returns the markers of acknowledged events.
fn ingest_concurrently(
    node: &Node,
    tok: &str,
    tag: &str,
    threads: usize,
    requests: usize,
) -> HashSet<String> {
    let acked = Arc::new(Mutex::new(HashSet::new()));
    std::thread::scope(|s| {
        for t in 0..threads {
            let acked = acked.clone();
            // One event per line (the raw endpoint would store the whole body as one).
            let url = node.url("/api/v1/ingest/hec/raw");
            s.spawn(move || {
                let client = reqwest::blocking::Client::new();
                for i in 0..requests {
                    let markers: Vec<String> =
                        (0..3).map(|j| format!("{tag}x{t}x{i}x{j}")).collect();
                    let body = markers
                        .iter()
                        .map(|m| format!("dur {m} host=h{}", t % 3))
                        .collect::<Vec<_>>()
                        .join("\n");
                    if let Ok(r) = client.post(&url).bearer_auth(tok).body(body).send() {
                        if r.status() == 200 {
                            acked.lock().unwrap().extend(markers);
                        }
                    }
                }
            });
        }
    });
    Arc::try_unwrap(acked).unwrap().into_inner().unwrap()
}

/// Every acknowledged marker is searchable exactly once.
fn assert_exactly_once(node: &Node, repo: &str, tag: &str, acked: &HashSet<String>) {
    let rows = node.query(repo, &format!("\"dur {tag}\""));
    let mut seen = HashSet::new();
    for r in &rows {
        let raw = r["@rawstring"].as_str().unwrap();
        let marker = raw.split_whitespace().nth(1).unwrap().to_string();
        assert!(seen.insert(marker.clone()), "{marker} is stored twice");
    }
    let missing: Vec<&String> = acked.iter().filter(|m| !seen.contains(*m)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
    let ids: HashSet<&str> = rows.iter().map(|r| r["@id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), rows.len(), "@id values must be unique");
}

fn scenario(extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    // Short WIP age so segments are being written and announced while we kill the node.
    let mut args = vec![
        "--mini-max-age-secs",
        "1",
        "--minis-per-merge",
        "2",
        "--merge-after-secs",
        "2",
    ];
    args.extend_from_slice(extra);
    let mut node = Node::start(&dir.path().join("n"), &args);
    let tok = node.repo_with_token("d", "kv");
    // The events must travel through the configured queue, not a local fallback.
    let kafka = extra.contains(&"--kafka-brokers");
    assert_eq!(dir.path().join("n/queue").exists(), !kafka);

    // Round 1: kill right after the last 200.
    let acked1 = ingest_concurrently(&node, &tok, "a", 4, 60);
    assert_eq!(acked1.len(), 4 * 60 * 3);
    node.kill();
    node.restart();
    node.wait_until(30, "every acked event of round 1", || {
        node.count("d", "\"dur a\"") >= acked1.len() as u64
    });
    assert_exactly_once(&node, "d", "a", &acked1);

    // Round 2: kill while requests are in flight; only acknowledged events are promised.
    let acked2 = Arc::new(Mutex::new(HashSet::new()));
    std::thread::scope(|s| {
        let a2 = acked2.clone();
        let n = &node;
        let tok2 = tok.clone();
        let h = s.spawn(move || {
            let got = ingest_concurrently(n, &tok2, "b", 3, 200);
            a2.lock().unwrap().extend(got);
        });
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // SAFETY of the test: kill through the pid so the scoped borrow stays shared.
        let pid = n.child.as_ref().unwrap().id();
        std::process::Command::new("kill")
            .arg("-9")
            .arg(pid.to_string())
            .status()
            .unwrap();
        h.join().unwrap();
    });
    node.kill();
    let acked2 = Arc::try_unwrap(acked2).unwrap().into_inner().unwrap();
    assert!(
        !acked2.is_empty(),
        "some requests were acknowledged before the kill"
    );
    node.restart();
    node.wait_until(30, "every acked event of round 2", || {
        node.count("d", "\"dur b\"") >= acked2.len() as u64
    });
    assert_exactly_once(&node, "d", "b", &acked2);
    assert_exactly_once(&node, "d", "a", &acked1);
    let total: Vec<Value> = node.query("d", "dur | count()");
    assert!(
        total[0]["_count"]
            .as_str()
            .unwrap()
            .parse::<usize>()
            .unwrap()
            >= acked1.len() + acked2.len()
    );
}

#[test]
fn sigkill_loses_nothing_acknowledged_embedded_queue() {
    scenario(&[]);
}

#[test]
fn sigkill_loses_nothing_acknowledged_kafka() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let brokers = broker.brokers();
    scenario(&["--kafka-brokers", &brokers, "--ingest-partitions", "4"]);
}
