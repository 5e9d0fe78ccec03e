//! What `match()` against a large lookup file adds to a full-scan `groupBy`, through the HTTP
//! query API of a running node. Ingests `events` events (`user=u{i % users}`) into repository
//! `matchbench`, uploads `users.csv` with `rows` rows (`user,team`, one row per user, so every
//! event matches), then times, alternating, `groupBy(user)` and
//! `match(file="users.csv", field=user, include=team) | groupBy(team)` (the enrichment the
//! lookup exists for). Prints one JSON line per query (best and median of the runs) and the
//! ratio (with match / without).
//!
//! `cargo run --release -p strata --example match_bench -- URL ROOT_TOKEN [events] [rows] [runs]`
//! (e.g. `strata serve --data-dir /tmp/b` with `STRATA_ROOT_TOKEN=root` in another shell;
//! defaults 2,000,000 events, 100,000 rows, 5 runs).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

const REPO: &str = "matchbench";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: match_bench URL ROOT_TOKEN [events] [rows] [runs]");
        std::process::exit(2);
    }
    let (url, token) = (args[1].trim_end_matches('/').to_string(), args[2].clone());
    let arg = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let (events, rows, runs) = (arg(3, 2_000_000), arg(4, 100_000), arg(5, 5));
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("http client");
    let gql = |q: String| -> Value {
        let r: Value = client
            .post(format!("{url}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": q }))
            .send()
            .and_then(|r| r.json())
            .expect("graphql");
        r
    };
    gql(format!(
        r#"mutation {{ createRepository(name: "{REPO}") {{ repository {{ name }} }} }}"#
    ));
    let t = gql(format!(
        r#"mutation {{ addIngestTokenV3(input: {{repositoryName: "{REPO}", name: "bench-{}", parser: "kv"}}) {{ token }} }}"#,
        std::process::id()
    ));
    let ingest = t["data"]["addIngestTokenV3"]["token"]
        .as_str()
        .expect("ingest token")
        .to_string();

    let count = |q: &str| -> (u64, f64) {
        let t0 = Instant::now();
        let r = client
            .post(format!("{url}/api/v1/repositories/{REPO}/query"))
            .bearer_auth(&token)
            .header("accept", "application/json")
            .json(&json!({"queryString": q, "start": "1d", "end": "now"}))
            .send()
            .expect("query");
        let status = r.status();
        let text = r.text().unwrap_or_default();
        assert!(status.is_success(), "{q}: {status} {text}");
        let v: Value = serde_json::from_str(&text).expect("json answer");
        (
            v.as_array().map_or(0, |a| a.len() as u64),
            t0.elapsed().as_secs_f64(),
        )
    };
    let total = || -> u64 {
        let r = client
            .post(format!("{url}/api/v1/repositories/{REPO}/query"))
            .bearer_auth(&token)
            .header("accept", "application/json")
            .json(&json!({"queryString": "count()", "start": "1d", "end": "now"}))
            .send()
            .expect("query");
        let v: Value = r.json().expect("json");
        v[0]["_count"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    };

    let users = rows;
    let have = total();
    if have < events as u64 {
        let batch = 20_000;
        let mut i = have as usize;
        while i < events {
            let n = batch.min(events - i);
            let mut body = String::with_capacity(n * 48);
            for k in i..i + n {
                body.push_str(&format!(
                    "user=u{} status={} bytes={}\n",
                    k % users,
                    [200, 404, 500][k % 3],
                    k % 997
                ));
            }
            let r = client
                .post(format!("{url}/api/v1/ingest/humio-unstructured"))
                .bearer_auth(&ingest)
                .json(&json!([{"messages": body.lines().collect::<Vec<_>>()}]))
                .send()
                .expect("ingest");
            assert!(r.status().is_success(), "ingest: {}", r.status());
            i += n;
        }
        let t0 = Instant::now();
        while total() < events as u64 {
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "events not searchable"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    let mut csv = String::from("user,team\n");
    for u in 0..rows {
        csv.push_str(&format!("u{u},t{}\n", u % 50));
    }
    let boundary = "match-bench-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"users.csv\"\r\n\r\n{csv}\r\n--{boundary}--\r\n"
    );
    let r = client
        .post(format!("{url}/api/v1/repositories/{REPO}/files"))
        .bearer_auth(&token)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .expect("upload");
    assert!(r.status().is_success(), "upload: {}", r.status());

    let plain = "groupBy(user)";
    let with = "match(file=\"users.csv\", field=user, include=team) | groupBy(team)";
    // Warm both (file parse and index, column cache), then alternate so drift hits both.
    count(plain);
    count(with);
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        a.push(count(plain).1);
        b.push(count(with).1);
    }
    let stat = |v: &mut Vec<f64>| {
        v.sort_by(|x, y| x.total_cmp(y));
        (v[0], v[v.len() / 2])
    };
    let ((a_best, a_med), (b_best, b_med)) = (stat(&mut a), stat(&mut b));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{}",
        json!({"query": plain, "events": events, "best_s": a_best, "median_s": a_med})
    );
    println!(
        "{}",
        json!({"query": with, "events": events, "lookup_rows": rows, "best_s": b_best, "median_s": b_med})
    );
    println!(
        "{}",
        json!({"ratio_median": b_med / a_med, "ratio_best": b_best / a_best, "loadavg": load.trim()})
    );
}
