//! A live streaming `/query` (`isLive: true`) in a cluster of real processes: the stream is
//! opened on one node while the other node digests half of the partitions, and it must carry
//! every matching event once — the history, and each event either node's digest adds while
//! the stream is open.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use strata_cluster_tests::{lines, Cluster, ROOT};

/// Opens a live NDJSON stream of `q` on node `i`; its rows arrive on the returned channel.
fn open_stream(c: &Cluster, i: usize, repo: &str, q: &str) -> mpsc::Receiver<Value> {
    let client = reqwest::blocking::Client::builder()
        .timeout(None)
        .build()
        .unwrap();
    let r = client
        .post(c.nodes[i].url(&format!("/api/v1/repositories/{repo}/query")))
        .bearer_auth(ROOT)
        .header("accept", "application/x-ndjson")
        .json(&json!({"queryString": q, "start": "1h", "isLive": true}))
        .send()
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "live stream on node {}: {:?}",
        i + 1,
        r.headers()
    );
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { return };
            if line.trim().is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(&line).expect("an NDJSON row");
            if tx.send(v).is_err() {
                return;
            }
        }
    });
    rx
}

/// Takes rows from the stream until `n` arrived (or fails after `secs`); returns seq → count.
fn take(rx: &mpsc::Receiver<Value>, n: usize, secs: u64) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    let t = Instant::now();
    let mut got = 0;
    while got < n {
        let left = Duration::from_secs(secs).saturating_sub(t.elapsed());
        let row = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("the live stream carried {got} of {n} rows"));
        let seq: u64 = row["seq"].as_str().expect("seq").parse().unwrap();
        *seen.entry(seq).or_insert(0) += 1;
        got += 1;
    }
    seen
}

#[test]
fn a_live_stream_carries_every_nodes_digest() {
    let mut c = Cluster::new(2);
    c.create_repo("live");
    c.wait_partitions_spread();
    // History, over 12 datasources so both nodes digest some of it.
    for b in 0..12 {
        assert!(c.ingest_tagged(b % 2, &format!("s{b}"), &lines("lv", b * 10, 10)));
    }
    c.assert_count(0, "batch=lv", 120);
    let rx = open_stream(&c, 0, "live", "batch=lv");
    let history = take(&rx, 120, 60);
    assert_eq!(history.len(), 120, "every historical event");
    assert!(history.values().all(|n| *n == 1), "none twice");
    // While the stream is open: new events through both nodes, on partitions of both.
    for b in 0..12 {
        assert!(c.ingest_tagged(
            (b + 1) % 2,
            &format!("s{b}"),
            &lines("lv", 1000 + b * 10, 10)
        ));
    }
    let live = take(&rx, 120, 60);
    assert_eq!(
        live.keys().copied().collect::<Vec<_>>(),
        (1000..1120).collect::<Vec<u64>>(),
        "every event either node digested while the stream was open"
    );
    assert!(live.values().all(|n| *n == 1), "none twice: {live:?}");
    // Nothing more arrives (no event twice, late).
    std::thread::sleep(Duration::from_secs(2));
    let extra: Vec<Value> = rx.try_iter().collect();
    assert!(
        extra.is_empty(),
        "rows after every event arrived: {extra:?}"
    );
}
