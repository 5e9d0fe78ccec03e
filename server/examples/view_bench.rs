//! The view figure: a view over 10 repositories against one repository holding the same
//! events, through the HTTP query API of a real node (the release `strata` binary). The same
//! N events are ingested once split over `r0`…`r9` (a view `all10` connects them with empty
//! filters) and once whole into `single`; each query then runs on both, cache warm, and the
//! medians' ratio (view / single) is printed, with the load average at the time. Target:
//! at most 1.2.
//!
//! "The same events" means in the same form: by default the node closes work in progress
//! after 2 s and merges minis after 3 s, and the timing starts once every repository holds
//! all its events in segments and its segment count has settled. Without that, 1M events
//! in one repository are mostly merged segments (an 8 MiB buffer closes every ~120k events)
//! while 100k per repository stay unflushed work in progress, so the figure would compare
//! work-in-progress scans with segment scans, not a view with a repository. `fresh` as the
//! third argument keeps the node's defaults and skips the settling, to see that case.
//!
//! `cargo run --release -p strata --example view_bench -- [events] [runs] [fresh]` (build
//! the binary first: `cargo build --release -p strata`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use strata_cluster_tests::{free_port, strata_binary};

const TOKEN: &str = "view-bench-root-token";
const REPOS: usize = 10;
const QUERIES: &[&str] = &[
    "count()",
    "groupBy(svc, function=avg(latency))",
    "status=500 | count()",
    "status=503 | tail(100)",
];

struct Node {
    child: Child,
    base: String,
    client: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn post(&self, path: &str, body: String) -> Result<String, String> {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(body)
            .send()
            .map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.text().map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(format!("{path}: {status} {text}"))
        }
    }

    fn gql(&self, q: &str) -> Result<Value, String> {
        let v: Value =
            serde_json::from_str(&self.post("/graphql", json!({"query": q}).to_string())?)
                .map_err(|e| e.to_string())?;
        match v.get("errors") {
            Some(e) => Err(format!("{q}: {e}")),
            None => Ok(v["data"].clone()),
        }
    }

    fn query(&self, domain: &str, q: &str) -> Result<String, String> {
        self.post(
            &format!("/api/v1/repositories/{domain}/query"),
            json!({"queryString": q, "start": "1d", "end": "now"}).to_string(),
        )
    }

    /// `(eventCount, segmentCount)` of a repository: events in segments, and how many.
    fn stored(&self, repo: &str) -> Result<(u64, u64), String> {
        let d = self.gql(&format!(
            r#"{{ repository(name: "{repo}") {{ eventCount segmentCount }} }}"#
        ))?;
        let n = |k: &str| d["repository"][k].as_u64().unwrap_or(0);
        Ok((n("eventCount"), n("segmentCount")))
    }

    fn count(&self, domain: &str) -> u64 {
        self.query(domain, "count()")
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
            .and_then(|v| v[0]["_count"].as_str().and_then(|c| c.parse().ok()))
            .unwrap_or(0)
    }
}

fn start(extra: &[&str]) -> Node {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let child = Command::new(strata_binary())
        .args(["serve", "--data-dir"])
        .arg(dir.path().join("n"))
        .args([
            "--http-addr",
            &format!("127.0.0.1:{port}"),
            "--audit-log",
            "false",
        ])
        .args(extra)
        .env("STRATA_ROOT_TOKEN", TOKEN)
        .env("STRATA_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start strata (cargo build --release -p strata first)");
    let node = Node {
        child,
        base: format!("http://127.0.0.1:{port}"),
        client: reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(600))
            .build()
            .expect("http client"),
        _dir: dir,
    };
    let t = Instant::now();
    while node.gql("{ viewer { username } }").is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "strata did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    node
}

/// `n` events starting at `from`, humio-structured.
fn batch(from: usize, n: usize, now: i64) -> String {
    let events: Vec<Value> = (from..from + n)
        .map(|i| {
            let svc = ["api", "web", "db", "auth", "cache"][i % 5];
            let status = [200, 200, 200, 404, 500, 503][i % 6];
            let latency = (i * 7919) % 1000;
            json!({
                "timestamp": now - 3_600_000 + (i as i64 % 3_000_000),
                "attributes": {"svc": svc, "status": status.to_string(), "latency": latency.to_string()},
                "rawstring": format!("svc={svc} status={status} latency={latency} request {i} served"),
            })
        })
        .collect();
    json!([{"tags": {"host": "bench"}, "events": events}]).to_string()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let events: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15);
    let fresh = args.next().is_some_and(|a| a == "fresh");
    let settle: &[&str] = if fresh {
        &[]
    } else {
        &["--mini-max-age-secs", "2", "--merge-after-secs", "3"]
    };
    let node = start(settle);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_millis() as i64;
    let mut repos: Vec<String> = (0..REPOS).map(|i| format!("r{i}")).collect();
    repos.push("single".into());
    for r in &repos {
        node.gql(&format!(
            r#"mutation {{ createRepository(name: "{r}") {{ repository {{ name }} }} }}"#
        ))?;
    }
    const BATCH: usize = 10_000;
    for from in (0..events).step_by(BATCH) {
        let n = BATCH.min(events - from);
        let body = batch(from, n, now);
        let part = format!("r{}", (from / BATCH) % REPOS);
        node.post(&format!("/api/v1/repositories/{part}/ingest"), body.clone())?;
        node.post("/api/v1/repositories/single/ingest", body)?;
    }
    let connections: Vec<String> = (0..REPOS)
        .map(|i| format!(r#"{{repositoryName: "r{i}", filter: ""}}"#))
        .collect();
    node.gql(&format!(
        r#"mutation {{ createView(name: "all10", connections: [{}]) {{ name }} }}"#,
        connections.join(", ")
    ))?;
    let t = Instant::now();
    while node.count("single") < events as u64 || node.count("all10") < events as u64 {
        if t.elapsed() > Duration::from_secs(600) {
            return Err("the events never all became searchable".into());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut want: Vec<(String, u64)> = (0..REPOS)
        .map(|i| {
            // Batches went round-robin over the repositories.
            let batches = events.div_ceil(BATCH);
            let mine = (i..batches).step_by(REPOS);
            let n = mine.map(|b| BATCH.min(events - b * BATCH)).sum::<usize>();
            (format!("r{i}"), n as u64)
        })
        .collect();
    want.push(("single".into(), events as u64));
    let mut segments = Vec::new();
    if !fresh {
        // Every event in segments, and no merge still to come (two equal polls 3 s apart).
        let t = Instant::now();
        loop {
            let now: Vec<(u64, u64)> = want
                .iter()
                .map(|(r, _)| node.stored(r))
                .collect::<Result<_, _>>()?;
            let all_in = now.iter().zip(&want).all(|((e, _), (_, n))| e == n);
            if all_in && now == segments {
                break;
            }
            if t.elapsed() > Duration::from_secs(600) {
                return Err(format!("the events never settled into segments: {now:?}"));
            }
            segments = now;
            std::thread::sleep(Duration::from_secs(3));
        }
    }
    if fresh {
        segments = want
            .iter()
            .map(|(r, _)| node.stored(r))
            .collect::<Result<_, _>>()?;
    }
    let segs = |r: &str| {
        want.iter()
            .zip(&segments)
            .filter(|((n, _), _)| n == r || (r == "view" && n != "single"))
            .map(|(_, (_, s))| s)
            .sum::<u64>()
    };
    for q in QUERIES {
        let a = node.query("single", q)?;
        let b = node.query("all10", q)?;
        if !q.contains("tail") && a != b {
            return Err(format!(
                "{q}: the view and the repository disagree:\n{a}\n{b}"
            ));
        }
        let time = |domain: &str| -> Result<f64, String> {
            let mut v = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                node.query(domain, q)?;
                v.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(median(v))
        };
        // Interleaved rounds, so a load change hits both sides alike.
        let (mut single, mut view) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            single.push(time("single")?);
            view.push(time("all10")?);
        }
        let (s, v) = (median(single), median(view));
        println!(
            "{}",
            json!({"query": q, "events": events, "single_ms": s, "view_ms": v,
                   "ratio": v / s, "repositories": REPOS, "fresh": fresh,
                   "segments_single": segs("single"), "segments_view": segs("view"),
                   "load_average": load_average()})
        );
    }
    Ok(())
}
