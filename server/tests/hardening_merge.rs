//! Merge durability with a bucket: minis that are in the bucket (so the queue may already be
//! truncated past them) are only retired for a merged segment that is in the bucket too. While
//! the bucket is unreachable the merge waits and the minis stay; once it is back the merge
//! happens, with every event still searchable exactly once.

mod common;

use common::{Node, Relay, S3Server, S3_ENV};

fn send(node: &Node, tok: &str, i: u32) {
    let (status, body) = node.post("/api/v1/ingest/raw", tok, format!("mergecheck {i} n={i}"));
    assert_eq!(status, 200, "ingest answered {status}: {body}");
}

#[test]
fn minis_are_retired_only_for_a_merged_segment_in_the_bucket() {
    let Some(s3) = S3Server::start("mrg") else {
        return;
    };
    let relay = Relay::new(s3.port);
    let dir = tempfile::tempdir().unwrap();
    let ep = relay.endpoint();
    let node = Node::start_with_env(
        &dir.path().join("n"),
        &[
            "--bucket",
            "s3://mrg",
            "--s3-endpoint",
            &ep,
            // The test counts the node's minis and merges: humio-audit's would count too.
            "--audit-log",
            "false",
            "--mini-max-age-secs",
            "1",
            "--minis-per-merge",
            "3",
            "--merge-after-secs",
            "3600",
        ],
        S3_ENV,
    );
    let tok = node.repo_with_token("m", "kv");
    // Two minis of one datasource, each uploaded.
    for i in 0..2u32 {
        send(&node, &tok, i);
        let want = f64::from(i + 1);
        node.wait_until(60, "the mini to be written and uploaded", || {
            node.metric("strata_digest_segments_total") >= want
                && node.metric("strata_bucket_uploads_total") >= want
        });
    }
    // The bucket goes away; the third mini makes the merge due.
    relay.stop();
    send(&node, &tok, 2);
    node.wait_until(120, "the merge to try, and fail, to upload first", || {
        node.metric("strata_merge_upload_failures_total") >= 1.0
    });
    assert_eq!(
        node.metric("strata_merge_segments_total"),
        0.0,
        "no mini may be retired for a merged segment that is on one disk only"
    );
    assert_eq!(node.count("m", "mergecheck"), 3);

    relay.start();
    node.wait_until(120, "the merge once the bucket is back", || {
        node.metric("strata_merge_segments_total") >= 1.0
    });
    assert_eq!(node.count("m", "mergecheck"), 3, "each event once");
}
