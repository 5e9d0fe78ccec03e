//! Wire-level tests: the exact requests Beats and Fluent Bit send (from their source:
//! libbeat's `eslegclient` pings `GET /` then POSTs `_bulk?filter_path=…` with
//! `application/json; charset=UTF-8`, gzipped, `create` actions; Fluent Bit's out_es POSTs
//! `/_bulk` with `application/x-ndjson`), Elasticsearch item answers, OTLP JSON and protobuf
//! details, HEC health/ack/errors, and bad inputs answered 4xx naming the problem.

use std::io::Write;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use serde_json::{json, Value};

use crate::common::Node;

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn send(
    node: &Node,
    method: reqwest::Method,
    path: &str,
    tok: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> reqwest::blocking::Response {
    let mut r = node.client.request(method, node.url(path)).body(body);
    if let Some(t) = tok {
        r = r.bearer_auth(t);
    }
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().unwrap()
}

fn post(
    node: &Node,
    path: &str,
    tok: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = send(node, reqwest::Method::POST, path, tok, headers, body.into());
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    let text = r.text().unwrap();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (s, v, h)
}

#[test]
fn beats_and_fluent_bit_bulk_requests() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("beats", "kv");
    // Beats' and Logstash's connection check, with and without the trailing slash, and HEAD.
    for path in [
        "/api/v1/ingest/elastic-bulk",
        "/api/v1/ingest/elastic-bulk/",
    ] {
        let r = send(
            &node,
            reqwest::Method::GET,
            path,
            Some(&tok),
            &[("accept", "application/json")],
            vec![],
        );
        assert_eq!(r.status(), 200, "GET {path}");
        assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
        let v: Value = r.json().unwrap();
        assert!(
            v["version"]["number"].as_str().unwrap().starts_with("8."),
            "{v}"
        );
        let r = send(&node, reqwest::Method::HEAD, path, Some(&tok), &[], vec![]);
        assert_eq!(r.status(), 200, "HEAD {path}");
        assert_eq!(r.headers()["x-elastic-product"], "Elasticsearch");
    }
    // Filebeat 8: create actions into its data stream, gzip, filter_path.
    let mut body = String::new();
    for i in 0..50 {
        body.push_str(&json!({"create": {"_index": "filebeat-8.17.0"}}).to_string());
        body.push('\n');
        body.push_str(&json!({"@timestamp": format!("2026-11-30T09:00:{:02}.000Z", i), "message": format!("beatmark line {i}"), "n": i,
            "input": {"type": "filestream"}, "host": {"name": "beat-host"}, "agent": {"type": "filebeat", "version": "8.17.0"},
            "ecs": {"version": "8.0.0"}, "log": {"file": {"path": "/var/log/app.log"}, "offset": i * 20}}).to_string());
        body.push('\n');
    }
    let (s, v, h) = post(
        &node,
        "/api/v1/ingest/elastic-bulk/_bulk?filter_path=errors,items.index.status,items.index.error,items.create.status,items.create.error",
        None,
        &[
            ("authorization", &format!("Basic {}", base64_user_pass("beats", &tok))),
            ("content-type", "application/json; charset=UTF-8"),
            ("content-encoding", "gzip"),
            ("accept", "application/json"),
        ],
        gzip(body.as_bytes()),
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(h["x-elastic-product"], "Elasticsearch");
    assert_eq!(v["errors"], false);
    assert_eq!(v["items"].as_array().unwrap().len(), 50);
    assert_eq!(v["items"][0]["create"]["status"], 201);
    // Fluent Bit: ndjson to /_bulk, older `index` actions with `_type`.
    let mut fb = String::new();
    for i in 0..30 {
        fb.push_str(&json!({"index": {"_index": "fluent-bit", "_type": "_doc"}}).to_string());
        fb.push('\n');
        fb.push_str(&json!({"@timestamp": format!("2026-11-30T08:00:{:02}.500Z", i), "log": format!("fbmark {i}"), "n": i}).to_string());
        fb.push('\n');
    }
    let (s, v, h) = post(
        &node,
        "/_bulk",
        Some(&tok),
        &[("content-type", "application/x-ndjson")],
        fb,
    );
    assert_eq!(s, 200, "{v}");
    assert_eq!(h["x-elastic-product"], "Elasticsearch");
    assert_eq!(v["items"][29]["index"]["status"], 201);
    node.wait_until(60, "beats and fluent bit events", || {
        node.count("beats", "beatmark") == 50 && node.count("beats", "fbmark") == 30
    });
    let rows = node.query("beats", "beatmark n=7");
    assert_eq!(rows[0]["host.name"], "beat-host");
    assert_eq!(crate::ts(&rows[0]), 1796029207000);
    let rows = node.query("beats", "fbmark n=3");
    assert_eq!(crate::ts(&rows[0]), 1796025603500);
}

fn base64_user_pass(u: &str, p: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
}

#[test]
fn elasticsearch_items_errors_and_methods() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("esx", "kv");
    let body = [
        json!({"index": {"_index": "a", "_id": "given-id"}}).to_string(),
        json!({"message": "esxmark ok 1"}).to_string(),
        json!({"delete": {"_index": "a", "_id": "x"}}).to_string(),
        json!({"update": {"_index": "a", "_id": "y"}}).to_string(),
        json!({"doc": {"f": 1}}).to_string(),
        json!({"create": {}}).to_string(),
        "{not json".to_string(),
        json!({"create": {}}).to_string(),
        json!({"message": "esxmark ok 2"}).to_string(),
    ]
    .join("\n")
        + "\n";
    // elasticsearch-py 8's request: PUT with the compatibility media type.
    let r = send(
        &node,
        reqwest::Method::PUT,
        "/api/v1/ingest/elastic-bulk/logs/_bulk",
        Some(&tok),
        &[(
            "content-type",
            "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        )],
        body.into_bytes(),
    );
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    assert_eq!(v["errors"], true, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert_eq!(items[0]["index"]["_id"], "given-id");
    assert_eq!(items[0]["index"]["_index"], "a");
    assert_eq!(items[0]["index"]["status"], 201);
    assert_eq!(items[1]["delete"]["status"], 404);
    assert_eq!(items[1]["delete"]["result"], "not_found");
    assert_eq!(items[2]["update"]["status"], 404);
    assert_eq!(
        items[2]["update"]["error"]["type"],
        "document_missing_exception"
    );
    assert_eq!(items[3]["create"]["status"], 400);
    assert_eq!(items[3]["create"]["_index"], "logs", "the path's index");
    assert!(items[3]["create"]["error"]["reason"]
        .as_str()
        .unwrap()
        .contains("not JSON"));
    assert_eq!(items[4]["create"]["status"], 201);
    node.wait_until(60, "the two good documents", || {
        node.count("esx", "esxmark") == 2
    });
    // A malformed action line fails the whole request, in Elasticsearch's error shape.
    let (s, v, h) = post(&node, "/_bulk", Some(&tok), &[], "{\"explode\": {}}\n{}\n");
    assert_eq!(s, 400);
    assert_eq!(h["x-elastic-product"], "Elasticsearch");
    assert_eq!(v["status"], 400);
    assert!(
        v["error"]["reason"].as_str().unwrap().contains("[explode]"),
        "{v}"
    );
    let (s, v, _) = post(
        &node,
        "/_bulk",
        Some("wrong-token"),
        &[],
        "{\"index\":{}}\n{}\n",
    );
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"]["type"], "security_exception");
    let (s, v, _) = post(
        &node,
        "/_bulk",
        Some(&tok),
        &[("content-encoding", "gzip")],
        "not gzip",
    );
    assert_eq!(s, 400);
    assert!(
        v["error"]["reason"].as_str().unwrap().contains("gzip"),
        "{v}"
    );
}

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}

fn otlp_request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: None,
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: records,
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

#[test]
fn otlp_json_protobuf_partial_success_and_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("otlpw", "kv");
    // OTLP's JSON mapping, as the Collector's otlphttp exporter sends it with encoding: json.
    let body = json!({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "jsonsvc"}}]},
    "scopeLogs": [{"scope": {"name": "js"}, "logRecords": [
        {"timeUnixNano": "1764590400123456789", "severityNumber": 9, "severityText": "INFO",
         "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
         "body": {"kvlistValue": {"values": [{"key": "msg", "value": {"stringValue": "otlpjsonmark"}}]}},
         "attributes": [{"key": "count", "value": {"intValue": "42"}}]},
        {"observedTimeUnixNano": "1764590401000000000", "body": {"stringValue": "otlpjsonmark observed"},
         "traceId": "abcd"},
        {"timeUnixNano": 1764590403000000000u64, "body": {"stringValue": "otlpjsonmark numeric time"}}
    ]}]}]});
    let (st, v, h) = post(
        &node,
        "/v1/logs",
        Some(&tok),
        &[("content-type", "application/json")],
        body.to_string(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(v["partialSuccess"]["rejectedLogRecords"], "1", "{v}");
    assert!(
        v["partialSuccess"]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("traceId must be 16 bytes"),
        "{v}"
    );
    node.wait_until(60, "the OTLP JSON records", || {
        node.count("otlpw", "otlpjsonmark") == 2
    });
    let e = &node.query("otlpw", "otlpjsonmark numeric")[0];
    assert_eq!(
        crate::ts(e),
        1764590403000,
        "a numeric timeUnixNano is read too"
    );
    let e = &node.query("otlpw", "otlpjsonmark severityText=INFO")[0];
    assert_eq!(e["body.msg"], "otlpjsonmark");
    assert_eq!(e["attributes.count"], "42");
    assert_eq!(e["traceId"], "5b8efff798038103d269b633813fc60c");
    assert_eq!(e["resource.attributes.service.name"], "jsonsvc");
    assert_eq!(crate::ts(e), 1764590400123);
    assert_eq!(e["@timestamp.nanos"], "456789");

    // Protobuf, gzipped; the answer is an ExportLogsServiceResponse in protobuf.
    let rec = |t: u64, b: &str| LogRecord {
        observed_time_unix_nano: t,
        body: s(b),
        attributes: vec![KeyValue {
            key: "k".into(),
            value: s("v"),
        }],
        ..Default::default()
    };
    let req = otlp_request(vec![
        rec(0, "otlppbmark alpha"),
        rec(1_764_590_402_000_000_000, "otlppbmark beta"),
    ]);
    let r = send(
        &node,
        reqwest::Method::POST,
        "/api/v1/ingest/otlp/v1/logs",
        Some(&tok),
        &[
            ("content-type", "application/x-protobuf"),
            ("content-encoding", "gzip"),
        ],
        gzip(&req.encode_to_vec()),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-protobuf");
    let resp = ExportLogsServiceResponse::decode(r.bytes().unwrap()).unwrap();
    assert!(resp.partial_success.is_none());
    node.wait_until(60, "the OTLP protobuf records", || {
        node.count("otlpw", "otlppbmark") == 2
    });
    let rows = node.query("otlpw", "otlppbmark beta");
    assert_eq!(crate::ts(&rows[0]), 1764590402000, "observedTimeUnixNano");

    // Bad inputs: 4xx naming the problem, in the request's encoding.
    let pb = [("content-type", "application/x-protobuf")];
    let r = send(
        &node,
        reqwest::Method::POST,
        "/v1/logs",
        Some(&tok),
        &pb,
        vec![0xff, 0xff, 0xff],
    );
    assert_eq!(r.status(), 400);
    let msg = String::from_utf8_lossy(&r.bytes().unwrap()).to_string();
    assert!(
        msg.contains("not a valid OTLP ExportLogsServiceRequest protobuf"),
        "{msg}"
    );
    let (st, v, _) = post(
        &node,
        "/v1/logs",
        Some(&tok),
        &[("content-type", "application/json")],
        "{\"resourceLogs\": [",
    );
    assert_eq!(st, 400);
    assert_eq!(v["code"], 3);
    assert!(v["message"].as_str().unwrap().contains("JSON"), "{v}");
    let (st, v, _) = post(
        &node,
        "/v1/logs",
        Some(&tok),
        &[
            ("content-type", "application/json"),
            ("content-encoding", "gzip"),
        ],
        "nope",
    );
    assert_eq!(st, 400);
    assert!(v["message"].as_str().unwrap().contains("gzip"), "{v}");
    let (st, _, _) = post(
        &node,
        "/v1/logs",
        Some(&tok),
        &[("content-type", "text/plain")],
        "x",
    );
    assert_eq!(st, 415);
    let (st, v, _) = post(
        &node,
        "/v1/logs",
        None,
        &[("content-type", "application/json")],
        "{}",
    );
    assert_eq!(st, 401, "{v}");
    assert_eq!(v["code"], 16);
}

/// Headers, body, expected status, expected HEC code.
type HecCase<'a> = (Vec<(&'a str, &'a str)>, String, u16, u64);

#[test]
fn hec_health_ack_time_index_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("hecw", "kv");
    for p in [
        "/services/collector/health",
        "/services/collector/health/1.0",
    ] {
        let r = node.client.get(node.url(p)).send().unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().unwrap();
        assert_eq!(v["code"], 17, "{v}");
    }
    let splunk = format!("Splunk {tok}");
    let auth = [("authorization", splunk.as_str())];
    let chan = "0e8a6a8c-1b2d-4c3e-9f00-0123456789ab";
    let body = json!({"time": "1764590400.123456", "event": "hectimemark one", "host": "h1", "source": "/var/log/x", "index": "hecw", "fields": {"region": "eu"}}).to_string()
        + &json!({"time": 1764590401.5, "timezone": "Europe/Paris", "event": {"msg": "hectimemark two"}}).to_string()
        + &json!({"event": "hectimemark three not-json", "sourcetype": "json"}).to_string();
    let (st, v, _) = post(
        &node,
        &format!("/services/collector/event?channel={chan}"),
        None,
        &auth,
        body,
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["code"], 0);
    let ack_id = v["ackId"]
        .as_u64()
        .expect("an ack id for a request with a channel");
    let (st, v, _) = post(
        &node,
        "/services/collector/ack",
        None,
        &[auth[0], ("x-splunk-request-channel", chan)],
        json!({"acks": [ack_id]}).to_string(),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["acks"][ack_id.to_string()], true);
    node.wait_until(60, "the HEC events", || {
        node.count("hecw", "hectimemark") == 3
    });
    let e = &node.query("hecw", "hectimemark one")[0];
    assert_eq!(crate::ts(e), 1764590400123);
    assert_eq!(e["@timestamp.nanos"], "456000");
    assert_eq!(e["@host"], "h1");
    assert_eq!(e["@source"], "/var/log/x");
    assert_eq!(e["region"], "eu");
    let e = &node.query("hecw", "hectimemark two")[0];
    assert_eq!(crate::ts(e), 1764590401500);
    assert_eq!(e["@timezone"], "Europe/Paris");
    assert_eq!(e["msg"], "hectimemark two");
    // sourcetype=json picks the json parser; an event it cannot parse is kept, flagged.
    let e = &node.query("hecw", "hectimemark three")[0];
    assert_eq!(e["#type"], "json");
    assert_eq!(e["@error"], "true");
    assert!(
        e["@error_msg"].as_str().unwrap().contains("invalid JSON"),
        "{e}"
    );

    // Errors in HEC's shape with Splunk's codes.
    let cases: Vec<HecCase> = vec![
        (vec![], json!({"event": "x"}).to_string(), 401, 2),
        (
            vec![("authorization", "Splunk wrong")],
            json!({"event": "x"}).to_string(),
            403,
            4,
        ),
        (auth.to_vec(), String::new(), 400, 5),
        (auth.to_vec(), "{\"event\": ".to_string(), 400, 6),
        (
            auth.to_vec(),
            json!({"index": "other", "event": "x"}).to_string(),
            400,
            7,
        ),
        (auth.to_vec(), json!({"time": 1}).to_string(), 400, 12),
        (auth.to_vec(), json!({"event": ""}).to_string(), 400, 13),
        (
            auth.to_vec(),
            json!({"event": "x", "time": "yesterday"}).to_string(),
            400,
            6,
        ),
    ];
    for (h, body, status, code) in cases {
        let (st, v, _) = post(&node, "/services/collector", None, &h, body.clone());
        assert_eq!(
            (st, v["code"].as_u64()),
            (status, Some(code)),
            "{body}: {v}"
        );
        assert!(!v["text"].as_str().unwrap().is_empty());
    }
    let (st, v, _) = post(
        &node,
        "/services/collector?channel=not-a-guid",
        None,
        &auth,
        json!({"event": "x"}).to_string(),
    );
    assert_eq!((st, v["code"].as_u64()), (400, Some(11)), "{v}");
    let (st, v, _) = post(
        &node,
        "/services/collector/ack",
        None,
        &auth,
        json!({"acks": [0]}).to_string(),
    );
    assert_eq!((st, v["code"].as_u64()), (400, Some(10)), "{v}");
    // Nothing of the refused requests was stored.
    assert_eq!(node.count("hecw", "*"), 3);
}
