//! OTLP ingest benchmark against a running node: the same log records, pre-encoded once as
//! OTLP/HTTP protobuf `ExportLogsServiceRequest`s and once as `humio-structured` JSON bodies,
//! are POSTed with a few requests in flight; each request counts once answered 200, i.e. once
//! its events are durable in the ingest queue. Prints one JSON line per protocol and the
//! ratio (humio-structured rate / OTLP rate).
//!
//! `cargo run --release -p strata --example otlp_bench -- URL ROOT_TOKEN [records] [batch] [in_flight]`
//! (e.g. `strata serve --data-dir /tmp/b` with `STRATA_ROOT_TOKEN=root` in another shell).

use std::sync::Arc;
use std::time::Instant;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use serde_json::{json, Value};

const START_NS: u64 = 1_764_547_200_000_000_000;

fn sv(s: String) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    })
}

fn iv(i: i64) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::IntValue(i)),
    })
}

fn kv(k: &str, value: Option<AnyValue>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value,
    }
}

/// Record `i`: what an instrumented HTTP service logs.
fn message(i: usize) -> String {
    format!("GET /api/v1/items/{} 200 {}ms user=u{}", i, i % 97, i % 100)
}

fn otlp_body(from: usize, n: usize) -> Vec<u8> {
    let records = (from..from + n)
        .map(|i| LogRecord {
            time_unix_nano: START_NS + i as u64 * 1_000_000,
            severity_number: 9,
            severity_text: "INFO".into(),
            body: sv(message(i)),
            attributes: vec![
                kv("http.method", sv("GET".into())),
                kv("http.status_code", iv(200)),
                kv("user.id", sv(format!("u{}", i % 100))),
            ],
            trace_id: (i as u128).to_be_bytes().to_vec(),
            span_id: (i as u64).to_be_bytes().to_vec(),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", sv("checkout".into())),
                    kv("host.name", sv("web-1".into())),
                ],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "app".into(),
                    ..Default::default()
                }),
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
    .encode_to_vec()
}

fn structured_body(from: usize, n: usize) -> Vec<u8> {
    let events: Vec<Value> = (from..from + n)
        .map(|i| {
            json!({
                "timestamp": ((START_NS / 1_000_000) as usize + i),
                "attributes": {
                    "severityText": "INFO", "severityNumber": 9,
                    "http.method": "GET", "http.status_code": 200, "user.id": format!("u{}", i % 100),
                    "traceId": format!("{:032x}", i), "spanId": format!("{:016x}", i),
                    "service.name": "checkout", "host.name": "web-1", "scope.name": "app",
                },
                "rawstring": message(i),
            })
        })
        .collect();
    json!([{"tags": {}, "events": events}])
        .to_string()
        .into_bytes()
}

async fn token(client: &reqwest::Client, url: &str, root: &str) -> String {
    let gql = |q: String| {
        client
            .post(format!("{url}/graphql"))
            .bearer_auth(root)
            .json(&json!({ "query": q }))
            .send()
    };
    let repo = format!("otlpbench{}", std::process::id());
    gql(format!(
        r#"mutation {{ createRepository(name: "{repo}") {{ repository {{ name }} }} }}"#
    ))
    .await
    .expect("create repository");
    let v: Value = gql(format!(
        r#"mutation {{ addIngestTokenV3(input: {{repositoryName: "{repo}", name: "bench", parser: "json"}}) {{ token }} }}"#
    ))
    .await
    .expect("create token")
    .json()
    .await
    .expect("token answer");
    v["data"]["addIngestTokenV3"]["token"]
        .as_str()
        .expect("a token")
        .to_string()
}

/// Sends every body with `in_flight` requests at a time; returns records per second.
async fn run(
    client: &reqwest::Client,
    url: String,
    tok: &str,
    content_type: &'static str,
    bodies: Vec<Vec<u8>>,
    per_body: usize,
    in_flight: usize,
) -> f64 {
    let bodies = Arc::new(std::sync::Mutex::new(bodies));
    let t = Instant::now();
    let mut tasks = Vec::new();
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..in_flight {
        let (client, url, tok, bodies, sent) = (
            client.clone(),
            url.clone(),
            tok.to_string(),
            bodies.clone(),
            sent.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let Some(body) = bodies.lock().unwrap().pop() else {
                    return;
                };
                let r = client
                    .post(&url)
                    .bearer_auth(&tok)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                assert!(r.status().is_success(), "{url} answered {}", r.status());
                sent.fetch_add(per_body, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.expect("sender");
    }
    sent.load(std::sync::atomic::Ordering::Relaxed) as f64 / t.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or("http://127.0.0.1:8080".into());
    let root = args.get(2).cloned().unwrap_or("root".into());
    let records: usize = args.get(3).map_or(500_000, |s| s.parse().unwrap());
    let batch: usize = args.get(4).map_or(1_000, |s| s.parse().unwrap());
    let in_flight: usize = args.get(5).map_or(4, |s| s.parse().unwrap());
    let client = reqwest::Client::new();
    let tok = token(&client, &url, &root).await;
    let starts: Vec<usize> = (0..records / batch).map(|b| b * batch).collect();
    let otlp: Vec<Vec<u8>> = starts.iter().map(|&s| otlp_body(s, batch)).collect();
    let structured: Vec<Vec<u8>> = starts.iter().map(|&s| structured_body(s, batch)).collect();
    let mb = |v: &Vec<Vec<u8>>| v.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
    let (otlp_mb, structured_mb) = (mb(&otlp), mb(&structured));
    // Alternate the two protocols (twice each) so neither profits alone from a warm node.
    let mut rates = [Vec::new(), Vec::new()];
    for round in 0..2 {
        let o = run(
            &client,
            format!("{url}/api/v1/ingest/otlp/v1/logs"),
            &tok,
            "application/x-protobuf",
            otlp.clone(),
            batch,
            in_flight,
        )
        .await;
        let s = run(
            &client,
            format!("{url}/api/v1/ingest/humio-structured"),
            &tok,
            "application/json",
            structured.clone(),
            batch,
            in_flight,
        )
        .await;
        println!(
            "{}",
            json!({"round": round, "otlp_records_per_s": o.round(), "structured_records_per_s": s.round()})
        );
        rates[0].push(o);
        rates[1].push(s);
    }
    let best = |v: &Vec<f64>| v.iter().cloned().fold(0.0, f64::max);
    let (o, s) = (best(&rates[0]), best(&rates[1]));
    println!(
        "{}",
        json!({
            "records": records, "batch": batch, "in_flight": in_flight,
            "otlp_body_mb": otlp_mb, "structured_body_mb": structured_mb,
            "otlp_records_per_s": o.round(), "structured_records_per_s": s.round(),
            "structured_over_otlp": (s / o * 100.0).round() / 100.0,
        })
    );
}
