//! Stable fuzz smoke runs (proptest; no nightly needed) over every ingest decoder: the line
//! parsers (json, kv, accesslog, none) as functions, and every ingest endpoint (LogScale
//! structured/unstructured/raw/json, HEC event and raw, Elasticsearch `_bulk`, OTLP protobuf
//! and JSON) over HTTP against a real node. Arbitrary and near-valid bytes must never panic,
//! never answer 5xx (nothing here is a storage failure), and never stop the node serving.

mod common;

use std::collections::BTreeMap;

use common::Node;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use strata::ingest::lines::parse_lines;
use strata::ingest::script::ParserSpec;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn line_parsers_never_panic_and_keep_the_raw_line(line in any::<String>()) {
        for name in ["json", "kv", "accesslog", "none"] {
            let spec = ParserSpec::Builtin(name.to_string());
            // A refused line is an error naming it, never a panic.
            if let Ok(batches) = parse_lines(
                std::iter::once(line.as_str()),
                &spec,
                &BTreeMap::new(),
                &BTreeMap::new(),
                0,
            ) {
                for b in batches {
                    for e in b.events {
                        prop_assert!(e.fields.len() <= 1_100, "{name}: {} fields", e.fields.len());
                    }
                }
            }
        }
    }

    #[test]
    fn flattening_arbitrary_json_is_bounded(text in "[\\[\\]{}\":,a-z0-9 ]{0,400}") {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            let mut out = BTreeMap::new();
            strata::text::flatten_json("", &v, &mut out);
            prop_assert!(out.len() <= strata::text::json::MAX_FIELDS + 2);
        }
    }
}

/// Bodies near what each endpoint expects, with bytes flipped, cut or spliced in.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let seeds: Vec<&'static [u8]> = vec![
        br#"[{"tags":{"host":"a"},"events":[{"timestamp":"2024-01-01T00:00:00Z","attributes":{"a":1},"rawstring":"x"}]}]"#,
        br#"[{"type":"kv","fields":{"f":"v"},"messages":["a=1 b=2","c=3"]}]"#,
        br#"{"event":"hello","time":1700000000,"host":"h","fields":{"a":"b"}}{"event":{"k":1}}"#,
        b"{\"index\":{\"_index\":\"x\"}}\n{\"message\":\"m\",\"@timestamp\":\"2024-01-01T00:00:00Z\"}\n",
        br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1700000000000000000","body":{"stringValue":"b"},"traceId":"00"}]}]}]}"#,
        b"127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 2326",
        b"",
    ];
    (
        prop::sample::select(seeds),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..40),
        any::<bool>(),
    )
        .prop_map(|(seed, flips, cut, splice, raw)| {
            if raw {
                return splice;
            }
            let mut b = seed.to_vec();
            for (i, v) in flips {
                if !b.is_empty() {
                    let at = i.index(b.len());
                    b[at] = v;
                }
            }
            if !b.is_empty() {
                let at = cut.index(b.len() + 1);
                b.truncate(at);
            }
            b.extend_from_slice(&splice);
            b
        })
}

#[test]
fn every_ingest_endpoint_answers_arbitrary_bodies_without_5xx() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &["--audit-log", "false"]);
    let tok = node.repo_with_token("fz", "kv");
    let endpoints: &[(&str, &str)] = &[
        ("/api/v1/ingest/humio-structured", "application/json"),
        ("/api/v1/ingest/humio-unstructured", "application/json"),
        ("/api/v1/ingest/raw", "text/plain"),
        ("/api/v1/ingest/json", "application/json"),
        ("/api/v1/ingest/hec", "application/json"),
        ("/api/v1/ingest/hec/raw", "text/plain"),
        ("/api/v1/ingest/elastic-bulk/_bulk", "application/x-ndjson"),
        ("/api/v1/ingest/otlp/v1/logs", "application/x-protobuf"),
        ("/api/v1/ingest/otlp/v1/logs", "application/json"),
    ];
    let mut runner = TestRunner::new(Config {
        cases: 40,
        ..Config::default()
    });
    for (path, ctype) in endpoints {
        runner
            .run(&body(), |b| {
                let r = node
                    .client
                    .post(node.url(path))
                    .bearer_auth(&tok)
                    .header("content-type", *ctype)
                    .body(b.clone())
                    .send()
                    .map_err(|e| TestCaseError::fail(format!("{path}: no answer: {e}")))?;
                let status = r.status().as_u16();
                let text = r.text().unwrap_or_default();
                prop_assert!(
                    status < 500,
                    "{path} answered {status} to {:?}: {text}",
                    String::from_utf8_lossy(&b)
                );
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{e}\nlog:\n{}", node.log_tail()));
    }
    let r = node.client.get(node.url("/api/v1/status")).send().unwrap();
    assert!(r.status().is_success(), "the node stopped serving");
}
