//! Talking to the nodes over HTTP: GraphQL, ingest, queries, metrics, and the waits built on
//! them.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{Cluster, ROOT};

impl Cluster {
    /// A GraphQL call as root on node `i`; panics on errors.
    pub fn graphql(&self, i: usize, query: &str) -> Value {
        let r = self
            .client
            .post(self.nodes[i].url("/graphql"))
            .bearer_auth(ROOT)
            .json(&json!({ "query": query }))
            .send()
            .unwrap();
        let v: Value = r.json().unwrap();
        assert!(v.get("errors").is_none(), "graphql errors: {v}");
        v["data"].clone()
    }

    /// Creates a repository with a `kv` ingest token (through node 0 or the first running).
    pub fn create_repo(&mut self, repo: &str) {
        let i = self.running()[0];
        self.graphql(
            i,
            &format!(
                r#"mutation {{ createRepository(name: "{repo}") {{ repository {{ name }} }} }}"#
            ),
        );
        let d = self.graphql(i, &format!(r#"mutation {{ addIngestTokenV3(input: {{repositoryName: "{repo}", name: "t", parser: "kv"}}) {{ token }} }}"#));
        let token = d["addIngestTokenV3"]["token"].as_str().unwrap().to_string();
        // A token works on every live node as soon as its mutation returned: a node that has
        // not applied the token's global event yet catches up before refusing it. One try each.
        for n in self.running() {
            let r = self
                .client
                .post(self.nodes[n].url("/api/v1/ingest/humio-unstructured"))
                .bearer_auth(&token)
                .json(&json!([]))
                .send()
                .expect("ingest request");
            assert!(
                r.status().is_success(),
                "node {} refused a token created on node {} a moment ago: {}",
                n + 1,
                i + 1,
                r.status()
            );
        }
        self.ingest_token = Some((repo.to_string(), token));
    }

    /// Sends lines to node `i`'s ingest API; true when the node acknowledged them (200).
    pub fn ingest(&self, i: usize, lines: &[String]) -> bool {
        let (_, token) = self.ingest_token.as_ref().expect("create_repo first");
        match self
            .client
            // One event per line (the raw endpoint takes the whole body as one event).
            .post(self.nodes[i].url("/api/v1/ingest/hec/raw"))
            .bearer_auth(token)
            .body(lines.join("\n"))
            .send()
        {
            Ok(r) => accepted(i, r),
            Err(e) => {
                eprintln!("ingest to node {} failed: {e}", i + 1);
                false
            }
        }
    }

    /// Sends lines with tag `#src=<src>` to node `i` (each tag value is its own datasource,
    /// so different values can land on partitions digested by different nodes).
    pub fn ingest_tagged(&self, i: usize, src: &str, lines: &[String]) -> bool {
        let (_, token) = self.ingest_token.as_ref().expect("create_repo first");
        let body = json!([{ "tags": { "src": src }, "messages": lines }]);
        match self
            .client
            .post(self.nodes[i].url("/api/v1/ingest/humio-unstructured"))
            .bearer_auth(token)
            .json(&body)
            .send()
        {
            Ok(r) => accepted(i, r),
            Err(e) => {
                eprintln!("ingest to node {} failed: {e}", i + 1);
                false
            }
        }
    }

    /// Runs a query on node `i` over all time through the streaming endpoint (JSON); returns
    /// (rows, warnings header).
    pub fn query(&self, i: usize, q: &str) -> (Vec<Value>, String) {
        let (text, warnings) = self.post_query(i, q, "application/json");
        (serde_json::from_str(&text).unwrap(), warnings)
    }

    /// Like [`query`](Self::query), as NDJSON (`Accept: application/x-ndjson`, one row a
    /// line): the streaming form of the endpoint.
    pub fn stream_query(&self, i: usize, q: &str) -> (Vec<Value>, String) {
        let (text, warnings) = self.post_query(i, q, "application/x-ndjson");
        let rows = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("node {} streamed a line that is not JSON ({e}): {l}", i + 1)
                })
            })
            .collect();
        (rows, warnings)
    }

    /// `POST /api/v1/repositories/{repo}/query` on node `i` over all time; returns (body,
    /// warnings header). Panics unless the answer is a success.
    fn post_query(&self, i: usize, q: &str, accept: &str) -> (String, String) {
        let (repo, _) = self.ingest_token.as_ref().expect("create_repo first");
        let r = self
            .client
            .post(self.nodes[i].url(&format!("/api/v1/repositories/{repo}/query")))
            .bearer_auth(ROOT)
            .header("accept", accept)
            .json(&json!({"queryString": q, "start": "10y", "end": "now"}))
            .send()
            .unwrap();
        let status = r.status();
        let warnings = r
            .headers()
            .get("x-strata-warnings")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = r.text().unwrap();
        assert!(
            status.is_success(),
            "query {q:?} on node {} answered {status}: {text}",
            i + 1
        );
        (text, warnings)
    }

    /// Runs `q` as a query job on node `i` over all time (`POST .../queryjobs`, then polls
    /// `GET .../queryjobs/{id}` until done, up to 120 s); returns (events, warnings).
    pub fn query_job(&self, i: usize, q: &str) -> (Vec<Value>, Vec<String>) {
        let (repo, _) = self.ingest_token.as_ref().expect("create_repo first");
        let jobs = self.nodes[i].url(&format!("/api/v1/repositories/{repo}/queryjobs"));
        let r = self
            .client
            .post(&jobs)
            .bearer_auth(ROOT)
            .json(&json!({"queryString": q, "start": "10y", "end": "now"}))
            .send()
            .unwrap();
        let status = r.status();
        let text = r.text().unwrap();
        assert!(
            status.is_success(),
            "query job {q:?} on node {} answered {status}: {text}",
            i + 1
        );
        let created: Value = serde_json::from_str(&text).unwrap();
        let id = created["id"].as_str().expect("a job id").to_string();
        let t = Instant::now();
        loop {
            let r = self
                .client
                .get(format!("{jobs}/{id}"))
                .bearer_auth(ROOT)
                .send()
                .unwrap();
            let status = r.status();
            let text = r.text().unwrap();
            assert!(
                status.is_success(),
                "polling query job {q:?} on node {} answered {status}: {text}",
                i + 1
            );
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["done"] == true {
                let events = v["events"].as_array().cloned().unwrap_or_default();
                let warnings = v["metaData"]["warnings"]
                    .as_array()
                    .map(|w| {
                        w.iter()
                            .map(|s| s.as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                return (events, warnings);
            }
            assert!(
                t.elapsed() < Duration::from_secs(120),
                "query job {q:?} on node {} not done after 120 s: {text}",
                i + 1
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Queue records (one per ingest request and partition) acknowledged but not yet in a
    /// segment, over every partition, as node `i` sees them; `None` when the queue did not
    /// answer for some partition.
    pub fn ingest_lag(&self, i: usize) -> Option<u64> {
        self.graphql(i, "{ cluster { ingestPartitions { lag } } }")["cluster"]["ingestPartitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["lag"].as_u64())
            .sum()
    }

    /// Segments each node holds (by node index), as node `i` sees Global.
    pub fn segments_per_node(&self, i: usize) -> Vec<u64> {
        let d = self.graphql(i, "{ cluster { nodes { id segmentCount } } }");
        let mut per = vec![0; self.nodes.len()];
        for n in d["cluster"]["nodes"].as_array().unwrap() {
            let id = n["id"].as_u64().unwrap() as usize;
            if let Some(slot) = per.get_mut(id.wrapping_sub(1)) {
                *slot = n["segmentCount"].as_u64().unwrap_or(0);
            }
        }
        per
    }

    /// `count()` of `q` on node `i`, with the warnings that came with it.
    pub fn count(&self, i: usize, q: &str) -> (u64, String) {
        let (rows, w) = self.query(i, &format!("{q} | count()"));
        (rows[0]["_count"].as_str().unwrap().parse().unwrap(), w)
    }

    /// Waits until node `i` counts `n` events for `q` with a complete result.
    pub fn assert_count(&self, i: usize, q: &str, n: u64) {
        let t = Instant::now();
        loop {
            let (got, warnings) = self.count(i, q);
            if got == n && warnings.is_empty() {
                return;
            }
            assert!(
                got <= n || t.elapsed() < Duration::from_secs(5),
                "node {} counts {got} events for {q:?}, more than the {n} acknowledged (duplicates)",
                i + 1
            );
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "node {} counts {got} events for {q:?}, expected {n} (warnings: {warnings:?})\n{}",
                i + 1,
                self.nodes[i].log_tail()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Waits until `f` holds, up to `secs`.
    pub fn wait_until(&self, secs: u64, what: &str, mut f: impl FnMut() -> bool) {
        let t = Instant::now();
        while !f() {
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until Global (as node `i` sees it) holds at least `n` segments.
    pub fn wait_for_segments(&self, i: usize, n: u64) {
        self.wait_until(60, "segments", || {
            self.graphql(i, "{ cluster { segmentCount } }")["cluster"]["segmentCount"]
                .as_u64()
                .unwrap_or(0)
                >= n
        });
    }

    /// A counter or gauge from node `i`'s `/metrics`.
    pub fn metric(&self, i: usize, name: &str) -> f64 {
        let text = self
            .client
            .get(self.nodes[i].url("/metrics"))
            .bearer_auth(crate::ROOT)
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no metric {name}"))
    }

    /// Waits until every running node has uploaded all its segments to the bucket.
    pub fn wait_uploaded(&self) {
        self.wait_until(60, "bucket uploads", || {
            self.running().into_iter().all(|i| {
                self.graphql(i, "{ cluster { bucketUploadBacklog { segments } } }")["cluster"]
                    ["bucketUploadBacklog"]["segments"]
                    .as_u64()
                    == Some(0)
            })
        });
    }

    /// Waits until the coordinator has given every node some partition to digest.
    pub fn wait_partitions_spread(&self) {
        let ids: Vec<u64> = self.nodes.iter().map(|n| u64::from(n.id)).collect();
        self.wait_until(30, "partitions spread over the nodes", || {
            let p = self.primaries(0);
            ids.iter().all(|n| p.contains(n))
        });
    }

    /// Digest primaries per partition, as node `i` sees them.
    pub fn primaries(&self, i: usize) -> Vec<u64> {
        self.graphql(i, "{ cluster { ingestPartitions { nodeIds } } }")["cluster"]
            ["ingestPartitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["nodeIds"][0].as_u64().unwrap())
            .collect()
    }
}

/// Whether an ingest answer is an acknowledgement; a refusal is said on stderr, so a test that
/// counts refusals shows why there were any.
fn accepted(i: usize, r: reqwest::blocking::Response) -> bool {
    if r.status().is_success() {
        return true;
    }
    let status = r.status();
    let text = r.text().unwrap_or_default();
    eprintln!(
        "ingest to node {} refused: {status}: {}",
        i + 1,
        text.trim()
    );
    false
}
