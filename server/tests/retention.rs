//! Repository retention against a real node: segments past the age limit (set over GraphQL,
//! as the UI does) disappear from searches and from disk; newer ones stay.

mod common;

use common::Node;

fn segment_files(node: &Node) -> usize {
    std::fs::read_dir(node.data_dir.join("segments"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".seg")
        })
        .count()
}

/// Minis close, retention runs and unlisted files are swept within a second or two.
const FAST_RETENTION: &[&str] = &[
    "--mini-max-age-secs",
    "1",
    "--retention-interval-secs",
    "1",
    "--delete-grace-secs",
    "1",
    // These tests count every segment file and bucket object: humio-audit's would be counted too.
    "--audit-log",
    "false",
];

#[test]
fn age_retention_deletes_old_segments_and_their_files() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), FAST_RETENTION);
    let tok = node.repo_with_token("web", "json");
    let day = 86_400_000i64;
    let now = chrono::Utc::now().timestamp_millis();
    let old: Vec<String> = (0..50)
        .map(|i| {
            format!(
                r#"{{"@timestamp": {}, "age": "old", "i": {i}}}"#,
                now - 30 * day + i
            )
        })
        .collect();
    let (s, t) = node.post("/api/v1/ingest/json", &tok, format!("[{}]", old.join(",")));
    assert_eq!(s, 200, "{t}");
    let segments = || {
        node.graphql(r#"{ repository(name: "web") { segmentCount } }"#)["repository"]
            ["segmentCount"]
            .as_u64()
            .unwrap()
    };
    node.wait_until(30, "the old events' segment", || segments() == 1);
    let (s, t) = node.post(
        "/api/v1/ingest/json",
        &tok,
        format!(r#"[{{"@timestamp": {now}, "age": "new"}}]"#),
    );
    assert_eq!(s, 200, "{t}");
    node.wait_until(30, "the new event's segment", || segments() == 2);
    assert_eq!(segment_files(&node), 2);
    assert_eq!(node.count("web", "age=old"), 50);

    node.graphql(r#"mutation { updateRetention(repositoryName: "web", timeBasedRetention: 7) }"#);
    node.wait_until(30, "retention", || segments() == 1);
    assert_eq!(node.count("web", "age=old"), 0);
    assert_eq!(node.count("web", "age=new"), 1);
    node.wait_until(30, "the expired file's deletion", || {
        segment_files(&node) == 1
    });
    assert_eq!(node.metric("strata_retention_segments_deleted_total"), 1.0);
}

/// With a bucket: once retention drops a segment and a newer snapshot no longer lists it, its
/// object is deleted from the bucket too; the kept segment's object stays.
#[test]
fn expired_segments_leave_the_bucket_after_the_next_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    std::fs::create_dir_all(&bucket).unwrap();
    let bucket_url = format!("file://{}", bucket.display());
    let node = Node::start(
        &dir.path().join("n"),
        &[
            // No object-age grace, so the expired object goes at the next snapshot.
            &[
                "--bucket",
                &bucket_url,
                "--snapshot-interval-secs",
                "1",
                "--bucket-gc-grace-secs",
                "0",
            ],
            FAST_RETENTION,
        ]
        .concat(),
    );
    let objects = || {
        std::fs::read_dir(bucket.join("segments"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let tok = node.repo_with_token("web", "json");
    let now = chrono::Utc::now().timestamp_millis();
    let (s, _) = node.post(
        "/api/v1/ingest/json",
        &tok,
        format!(
            r#"[{{"@timestamp": {}, "age": "old"}}]"#,
            now - 30 * 86_400_000i64
        ),
    );
    assert_eq!(s, 200);
    node.wait_until(30, "the old segment in the bucket", || objects() == 1);
    let (s, _) = node.post(
        "/api/v1/ingest/json",
        &tok,
        format!(r#"[{{"@timestamp": {now}, "age": "new"}}]"#),
    );
    assert_eq!(s, 200);
    node.wait_until(30, "the new segment in the bucket", || objects() == 2);
    node.graphql(r#"mutation { updateRetention(repositoryName: "web", timeBasedRetention: 7) }"#);
    node.wait_until(30, "the expired object's deletion", || objects() == 1);
    assert_eq!(node.count("web", "age=new"), 1);
    assert_eq!(node.metric("strata_bucket_objects_deleted_total"), 1.0);
}
