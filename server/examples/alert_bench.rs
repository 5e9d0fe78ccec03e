//! Filter-alert benchmarks against a running node, through its public HTTP ingest API and a
//! real webhook receiver served by this program on 127.0.0.1:
//!
//! - `latency`: one filter alert (`probe=*`) with a webhook action; probes are ingested one
//!   at a time, each timed from its ingest request's 200 (acknowledged, durable) to the
//!   receiver getting its webhook. Prints p50/p99/max in ms.
//! - `cost`: ingest throughput (humio-structured batches, several requests in flight) with 0
//!   enabled filter alerts and with N (default 1,000) enabled filter alerts, in the same run
//!   against the same node: three rounds, each disabling the alerts, measuring, enabling them
//!   and measuring again (`batches` requests of 1,000 events per arm, default 3,000: an arm
//!   must span the alerts' poll interval). Prints the rates and ratios per round and of the
//!   best of each arm, and the alert evaluations and searches per second during each arm
//!   (filter alerts of one repository share a search: `strata_alert_searches_total`).
//!
//! `cargo run --release -p strata --example alert_bench -- latency|cost URL ROOT_TOKEN [n]
//! [batches]`
//! with a node started as e.g. `STRATA_ROOT_TOKEN=root strata serve --data-dir /tmp/b
//! --alert-poll-interval-ms 500 --alert-ingest-delay-ms 1000` (latency is bounded below by
//! those two settings; report them with the figure). `cost` is meant for a node with the
//! default settings (a 10 s poll), as users run it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{extract::State, routing::post, Router};
use serde_json::{json, Value};

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

/// Serves `POST /hook`: records when each body (the probe id) first arrived.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Default::default();
    async fn hook(State(seen): State<Seen>, body: String) -> &'static str {
        seen.lock()
            .expect("lock")
            .entry(body.trim().to_string())
            .or_insert_with(Instant::now);
        "ok"
    }
    let app = Router::new()
        .route("/hook", post(hook))
        .with_state(seen.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(l, app).await });
    (url, seen)
}

struct Api {
    client: reqwest::Client,
    url: String,
    root: String,
}

impl Api {
    async fn gql(&self, q: String) -> Value {
        let v: Value = self
            .client
            .post(format!("{}/graphql", self.url))
            .bearer_auth(&self.root)
            .json(&json!({ "query": q }))
            .send()
            .await
            .expect("graphql request")
            .json()
            .await
            .expect("graphql answer");
        assert!(v["errors"].is_null(), "{v}");
        v["data"].clone()
    }

    /// A new repository with a webhook action `hook` to `hook_url`; its ingest token.
    async fn setup(&self, repo: &str, hook_url: &str) -> String {
        self.gql(format!(
            r#"mutation {{ createRepository(name: "{repo}") {{ repository {{ name }} }} }}"#
        ))
        .await;
        self.gql(format!(
            r#"mutation {{ createWebhookAction(input: {{viewName: "{repo}", name: "hook", url: "{hook_url}", bodyTemplate: "{{field:probe}}"}}) {{ id }} }}"#
        ))
        .await;
        let v = self
            .gql(format!(
                r#"mutation {{ addIngestTokenV3(input: {{repositoryName: "{repo}", name: "bench", parser: "json"}}) {{ token }} }}"#
            ))
            .await;
        v["addIngestTokenV3"]["token"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// A counter from `/metrics` (0 when absent).
    async fn metric(&self, name: &str) -> f64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.url))
            .bearer_auth(&self.root)
            .send()
            .await
            .expect("metrics request")
            .text()
            .await
            .expect("metrics text");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    async fn filter_alert(&self, repo: &str, name: &str, query: &str) {
        self.gql(format!(
            r#"mutation {{ createFilterAlert(input: {{viewName: "{repo}", name: "{name}", queryString: "{query}", actionIdsOrNames: ["hook"]}}) {{ id }} }}"#
        ))
        .await;
    }

    async fn ingest(&self, token: &str, body: Vec<u8>) {
        let r = self
            .client
            .post(format!("{}/api/v1/ingest/humio-structured", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("ingest request");
        assert!(r.status().is_success(), "ingest answered {}", r.status());
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn latency(api: &Api, n: usize) {
    let (hook, seen) = receiver().await;
    let repo = format!("alertlat{}", std::process::id());
    let token = api.setup(&repo, &hook).await;
    api.filter_alert(&repo, "probes", "probe=*").await;
    // Let the evaluator pick the alert up before the first probe.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut acked = Vec::new();
    for i in 0..n {
        let id = format!("p{i}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64;
        let body = json!([{"tags": {}, "events": [{"timestamp": now, "attributes": {"probe": id}, "rawstring": format!("probe={id}")}]}]);
        api.ingest(&token, body.to_string().into_bytes()).await;
        acked.push((id, Instant::now()));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.lock().expect("lock").len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock().expect("lock").clone();
    let mut ms: Vec<f64> = acked
        .iter()
        .filter_map(|(id, t)| {
            seen.get(id)
                .map(|r| r.duration_since(*t).as_secs_f64() * 1e3)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let missing = n - ms.len();
    println!(
        "{}",
        json!({"bench": "filter_alert_latency", "probes": n, "received": ms.len(), "missing": missing,
               "p50_ms": pct(&ms, 0.5).round(), "p99_ms": pct(&ms, 0.99).round(), "max_ms": ms.last().map(|v| v.round())})
    );
}

/// Ingests `batches` batches of `batch` events with `in_flight` requests at a time; events/s.
/// The request bodies are built before the clock starts (this process shares the machine's
/// cores with the node: building JSON while timing would measure the client).
async fn rate(api: &Arc<Api>, token: &str, batches: usize, batch: usize, in_flight: usize) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        (0..batches)
            .map(|b| {
                let events: Vec<Value> = (0..batch)
                    .map(|i| json!({"timestamp": now, "attributes": {"user": format!("u{}", i % 100), "status": 200}, "rawstring": format!("GET /api/items/{b}/{i} 200 user=u{}", i % 100)}))
                    .collect();
                json!([{"tags": {}, "events": events}]).to_string().into_bytes()
            })
            .collect(),
    );
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..in_flight {
        let (api, token, next, bodies) =
            (api.clone(), token.to_string(), next.clone(), bodies.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if b >= batches {
                    return;
                }
                api.ingest(&token, bodies[b].clone()).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    (batches * batch) as f64 / t.elapsed().as_secs_f64()
}

/// Creates `n` filter alerts matching nothing ingested (the cost measured is evaluating, not
/// sending), several mutations per request; their ids.
async fn filter_alerts(api: &Api, repo: &str, n: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(50) {
        let mut m = String::from("mutation {");
        for i in start..(start + 50).min(n) {
            m.push_str(&format!(
                r#" a{i}: createFilterAlert(input: {{viewName: "{repo}", name: "a{i}", queryString: "user=nobody{i}", actionIdsOrNames: ["hook"]}}) {{ id }}"#
            ));
        }
        m.push('}');
        let v = api.gql(m).await;
        for i in start..(start + 50).min(n) {
            ids.push(
                v[format!("a{i}")]["id"]
                    .as_str()
                    .expect("alert id")
                    .to_string(),
            );
        }
    }
    ids
}

/// Enables or disables the alerts, several mutations per request.
async fn set_enabled(api: &Api, repo: &str, ids: &[String], on: bool) {
    let op = if on {
        "enableFilterAlert"
    } else {
        "disableFilterAlert"
    };
    for (c, chunk) in ids.chunks(100).enumerate() {
        let mut m = String::from("mutation {");
        for (i, id) in chunk.iter().enumerate() {
            m.push_str(&format!(
                r#" x{c}_{i}: {op}(input: {{viewName: "{repo}", id: "{id}"}}) {{ id }}"#
            ));
        }
        m.push('}');
        api.gql(m).await;
    }
}

/// Ingest rate with no enabled alerts and with `alerts` enabled filter alerts on the same
/// node, in three interleaved rounds (the machine may be shared: compare rounds, and the best
/// rate of each arm).
async fn cost(api: Arc<Api>, alerts: usize, batches: usize) {
    let (hook, _seen) = receiver().await;
    let repo = format!("alertcost{}", std::process::id());
    let token = api.setup(&repo, &hook).await;
    let (batch, in_flight) = (1_000, 4);
    // Warm up.
    rate(&api, &token, 30, batch, in_flight).await;
    let t = Instant::now();
    let ids = filter_alerts(&api, &repo, alerts).await;
    let create_s = t.elapsed().as_secs_f64();
    eprintln!("created {alerts} filter alerts in {create_s:.1} s");
    let (mut base, mut with, mut evaluated) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..3 {
        set_enabled(&api, &repo, &ids, false).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        base.push(rate(&api, &token, batches, batch, in_flight).await);
        set_enabled(&api, &repo, &ids, true).await;
        // Let every alert be picked up and catch up (default poll: 10 s) before measuring.
        tokio::time::sleep(Duration::from_secs(15)).await;
        let (e0, s0, t) = (
            api.metric("strata_alerts_evaluated_total").await,
            api.metric("strata_alert_searches_total").await,
            Instant::now(),
        );
        with.push(rate(&api, &token, batches, batch, in_flight).await);
        let secs = t.elapsed().as_secs_f64();
        let evals = api.metric("strata_alerts_evaluated_total").await - e0;
        let searches = api.metric("strata_alert_searches_total").await - s0;
        evaluated.push(((evals / secs) * 10.0).round() / 10.0);
        eprintln!(
            "round {round}: {:.0} events/s without, {:.0} with ({evals} alert evaluations, {searches} searches in {secs:.1} s)",
            base[round], with[round]
        );
    }
    let best = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let ratios: Vec<f64> = base
        .iter()
        .zip(&with)
        .map(|(b, w)| (w / b * 1000.0).round() / 1000.0)
        .collect();
    println!(
        "{}",
        json!({"bench": "filter_alert_cost", "alerts": alerts, "events_per_arm": batches * batch,
               "create_alerts_s": (create_s * 10.0).round() / 10.0,
               "rates_no_alerts": base.iter().map(|r| r.round()).collect::<Vec<_>>(),
               "rates_with_alerts": with.iter().map(|r| r.round()).collect::<Vec<_>>(),
               "ratios_with_over_without": ratios,
               "alert_evaluations_per_s_with": evaluated,
               "best_ratio": (best(&with) / best(&base) * 1000.0).round() / 1000.0})
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).cloned().unwrap_or_else(|| "latency".into());
    let api = Arc::new(Api {
        client: reqwest::Client::new(),
        url: args
            .get(2)
            .cloned()
            .unwrap_or_else(|| "http://127.0.0.1:8080".into()),
        root: args.get(3).cloned().unwrap_or_else(|| "root".into()),
    });
    let n: Option<usize> = args.get(4).map(|s| s.parse().expect("a count"));
    match mode.as_str() {
        "latency" => latency(&api, n.unwrap_or(200)).await,
        "cost" => {
            let batches = args
                .get(5)
                .map_or(3_000, |s| s.parse().expect("a batch count"));
            cost(api, n.unwrap_or(1_000), batches).await
        }
        m => panic!("mode {m:?}: use latency or cost"),
    }
}
