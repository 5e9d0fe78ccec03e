//! Bucket storage against a local directory and a real S3-protocol server (moto, started by
//! the test): the object-store conformance suite, wiping a node's disk and restoring it from
//! the bucket, an S3 outage during ingest, eviction under a disk budget, and queue truncation.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Node, Relay, S3Server, S3_ENV};
use serde_json::{json, Value};
use strata::bucket::Bucket;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The behaviour Strata relies on, for any backend.
fn conformance(b: &Bucket) {
    rt().block_on(async {
        let data = bytes::Bytes::from(
            (0..100_000u32)
                .flat_map(|i| i.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
        b.put_verified("segments/a", data.clone()).await.unwrap();
        assert_eq!(b.get("segments/a").await.unwrap(), data);
        b.put_verified("segments/b", bytes::Bytes::from_static(b"bb"))
            .await
            .unwrap();
        b.put_verified("other/c", bytes::Bytes::from_static(b"c"))
            .await
            .unwrap();
        let listed = b.list("segments").await.unwrap();
        assert_eq!(
            listed,
            vec![
                ("segments/a".to_string(), data.len() as u64),
                ("segments/b".to_string(), 2)
            ]
        );
        // Overwrite is allowed and visible.
        b.put_verified("segments/b", bytes::Bytes::from_static(b"b2"))
            .await
            .unwrap();
        assert_eq!(&b.get("segments/b").await.unwrap()[..], b"b2");
        // Downloads are verified against the size and crc Global holds.
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a");
        b.get_file(
            "segments/a",
            &dest,
            data.len() as u64,
            crc32fast::hash(&data),
        )
        .await
        .unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), data);
        let bad = b
            .get_file("segments/a", &dir.path().join("x"), data.len() as u64, 1)
            .await;
        assert!(bad.unwrap_err().to_string().contains("verification"));
        assert!(
            !dir.path().join("x").exists(),
            "a failed download leaves no file"
        );
        // Missing objects are errors, not panics; deletes are idempotent enough.
        assert!(b.get("segments/nope").await.is_err());
        b.delete("segments/a").await.unwrap();
        assert!(b.get("segments/a").await.is_err());
        // Snapshots: newest = highest offset.
        assert!(b.newest_snapshot().await.unwrap().is_none());
        b.put_snapshot(9, b"nine".to_vec()).await.unwrap();
        b.put_snapshot(120, b"one-twenty".to_vec()).await.unwrap();
        b.put_snapshot(33, b"thirty-three".to_vec()).await.unwrap();
        let (k, v) = b.newest_snapshot().await.unwrap().unwrap();
        assert!(k.ends_with("00000000000000000120.json"), "{k}");
        assert_eq!(&v[..], b"one-twenty");
        assert_eq!(b.prune_snapshots(2).await.unwrap(), 1);
        let left: Vec<String> = b
            .list("snapshots")
            .await
            .unwrap()
            .into_iter()
            .map(|x| x.0)
            .collect();
        assert_eq!(left.len(), 2);
        assert!(
            left[0].ends_with("00000000000000000033.json")
                && left[1].ends_with("00000000000000000120.json"),
            "{left:?}"
        );
    });
}

#[test]
fn object_store_conformance_local_dir() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(&format!("file://{}", dir.path().display()), None).unwrap();
    conformance(&b);
    assert!(Bucket::open("ftp://x/y", None)
        .unwrap_err()
        .to_string()
        .contains("unknown scheme"));
}

/// An object no snapshot or Global lists yet may be a segment whose announcement is still on
/// its way (a lagging node): garbage collection leaves objects younger than its grace alone.
#[test]
fn garbage_collection_spares_objects_younger_than_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let b = Bucket::open(&format!("file://{}", dir.path().display()), None).unwrap();
    rt().block_on(async {
        let global = strata_global::Global::start(
            std::sync::Arc::new(strata_global::MemoryLog::new()),
            strata_global::Snapshot::default(),
        );
        let (_, snap) = global.snapshot_bytes().unwrap();
        b.put_verified("segments/unannounced", bytes::Bytes::from_static(b"seg"))
            .await
            .unwrap();
        let hour = Duration::from_secs(3600);
        let n = strata::bucket::sync::collect_garbage(&b, &global, snap.clone(), hour).await;
        assert_eq!(n, 0, "a young unlisted object was deleted");
        assert_eq!(b.list("segments").await.unwrap().len(), 1);
        // Past the grace it is garbage.
        let n = strata::bucket::sync::collect_garbage(&b, &global, snap, Duration::ZERO).await;
        assert_eq!(n, 1);
        assert!(b.list("segments").await.unwrap().is_empty());
    });
}

#[test]
fn object_store_conformance_s3() {
    let Some(s3) = S3Server::start("conf") else {
        return;
    };
    for (k, v) in S3_ENV {
        // SAFETY: set before any thread of this test reads the environment.
        std::env::set_var(k, v);
    }
    let b = Bucket::open("s3://conf/some/prefix", Some(&s3.endpoint())).unwrap();
    conformance(&b);
}

fn ingest(node: &Node, tok: &str, tag: &str, n: usize, from: usize) {
    let lines: Vec<Value> = (from..from + n)
        .map(|i| json!({"msg": format!("{tag} event {i}"), "i": i}))
        .collect();
    for chunk in lines.chunks(100) {
        let (s, t) = node.post(
            "/api/v1/ingest/json",
            tok,
            Value::Array(chunk.to_vec()).to_string(),
        );
        assert_eq!(s, 200, "{t}");
    }
}

fn status(node: &Node) -> Value {
    node.client
        .get(node.url("/api/v1/status"))
        .bearer_auth(common::ROOT)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

const FAST: &[&str] = &["--mini-max-age-secs", "1", "--snapshot-interval-secs", "2"];

fn wipe_and_restore(bucket: &str, extra: &[&str], envs: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n");
    let mut args = vec!["--bucket", bucket];
    args.extend_from_slice(extra);
    args.extend_from_slice(FAST);
    let mut node = Node::start_with_env(&data, &args, envs);
    let tok = node.repo_with_token("w", "json");
    ingest(&node, &tok, "wipe", 500, 0);
    node.wait_until(30, "500 searchable", || node.count("w", "wipe") == 500);
    assert!(
        node.terminate().success(),
        "graceful stop; log:\n{}",
        node.log_tail()
    );
    std::fs::remove_dir_all(&data).unwrap();

    let node = Node::start_with_env(&data, &args, envs);
    // Every event is back, fetched from the bucket on demand; the old token still works.
    assert_eq!(node.count("w", "wipe"), 500, "log:\n{}", node.log_tail());
    assert!(node.metric("strata_bucket_downloads_total") >= 1.0);
    // New events continue past the old queue offsets: no collisions, nothing skipped.
    ingest(&node, &tok, "wipe", 100, 500);
    node.wait_until(30, "600 searchable", || node.count("w", "wipe") == 600);
    let rows = node.query("w", "wipe | count(@id, distinct=true)");
    assert_eq!(rows[0]["_count"], "600");
    let rows = node.query("w", "wipe | count(i, distinct=true)");
    assert_eq!(rows[0]["_count"], "600");
}

#[test]
fn wipe_the_disk_restore_from_a_local_dir_bucket() {
    let b = tempfile::tempdir().unwrap();
    wipe_and_restore(&format!("file://{}", b.path().display()), &[], &[]);
}

#[test]
fn wipe_the_disk_restore_from_s3() {
    let Some(s3) = S3Server::start("wipe") else {
        return;
    };
    let ep = s3.endpoint();
    wipe_and_restore("s3://wipe/cluster1", &["--s3-endpoint", &ep], S3_ENV);
}

#[test]
fn s3_outage_keeps_ingest_acked_and_the_backlog_drains() {
    let Some(s3) = S3Server::start("out") else {
        return;
    };
    let relay = Relay::new(s3.port);
    let dir = tempfile::tempdir().unwrap();
    let ep = relay.endpoint();
    let mut args = vec!["--bucket", "s3://out", "--s3-endpoint", &ep];
    args.extend_from_slice(FAST);
    let node = Node::start_with_env(&dir.path().join("n"), &args, S3_ENV);
    let tok = node.repo_with_token("o", "json");
    ingest(&node, &tok, "outage", 200, 0);
    node.wait_until(30, "first uploads", || {
        node.metric("strata_bucket_uploads_total") >= 1.0
    });

    relay.stop();
    let t = Instant::now();
    ingest(&node, &tok, "outage", 300, 200);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "ingest must not wait for the bucket"
    );
    node.wait_until(30, "a visible backlog", || {
        status(&node)["bucketUploadBacklog"]["segments"]
            .as_u64()
            .unwrap_or(0)
            > 0
            && node.metric("strata_bucket_upload_backlog") > 0.0
    });
    assert_eq!(
        node.count("o", "outage"),
        500,
        "searchable while the bucket is down"
    );

    relay.start();
    node.wait_until(60, "the backlog drains", || {
        status(&node)["bucketUploadBacklog"]["segments"].as_u64() == Some(0)
    });
    // Second outage: the S3 server process itself is stopped (SIGSTOP: requests hang rather
    // than being refused), then continued.
    s3.pause();
    let t = Instant::now();
    ingest(&node, &tok, "outage", 300, 500);
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "ingest must not wait for the bucket"
    );
    node.wait_until(30, "a backlog while the server is stopped", || {
        status(&node)["bucketUploadBacklog"]["segments"]
            .as_u64()
            .unwrap_or(0)
            > 0
    });
    assert_eq!(node.count("o", "outage"), 800);
    s3.resume();
    node.wait_until(90, "the backlog drains after the server continues", || {
        status(&node)["bucketUploadBacklog"]["segments"].as_u64() == Some(0)
    });
    // Everything is in the bucket now: every segment in Global has a bucket key.
    let b = {
        for (k, v) in S3_ENV {
            std::env::set_var(k, v);
        }
        Bucket::open("s3://out", Some(&s3.endpoint())).unwrap()
    };
    let keys = rt().block_on(b.list("segments")).unwrap();
    assert!(!keys.is_empty());
    assert_eq!(node.count("o", "outage"), 800);
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn eviction_keeps_disk_within_budget_and_answers_right() {
    let b = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!("file://{}", b.path().display());
    let mut args = vec![
        "--bucket",
        &bucket,
        "--disk-budget-mb",
        "0",
        "--minis-per-merge",
        "2",
        "--merge-after-secs",
        "1",
    ];
    args.extend_from_slice(FAST);
    let node = Node::start(&dir.path().join("n"), &args);
    let tok = node.repo_with_token("e", "json");
    for round in 0..4 {
        ingest(&node, &tok, "evict", 250, round * 250);
        std::thread::sleep(Duration::from_millis(1500));
    }
    node.wait_until(30, "1000 searchable", || node.count("e", "evict") == 1000);
    node.wait_until(60, "merged segments evicted", || {
        node.metric("strata_segments_evicted_total") >= 1.0
    });
    // Queries over evicted data download it again and still answer right.
    for _ in 0..3 {
        assert_eq!(node.count("e", "evict"), 1000);
        let rows = node.query("e", "evict | sum(i)");
        assert_eq!(rows[0]["_sum"], (0..1000).sum::<u64>().to_string());
        std::thread::sleep(Duration::from_millis(1200)); // let eviction run again
    }
    assert!(node.metric("strata_bucket_downloads_total") >= 1.0);
    // With a zero budget only unmerged minis (the merger reads them) may stay local.
    let segdir = dir.path().join("n").join("segments");
    node.wait_until(30, "local disk back within the budget", || {
        let merged_local: u64 = std::fs::read_dir(&segdir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains("-m-"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum();
        merged_local == 0
    });
    let _ = dir_bytes(&segdir);
}

#[test]
fn queue_truncation_never_passes_the_durable_offset() {
    let b = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n");
    let bucket = format!("file://{}", b.path().display());
    let mut args = vec!["--bucket", bucket.as_str(), "--ingest-partitions", "1"];
    args.extend_from_slice(FAST);
    let envs = [("STRATA_QUEUE_FILE_BYTES", "8192")];
    let mut node = Node::start_with_env(&data, &args, &envs);
    let tok = node.repo_with_token("t", "json");
    let qdir = data.join("queue").join("humio-ingest").join("0");
    let first_base = |d: &Path| -> u64 {
        std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_string_lossy()
                    .strip_suffix(".log")?
                    .parse()
                    .ok()
            })
            .min()
            .unwrap_or(0)
    };
    // Small requests: many queue records, so the 8 KiB files roll often.
    for i in 0..60 {
        let lines: Vec<Value> = (i * 10..i * 10 + 10)
            .map(|j| json!({"msg": format!("trunc event {j}"), "i": j}))
            .collect();
        let (s, t) = node.post("/api/v1/ingest/json", &tok, Value::Array(lines).to_string());
        assert_eq!(s, 200, "{t}");
    }
    node.wait_until(30, "600 searchable", || node.count("t", "trunc") == 600);
    node.wait_until(30, "the queue truncated below the durable offset", || {
        node.metric("strata_queue_truncations_total") >= 1.0 && first_base(&qdir) > 0
    });
    // Truncation deletes whole files below the durable offset, never the active file.
    let files = std::fs::read_dir(&qdir).unwrap().count();
    assert!(files >= 1);

    // SIGKILL right after more ingest (some events only in WIP / not uploaded): restart loses
    // nothing, because nothing above the durable offset was ever deleted.
    ingest(&node, &tok, "trunc", 300, 600);
    node.kill();
    node.restart();
    node.wait_until(60, "900 searchable after SIGKILL", || {
        node.count("t", "trunc") == 900
    });
    let rows = node.query("t", "trunc | count(i, distinct=true)");
    assert_eq!(rows[0]["_count"], "900");
}

#[test]
fn a_corrupt_local_segment_is_quarantined_and_refetched() {
    let b = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n");
    let bucket = format!("file://{}", b.path().display());
    let mut args = vec!["--bucket", bucket.as_str()];
    args.extend_from_slice(FAST);
    let mut node = Node::start(&data, &args);
    let tok = node.repo_with_token("c", "json");
    ingest(&node, &tok, "corrupt", 400, 0);
    node.wait_until(30, "400 searchable", || node.count("c", "corrupt") == 400);
    assert!(node.terminate().success());
    // Flip a byte in the middle of every local segment file while the node is down.
    let segdir = data.join("segments");
    let mut flipped = 0;
    for e in std::fs::read_dir(&segdir).unwrap().flatten() {
        let p = e.path();
        let mut bytes = std::fs::read(&p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5a;
        std::fs::write(&p, bytes).unwrap();
        flipped += 1;
    }
    assert!(flipped >= 1);
    node.restart();
    assert_eq!(node.count("c", "corrupt"), 400, "log:\n{}", node.log_tail());
    let rows = node.query("c", "corrupt | sum(i)");
    assert_eq!(rows[0]["_sum"], (0..400).sum::<u64>().to_string());
    assert!(node.metric("strata_segments_quarantined_total") >= 1.0);
    assert!(data.join("quarantine").read_dir().unwrap().count() >= 1);
}
