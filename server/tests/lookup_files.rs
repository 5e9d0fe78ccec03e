//! Lookup files against the built binary: LogScale's files API (multipart upload, list,
//! download, replace, delete) with its errors (400 naming the bad row or name, 413 for a file
//! over the limits, 404 for an unknown file), and `match()`/`readFile()` reading the uploaded
//! file in searches, including after a replacement and a restart.

mod common;

use common::{Node, ROOT};
use serde_json::{json, Value};

/// A multipart/form-data body with `content` in the part `part` named `file_name`.
fn multipart(part: &str, file_name: &str, content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "strata-test-boundary-7d1e";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(node: &Node, repo: &str, name: &str, content: &[u8]) -> (u16, String) {
    let (ct, body) = multipart("file", name, content);
    let r = node
        .client
        .post(node.url(&format!("/api/v1/repositories/{repo}/files")))
        .bearer_auth(ROOT)
        .header("content-type", ct)
        .body(body)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn get(node: &Node, path: &str) -> (u16, String) {
    let r = node
        .client
        .get(node.url(path))
        .bearer_auth(ROOT)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

fn query_status(node: &Node, repo: &str, q: &str) -> (u16, String) {
    let r = node
        .client
        .post(node.url(&format!("/api/v1/repositories/{repo}/query")))
        .bearer_auth(ROOT)
        .header("accept", "application/json")
        .json(&json!({"queryString": q, "start": "10y", "end": "now"}))
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

/// A deterministic, incompressible byte string (xorshift), as CSV-safe hex.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = b"k\n".to_vec();
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(format!("{x:016x}\n").as_bytes());
    }
    out
}

#[test]
fn files_api_and_match_in_searches() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("app", "json");
    let lines: Vec<Value> = (0..30)
        .map(|i| json!({"host": format!("web-{}", i % 3), "msg": format!("lk-{i}")}))
        .collect();
    let (s, t) = node.post("/api/v1/ingest/json", &tok, Value::Array(lines).to_string());
    assert_eq!(s, 200, "{t}");
    node.wait_until(20, "30 events searchable", || {
        node.count("app", "lk-") == 30
    });

    // Upload, list, download.
    let csv = b"host,rack\nweb-0,r1\nweb-1,r2\n";
    let (s, b) = upload(&node, "app", "hosts.csv", csv);
    assert_eq!(s, 200, "{b}");
    let info: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(info["name"], "hosts.csv");
    assert_eq!(info["fileSizeBytes"], csv.len());
    assert_eq!(info["createdBy"], "root");
    let (s, b) = get(&node, "/api/v1/repositories/app/files");
    assert_eq!(s, 200, "{b}");
    let list: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["name"], "hosts.csv");
    let (s, b) = get(&node, "/api/v1/repositories/app/files/hosts.csv");
    assert_eq!((s, b.as_bytes()), (200, &csv[..]));

    // match() enriches and (strict) filters; readFile() lists the rows.
    let rows = node.query(
        "app",
        "match(file=\"hosts.csv\", field=host) | groupBy([host, rack])",
    );
    assert_eq!(
        rows,
        vec![
            json!({"host": "web-0", "rack": "r1", "_count": "10"}),
            json!({"host": "web-1", "rack": "r2", "_count": "10"}),
        ]
    );
    let rows = node.query("app", "readFile(\"hosts.csv\")");
    assert_eq!(rows.len(), 2, "{rows:?}");

    // Replacing the file (the same name) is seen by the next search.
    let (s, b) = upload(&node, "app", "hosts.csv", b"host,rack\nweb-2,r9\n");
    assert_eq!(s, 200, "{b}");
    let rows = node.query(
        "app",
        "match(file=\"hosts.csv\", field=host) | groupBy([rack])",
    );
    assert_eq!(rows, vec![json!({"rack": "r9", "_count": "10"})]);
    let (_, b) = get(&node, "/api/v1/repositories/app/files");
    let list: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "a replacement, not a second file"
    );

    // Files survive a restart (they are Global items).
    node.kill();
    node.restart();
    let rows = node.query("app", "match(file=\"hosts.csv\", field=host) | count()");
    assert_eq!(rows, vec![json!({"_count": "10"})]);

    // JSON files.
    let (s, b) = upload(
        &node,
        "app",
        "racks.json",
        br#"[{"host":"web-1","dc":"east"}]"#,
    );
    assert_eq!(s, 200, "{b}");
    let rows = node.query("app", "match(\"racks.json\", field=host) | groupBy(dc)");
    assert_eq!(rows, vec![json!({"dc": "east", "_count": "10"})]);

    // Bad input: each refused with a message naming the problem.
    let (s, b) = upload(&node, "app", "bad.csv", b"a,b\n1,2,3\n");
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("row 2 has 3 values"), "{b}");
    let (s, b) = upload(&node, "app", "notes.txt", b"a\n1\n");
    assert_eq!(s, 400, "{b}");
    assert!(b.contains(".csv or .json"), "{b}");
    let (s, b) = upload(&node, "app", "x.json", b"{\"a\": 1}");
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("array of objects"), "{b}");
    let (s, b) = upload(&node, "nosuch", "h.csv", b"a\n1\n");
    assert_eq!(s, 404, "{b}");
    // Over the upload limit, and over what one Global record may carry once compressed.
    let (s, b) = upload(&node, "app", "huge.csv", &vec![b'a'; (16 << 20) + 10]);
    assert_eq!(s, 413, "{b}");
    let (s, b) = upload(&node, "app", "noise.csv", &noise(2 << 20));
    assert_eq!(s, 413, "{b}");
    assert!(b.contains("compresses to"), "{b}");
    let (ct, body) = multipart("other", "h.csv", b"a\n1\n");
    let r = node
        .client
        .post(node.url("/api/v1/repositories/app/files"))
        .bearer_auth(ROOT)
        .header("content-type", ct)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().unwrap().contains("no part named `file`"));
    let (s, b) = query_status(&node, "app", "match(file=\"hosts.csv\", field=nosuch)");
    assert_eq!(s, 400, "{b}");
    assert!(
        b.contains("no column \\\"nosuch\\\"") || b.contains("no column"),
        "{b}"
    );

    // Delete: gone from the list, the download and searches.
    let r = node
        .client
        .delete(node.url("/api/v1/repositories/app/files/hosts.csv"))
        .bearer_auth(ROOT)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (s, _) = get(&node, "/api/v1/repositories/app/files/hosts.csv");
    assert_eq!(s, 404);
    let (s, b) = query_status(&node, "app", "match(file=\"hosts.csv\", field=host)");
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("no lookup file"), "{b}");
    let r = node
        .client
        .delete(node.url("/api/v1/repositories/app/files/hosts.csv"))
        .bearer_auth(ROOT)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

/// A view holds lookup files of its own (uploaded, listed and deleted through the same API);
/// a query on the view reads the view's file first, and each connected repository's search
/// falls back to that repository's files — also in its connection filter.
#[test]
fn a_view_has_files_and_its_sources_read_their_repositories_files() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    for (repo, n) in [("web", 12), ("app", 9)] {
        let tok = node.repo_with_token(repo, "json");
        let lines: Vec<Value> = (0..n)
            .map(|i| {
                let svc = ["api", "db", "cache"][i % 3];
                json!({"svc": svc, "msg": format!("{repo}-{i}")})
            })
            .collect();
        let (s, t) = node.post("/api/v1/ingest/json", &tok, Value::Array(lines).to_string());
        assert_eq!(s, 200, "{t}");
        node.wait_until(30, "events searchable", || {
            node.count(repo, "*") == n as u64
        });
    }
    // app's connection keeps only services its own file lists.
    let (s, t) = upload(&node, "app", "kept.csv", b"svc\ndb\n");
    assert_eq!(s, 200, "{t}");
    node.graphql(
        r#"mutation { createView(name: "both", connections: [
             {repositoryName: "web", filter: ""},
             {repositoryName: "app", filter: "match(file=\"kept.csv\", field=svc)"}]) { name } }"#,
    );
    let (s, t) = upload(&node, "both", "owners.csv", b"svc,owner\napi,ann\ndb,bob\n");
    assert_eq!(s, 200, "{t}");
    let (s, t) = get(&node, "/api/v1/repositories/both/files");
    assert_eq!(s, 200);
    assert!(t.contains("owners.csv") && !t.contains("kept.csv"), "{t}");

    let q = r#"match(file="owners.csv", field=svc, include=owner) | groupBy(owner)"#;
    let (s, t) = query_status(&node, "both", q);
    assert_eq!(s, 200, "{t}");
    let rows: Vec<Value> = serde_json::from_str(&t).unwrap();
    let mut got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["owner"].as_str().unwrap().to_string(),
                r["_count"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    // web: 4 api (ann) + 4 db (bob); app keeps its 3 db (bob); cache has no owner.
    assert_eq!(
        got,
        [
            ("ann".to_string(), "4".to_string()),
            ("bob".into(), "7".into())
        ]
    );
    // The view's file is not the repository's.
    let (s, t) = query_status(&node, "web", q);
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("owners.csv"), "{t}");
    // A name in neither is refused by name, naming where it was looked for.
    let (s, t) = query_status(&node, "both", r#"match(file="nope.csv", field=svc)"#);
    assert_eq!(s, 400, "{t}");
    assert!(t.contains("nope.csv") && t.contains("both"), "{t}");
    let r = node
        .client
        .delete(node.url("/api/v1/repositories/both/files/owners.csv"))
        .bearer_auth(ROOT)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
    let (s, _) = query_status(&node, "both", q);
    assert_eq!(s, 400, "gone with the delete");
}
