//! Real clients work unchanged: the official Elasticsearch Python client, the OpenTelemetry
//! Python SDK's OTLP/HTTP exporter, a Splunk HEC logging handler (splunk_handler) and humiolib
//! each send a known number of marked events to a spawned node; every one must be searchable
//! with the right fields and timestamps. The clients are installed by
//! `scripts/install-test-deps.sh`; a missing one skips its test, unless
//! `STRATA_REQUIRE_CLIENTS=1`, which makes it fail. The wire-level tests (Beats', Fluent Bit's
//! exact requests, OTLP JSON, HEC details, bad inputs) are in `clients/wire.rs`; the requests
//! of Grafana's Falcon LogScale data source and Vector's `humio_logs` sink, the auth schemes
//! shippers use, and the token's parser over OTLP are in `clients/integrations.rs`.

mod common;

#[path = "clients/wire.rs"]
mod wire;

#[path = "clients/integrations.rs"]
mod integrations;

use std::process::Command;

use common::Node;
use serde_json::Value;

/// Whether python3 can import `module`; when it cannot and `STRATA_REQUIRE_CLIENTS=1`, fails.
pub fn client_available(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("STRATA_REQUIRE_CLIENTS").as_deref() != Ok("1"),
            "python module {module} is missing and STRATA_REQUIRE_CLIENTS=1 (run scripts/install-test-deps.sh)"
        );
        eprintln!(
            "skipping: python module {module} is not installed (scripts/install-test-deps.sh)"
        );
    }
    ok
}

/// Runs `server/tests/clients/<script>` with python3; panics with its output on failure.
fn run_client(script: &str, args: &[&str]) -> String {
    let path = format!("{}/tests/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(&path)
        .args(args)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{script} failed ({}):\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Waits until `q` counts `n` events, then requires every `n` value 0..n to be there once.
fn wait_for_all(node: &Node, repo: &str, q: &str, n_field: &str, n: u64) {
    node.wait_until(120, &format!("{n} events for {q}"), || {
        node.count(repo, q) >= n
    });
    assert_eq!(node.count(repo, q), n, "exactly {n} events for {q}");
    let rows = node.query(repo, &format!("{q} | groupBy(field={n_field}, limit=max)"));
    let mut seen: Vec<u64> = rows
        .iter()
        .map(|r| {
            assert_eq!(r["_count"], "1", "each {n_field} once: {r}");
            r[n_field].as_str().unwrap().parse().unwrap()
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        (0..n).collect::<Vec<_>>(),
        "every {n_field} of 0..{n}"
    );
}

/// The single event matching `q`.
fn one(node: &Node, repo: &str, q: &str) -> Value {
    let rows = node.query(repo, q);
    assert_eq!(rows.len(), 1, "one event for {q}: {rows:?}");
    rows[0].clone()
}

fn iso_ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .timestamp_millis()
}

/// `@timestamp` of a row (the query API answers it as a JSON number).
fn ts(row: &Value) -> i64 {
    row["@timestamp"]
        .as_i64()
        .or_else(|| row["@timestamp"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("no @timestamp in {row}"))
}

#[test]
fn otlp_python_sdk_exporter_delivers_every_record() {
    if !client_available("opentelemetry.exporter.otlp.proto.http") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("otel", "kv");
    let before = strata::text::now_ms();
    let mut trace_ids = Vec::new();
    // One run with gzip, one without, each to one of the two documented paths.
    for (path, gz, marker) in [
        ("/api/v1/ingest/otlp/v1/logs", "1", "otlpgzmark"),
        ("/v1/logs", "0", "otlpplainmark"),
    ] {
        let out = run_client("otlp_logs.py", &[&node.url(path), &tok, "300", marker, gz]);
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["exported"], 300, "{v}");
        trace_ids.push((marker, v));
    }
    let after = strata::text::now_ms();
    for (marker, v) in trace_ids {
        wait_for_all(&node, "otel", marker, "attributes.n", 300);
        let e = one(&node, "otel", &format!("{marker} attributes.n=7"));
        assert_eq!(e["body"], format!("{marker} record 7"));
        assert_eq!(e["attributes.marker"], marker);
        assert_eq!(
            e["severityNumber"], "13",
            "WARNING is OTLP severity 13: {e}"
        );
        assert!(
            e["severityText"].as_str().unwrap().starts_with("WARN"),
            "{e}"
        );
        assert_eq!(e["resource.attributes.service.name"], "clients-test");
        assert_eq!(e["scope.name"], "clients.otlp");
        assert_eq!(e["traceId"], v["trace_id"]);
        assert_eq!(e["spanId"], v["span_id"]);
        let t = ts(&e);
        assert!(
            t >= before - 1000 && t <= after + 1000,
            "record time {t} within the run"
        );
    }
}

#[test]
fn elasticsearch_python_client_bulk_helpers_and_index_path() {
    if !client_available("elasticsearch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("es", "kv");
    let out = run_client(
        "es_bulk.py",
        &[
            &node.url("/api/v1/ingest/elastic-bulk"),
            &tok,
            "400",
            "esmark",
        ],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["version"], "8.17.0", "{v}");
    assert_eq!(v["helpers_ok"], 200, "{v}");
    assert_eq!(v["helpers_errors"], 0, "{v}");
    assert_eq!(v["index_items"], 200, "{v}");
    assert_eq!(v["index_errors"], false, "{v}");
    let first = &v["index_first"]["create"];
    assert_eq!(first["status"], 201, "{v}");
    assert_eq!(first["_index"], "clients-es-path");
    assert_eq!(first["result"], "created");
    assert_eq!(first["_id"].as_str().unwrap().len(), 20);
    wait_for_all(&node, "es", "esmark", "n", 400);
    let e = one(&node, "es", "esmark n=7");
    assert_eq!(e["message"], "esmark helpers doc 7");
    assert_eq!(e["host.name"], "es-client");
    assert_eq!(ts(&e), iso_ms("2026-11-30T10:00:07.007Z"));
    let e = one(&node, "es", "esmark n=261");
    assert_eq!(e["message"], "esmark path doc 261");
    assert_eq!(ts(&e), iso_ms("2026-11-30T11:00:21Z"));
}

/// The client pointed at the node's root URL, as an Elasticsearch user would point it at a
/// cluster: `info()` is `GET /` (answered with version info, not the web UI, because the
/// client's headers say it is no browser), and it authenticates with `api_key`.
#[test]
fn elasticsearch_python_client_at_the_root_url_with_an_api_key() {
    if !client_available("elasticsearch") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("esroot", "kv");
    let out = run_client(
        "es_bulk.py",
        &[&node.url(""), &tok, "120", "esrootmark", "api_key"],
    );
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["version"], "8.17.0", "{v}");
    assert_eq!(v["helpers_ok"], 60, "{v}");
    assert_eq!(v["index_errors"], false, "{v}");
    wait_for_all(&node, "esroot", "esrootmark", "n", 120);
    let e = one(&node, "esroot", "esrootmark n=100");
    assert_eq!(e["message"], "esrootmark path doc 100");
}

#[test]
fn splunk_hec_logging_handler_delivers_with_host_source_and_sourcetype() {
    if !client_available("splunk_handler") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("hec", "json");
    let before = strata::text::now_ms();
    run_client(
        "splunk_hec.py",
        &[&node.port.to_string(), &tok, "120", "hecmark", "hec"],
    );
    let after = strata::text::now_ms();
    // sourcetype=kv chooses the built-in kv parser, which extracts n and marker.
    wait_for_all(&node, "hec", "hecmark", "n", 120);
    let e = one(&node, "hec", "hecmark n=11");
    assert_eq!(e["marker"], "hecmark");
    assert_eq!(e["@host"], "hec-client-host");
    assert_eq!(e["@source"], "clients-test.py");
    assert_eq!(e["#type"], "kv");
    assert_eq!(e["@timezone"], "Z");
    assert!(e["@rawstring"].as_str().unwrap().contains("hecmark n=11"));
    let t = ts(&e);
    assert!(
        t >= before - 1000 && t <= after + 1000,
        "HEC time {t} within the run"
    );
}

#[test]
fn humiolib_structured_and_unstructured() {
    if !client_available("humiolib") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("humio", "kv");
    run_client("humio.py", &[&node.url(""), &tok, "100", "humiomark"]);
    wait_for_all(&node, "humio", "humiomark", "n", 100);
    let e = one(&node, "humio", "humiomark n=5");
    assert_eq!(e["kind"], "structured");
    assert_eq!(e["#host"], "humio-client");
    assert_eq!(e["@timezone"], "Europe/Copenhagen");
    // 12:00:05 in Copenhagen (UTC+1 in November) is 11:00:05 UTC.
    assert_eq!(ts(&e), iso_ms("2026-11-30T11:00:05Z"));
    let e = one(&node, "humio", "humiomark n=77");
    assert_eq!(e["kind"], "unstructured");
    assert_eq!(e["client"], "humiolib");
}
