//! `strata loadgen`: sends generated JSON application logs to a node's `humio-structured`
//! endpoint from several concurrent connections and reports acknowledged events/s, MB/s, and
//! ingest-to-searchable latency (a marker event is ingested and polled for with a query).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use strata_segment::datagen::AppLogs;

#[derive(clap::Args, Debug, Clone)]
pub struct LoadgenArgs {
    /// Base URL of the node.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Ingest token.
    #[arg(long, env = "STRATA_INGEST_TOKEN")]
    pub token: String,
    /// API token, to measure ingest-to-searchable latency (skipped without it).
    #[arg(long, env = "STRATA_API_TOKEN")]
    pub api_token: Option<String>,
    /// Repository the ingest token writes to (for the latency probe).
    #[arg(long, default_value = "loadgen")]
    pub repo: String,
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Events per request.
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Distinct `host` tag values (datasources).
    #[arg(long, default_value_t = 8)]
    pub datasources: usize,
}

pub async fn run(args: LoadgenArgs) -> Result<()> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    // Pre-build request bodies so the generator does not compete for the CPU during the run.
    let mut bodies = Vec::new();
    // Bodies are reused round-robin, so stamp them in the recent past (64 bodies × batch
    // events at ~1.5 ms apart) to keep every event inside a "last N minutes" search.
    let span_ms = (64 * args.batch) as i64 * 2;
    let mut gen = AppLogs::new(7, crate::text::now_ms() - span_ms - 1000);
    let mut raw_bytes_per_body = Vec::new();
    for b in 0..64 {
        let mut events = Vec::with_capacity(args.batch);
        let mut bytes = 0usize;
        for g in gen.by_ref().take(args.batch) {
            bytes += g.raw.len();
            events.push(serde_json::json!({"timestamp": g.timestamp, "rawstring": g.raw, "attributes": g.fields}));
        }
        let body = serde_json::json!([{"tags": {"host": format!("lg-{}", b % args.datasources.max(1))}, "events": events}]);
        bodies.push(Arc::new(serde_json::to_vec(&body)?));
        raw_bytes_per_body.push(bytes as u64);
    }
    let events = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for c in 0..args.connections {
        let (client, bodies, events, bytes, url, token) = (
            client.clone(),
            bodies.clone(),
            events.clone(),
            bytes.clone(),
            format!("{}/api/v1/ingest/humio-structured", args.url),
            args.token.clone(),
        );
        let sizes = raw_bytes_per_body.clone();
        let batch = args.batch as u64;
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while Instant::now() < deadline {
                let body = bodies[i % bodies.len()].clone();
                let r = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body((*body).clone())
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        events.fetch_add(batch, Ordering::Relaxed);
                        bytes.fetch_add(sizes[i % sizes.len()], Ordering::Relaxed);
                    }
                    Ok(resp) => bail!("ingest answered {}", resp.status()),
                    Err(e) => bail!("ingest request failed: {e}"),
                }
                // Stride through the prebuilt bodies so connections send different ones.
                i += 7;
            }
            Ok(())
        }));
    }
    let start = Instant::now();
    let mut latencies = Vec::new();
    if let Some(api) = &args.api_token {
        while Instant::now() + Duration::from_secs(2) < deadline {
            latencies.push(probe_latency(&client, &args, api).await?);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    for t in tasks {
        t.await.context("load task")??;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = events.load(Ordering::Relaxed);
    let mb = bytes.load(Ordering::Relaxed) as f64 / 1e6;
    println!(
        "acknowledged {n} events in {secs:.1} s: {:.0} events/s, {:.1} MB/s of raw events",
        n as f64 / secs,
        mb / secs
    );
    if !latencies.is_empty() {
        latencies.sort_unstable();
        let p = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "ingest-to-searchable latency over {} probes: p50 {} ms, p99 {} ms, max {} ms",
            latencies.len(),
            p(0.5),
            p(0.99),
            latencies[latencies.len() - 1]
        );
    }
    Ok(())
}

/// Ingests one unique marker and polls until a query finds it; returns milliseconds.
async fn probe_latency(client: &reqwest::Client, args: &LoadgenArgs, api: &str) -> Result<u64> {
    let marker = format!("probe{:016x}", rand::random::<u64>());
    let t0 = Instant::now();
    let body = serde_json::json!([{"tags": {"host": "probe"}, "events": [{"timestamp": crate::text::now_ms(), "rawstring": format!("latency {marker}")}]}]);
    let r = client
        .post(format!("{}/api/v1/ingest/humio-structured", args.url))
        .bearer_auth(&args.token)
        .json(&body)
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("probe ingest answered {}", r.status());
    }
    loop {
        // The probe's own window: it measures when the event becomes visible, not how long a
        // scan over the load's backlog takes.
        let q = serde_json::json!({"queryString": format!("{marker} | count()"), "start": "30s"});
        let resp: serde_json::Value = client
            .post(format!(
                "{}/api/v1/repositories/{}/query",
                args.url, args.repo
            ))
            .bearer_auth(api)
            .header("accept", "application/json")
            .json(&q)
            .send()
            .await?
            .json()
            .await?;
        if resp[0]["_count"].as_str() == Some("1") {
            return Ok(t0.elapsed().as_millis() as u64);
        }
        if t0.elapsed() > Duration::from_secs(30) {
            bail!("marker not searchable after 30 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
