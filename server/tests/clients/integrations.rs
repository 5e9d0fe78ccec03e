//! Requests of integrations that talk to LogScale, replayed as their source sends them:
//! Grafana's Falcon LogScale data source (`grafana/falconlogscale-datasource`: the health check
//! is `ListRepos`, GraphQL `{searchDomains{name}}` with `Authorization: Bearer`; queries are
//! query jobs created with `start`/`end` as epoch-ms strings, polled until `done`, decoded into
//! Go structs whose counters are `uint64`, then deleted), and Vector's `humio_logs` sink
//! (`src/sinks/humio/logs.rs`: HEC events with `Authorization: Splunk`, `time` in ms, the rest
//! of the nanoseconds as `@timestamp.nanos`, `sourcetype` only when `event_type` is set; its
//! integration test reads them back from `/query` as JSON and requires `#repo`, `#type`
//! (`none` by default), `@rawstring`, `@id`, `@timestamp` as a number, `@timestamp.nanos`,
//! `@timezone`, `@source`, `@host`, no `@error`). Also: the ES root URL for clients and
//! browsers, the auth schemes shippers use, `filter_path`, and the token's parser over OTLP.

use serde_json::{json, Value};

use crate::common::{Node, ROOT};

fn req(
    node: &Node,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Vec<u8>>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut r = node
        .client
        .request(method, node.url(path))
        .body(body.into());
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    let r = r.send().unwrap();
    let (s, h) = (r.status().as_u16(), r.headers().clone());
    (s, h, r.text().unwrap())
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A non-negative integer, as Go's `encoding/json` decodes into a `uint64` field.
fn is_uint(v: &Value) -> bool {
    v.as_u64().is_some()
}

#[test]
fn grafana_falcon_logscale_datasource_health_check_repositories_and_query_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("grafana-logs", "kv");
    node.repo_with_token("Another", "kv");
    let now = strata::text::now_ms();
    let events: Vec<Value> = (0..20)
        .map(|i| json!({"timestamp": now - 60_000 + i * 1000, "attributes": {"n": i}, "rawstring": format!("grafmark n={i}")}))
        .collect();
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        "/api/v1/ingest/humio-structured",
        &[("authorization", &format!("Bearer {tok}"))],
        json!([{"tags": {"host": "g"}, "events": events}]).to_string(),
    );
    assert_eq!(s, 200, "{b}");
    let bearer = format!("Bearer {ROOT}");
    let auth = ("authorization", bearer.as_str());
    let ct = ("content-type", "application/json");

    // The health check: hasura/go-graphql-client's request for `struct{Views []RepoListItem
    // `graphql:"searchDomains"`}` (with and without the `query` keyword and variables).
    for body in [
        json!({"query": "{searchDomains{name}}"}),
        json!({"query": "query {searchDomains{name}}", "variables": {}}),
    ] {
        let (s, _, b) = req(
            &node,
            reqwest::Method::POST,
            "/graphql",
            &[auth, ct],
            body.to_string(),
        );
        assert_eq!(s, 200, "{b}");
        let v: Value = serde_json::from_str(&b).unwrap();
        assert!(v.get("errors").is_none(), "{v}");
        let mut names: Vec<&str> = v["data"]["searchDomains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        names.sort_by_key(|n| n.to_lowercase());
        assert!(
            names.contains(&"grafana-logs") && names.contains(&"Another"),
            "{v}"
        );
    }
    // A wrong token fails the health check (the GraphQL client errors on a non-200).
    let (s, _, _) = req(
        &node,
        reqwest::Method::POST,
        "/graphql",
        &[("authorization", "Bearer not-a-token"), ct],
        json!({"query": "{searchDomains{name}}"}).to_string(),
    );
    assert_eq!(s, 401);

    // A query: CreateJob, PollJob until done, DeleteJob — as client.go sends them.
    let repo_path = "/api/v1/repositories/grafana-logs/queryjobs";
    for (query, aggregate) in [
        ("grafmark", false),
        ("grafmark | timeChart(span=10s)", true),
    ] {
        let body = json!({"queryString": query, "start": (now - 3_600_000).to_string(),
            "end": (now + 60_000).to_string(), "isLive": false});
        let (s, _, b) = req(
            &node,
            reqwest::Method::POST,
            repo_path,
            &[auth, ct],
            body.to_string(),
        );
        assert_eq!(s, 200, "{b}");
        let id = serde_json::from_str::<Value>(&b).unwrap()["id"]
            .as_str()
            .expect("an id")
            .to_string();
        let poll = format!("{repo_path}/{id}");
        let result = loop {
            let (s, _, b) = req(&node, reqwest::Method::GET, &poll, &[auth], "");
            assert_eq!(s, 200, "{b}");
            let v: Value = serde_json::from_str(&b).unwrap();
            assert!(v["done"].is_boolean() && v["cancelled"].is_boolean(), "{v}");
            let m = &v["metaData"];
            for k in [
                "eventCount",
                "processedBytes",
                "processedEvents",
                "queryStart",
                "queryEnd",
                "timeMillis",
                "totalWork",
                "workDone",
            ] {
                assert!(is_uint(&m[k]), "metaData.{k} must decode as a uint64: {m}");
            }
            assert!(m["pollAfter"].is_i64(), "{m}");
            assert!(m["isAggregate"].is_boolean(), "{m}");
            assert!(
                m["fieldOrder"]
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
                "{m}"
            );
            assert!(m["extraData"].is_object(), "{m}");
            if v["done"] == true {
                break v;
            }
            std::thread::sleep(std::time::Duration::from_millis(
                m["pollAfter"].as_u64().unwrap_or(100).min(500),
            ));
        };
        let events = result["events"].as_array().unwrap();
        if aggregate {
            assert_eq!(result["metaData"]["isAggregate"], true);
            assert!(
                events.iter().all(|e| e.get("_bucket").is_some()),
                "{result}"
            );
            let total: u64 = events
                .iter()
                .map(|e| e["_count"].as_str().unwrap().parse::<u64>().unwrap())
                .sum();
            assert_eq!(total, 20);
        } else {
            assert_eq!(events.len(), 20, "{result}");
            // The data source's time converter reads @timestamp as epoch ms (string or number).
            for e in events {
                let t = e["@timestamp"]
                    .as_i64()
                    .or_else(|| e["@timestamp"].as_str().and_then(|s| s.parse().ok()))
                    .expect("@timestamp");
                assert!(t >= now - 60_000 && t < now - 40_000, "{e}");
            }
        }
        let (s, _, _) = req(&node, reqwest::Method::DELETE, &poll, &[auth], "");
        assert!(s == 204 || s == 200, "DeleteJob answered {s}");
        let (s, _, _) = req(&node, reqwest::Method::GET, &poll, &[auth], "");
        assert_eq!(s, 404, "a deleted job is gone");
    }
}

/// Vector's HEC event for one log event, as `process_log` and the JSON encoder build it.
fn vector_event(message: &str, ms: i64, extra: Value, meta: Value) -> String {
    let mut event = json!({"message": message, "@timestamp.nanos": 132_456});
    for (k, v) in extra.as_object().unwrap() {
        event[k] = v.clone();
    }
    let mut body = json!({"event": event, "fields": {}, "time": ms as f64 / 1000.0});
    for (k, v) in meta.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string()
}

#[test]
fn vector_humio_logs_sink_requests_and_its_integration_test_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    // wait_ready: `GET /api/v1/status` is a success.
    let (s, _, _) = req(&node, reqwest::Method::GET, "/api/v1/status", &[], "");
    assert!((200..300).contains(&s));
    // create_repository's mutation (Strata creates no default ingest token with a repository,
    // so the test's token comes from addIngestTokenV3, without a parser as Vector's has none).
    let d = node.graphql(
        r#"mutation { createRepository(name: "vector-repo") { repository { name type ingestTokens { name token } } } }"#,
    );
    assert_eq!(d["createRepository"]["repository"]["name"], "vector-repo");
    assert_eq!(d["createRepository"]["repository"]["type"], "DEFAULT");
    let d = node.graphql(
        r#"mutation { addIngestTokenV3(input: {repositoryName: "vector-repo", name: "vector"}) { token } }"#,
    );
    let tok = d["addIngestTokenV3"]["token"].as_str().unwrap().to_string();
    let splunk = format!("Splunk {tok}");
    let now = strata::text::now_ms();
    let rfc3339 = chrono::Utc::now().to_rfc3339();
    let cases = [
        // humio_insert_message: the host key stays in the event and is also HEC's `host`.
        vector_event(
            "vectormsg-insert",
            now,
            json!({"host": "192.168.1.1"}),
            json!({"host": "192.168.1.1"}),
        ),
        // humio_insert_source
        vector_event(
            "vectormsg-source",
            now,
            json!({}),
            json!({"source": "/var/log/syslog"}),
        ),
        // humio_type: event_type = json, with an @timestamp in the event.
        vector_event(
            "vectormsg-json",
            now,
            json!({"@timestamp": rfc3339}),
            json!({"sourcetype": "json"}),
        ),
        // humio_type: defaults to none.
        vector_event("vectormsg-none", now, json!({}), json!({})),
    ];
    for body in &cases {
        let (s, _, b) = req(
            &node,
            reqwest::Method::POST,
            "/services/collector/event",
            &[
                ("authorization", &splunk),
                ("content-type", "application/json"),
            ],
            body.clone(),
        );
        assert_eq!(s, 200, "{body}: {b}");
        assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["code"], 0);
    }
    // find_entry: `/query` with `message="..."`, Accept: application/json, default range.
    let find = |message: &str| -> Value {
        for _ in 0..600 {
            let (s, _, b) = req(
                &node,
                reqwest::Method::POST,
                "/api/v1/repositories/vector-repo/query",
                &[
                    ("authorization", &format!("Bearer {ROOT}")),
                    ("accept", "application/json"),
                    ("content-type", "application/json"),
                ],
                json!({"queryString": format!("message=\"{message}\"")}).to_string(),
            );
            assert_eq!(s, 200, "{b}");
            let logs: Vec<Value> = serde_json::from_str(&b).unwrap();
            if let Some(l) = logs.into_iter().next() {
                return l;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("no event with message {message}");
    };
    for m in [
        "vectormsg-insert",
        "vectormsg-source",
        "vectormsg-json",
        "vectormsg-none",
    ] {
        let e = find(m);
        // HumioLog's required fields and types.
        assert_eq!(e["#repo"], "vector-repo", "{e}");
        assert!(e["#type"].is_string(), "{e}");
        assert!(e["@rawstring"].is_string(), "{e}");
        assert!(e["@id"].is_string(), "{e}");
        assert!(e["@timestamp"].is_u64(), "{e}");
        assert_eq!(e["@timestamp.nanos"], "132456", "{e}");
        assert!(e["@timezone"].is_string(), "{e}");
        assert!(e.get("@error").is_none(), "{e}");
        assert_eq!(e["message"], m);
        // `time` is ms / 1000 as a double: its decimal text may round to the next millisecond.
        let t = e["@timestamp"].as_i64().unwrap();
        assert!(
            (t - now).abs() <= 1,
            "@timestamp {t} is the event's time {now}"
        );
        match m {
            "vectormsg-insert" => assert_eq!(e["@host"], "192.168.1.1"),
            "vectormsg-source" => assert_eq!(e["@source"], "/var/log/syslog"),
            "vectormsg-json" => assert_eq!(e["#type"], "json"),
            _ => assert_eq!(e["#type"], "none"),
        }
    }
}

#[test]
fn es_root_url_answers_clients_and_leaves_browsers_to_the_ui() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let clients: &[&[(&str, &str)]] = &[
        // elasticsearch-py 8 / other official 8.x clients.
        &[
            (
                "accept",
                "application/vnd.elasticsearch+json; compatible-with=8",
            ),
            (
                "x-elastic-client-meta",
                "es=8.17.0,py=3.11.2,t=8.17.0,ur=2.2.3",
            ),
        ],
        // Beats' and Logstash's connection check.
        &[("accept", "application/json")],
        // A shipper naming itself, without an Accept.
        &[("user-agent", "Filebeat/8.17.0")],
    ];
    for headers in clients {
        let (s, h, b) = req(&node, reqwest::Method::GET, "/", headers, "");
        assert_eq!(s, 200, "{headers:?}: {b}");
        assert_eq!(h["x-elastic-product"], "Elasticsearch", "{headers:?}");
        let v: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["version"]["number"], "8.17.0");
        assert_eq!(v["tagline"], "You Know, for Search");
        let (s, h, b) = req(&node, reqwest::Method::HEAD, "/", headers, "");
        assert_eq!(s, 200);
        assert_eq!(h["x-elastic-product"], "Elasticsearch");
        assert!(b.is_empty(), "HEAD has no body");
    }
    // A browser asks for HTML and gets the web UI (or the note that it is not built).
    let browser = [(
        "accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    )];
    let (_, h, b) = req(&node, reqwest::Method::GET, "/", &browser, "");
    assert!(h.get("x-elastic-product").is_none(), "{b}");
    assert!(!b.contains("You Know, for Search"), "{b}");
    // Only the root: another UI path is still the UI for every client.
    let (_, h, _) = req(&node, reqwest::Method::GET, "/search", &[], "");
    assert!(h.get("x-elastic-product").is_none());
}

#[test]
fn shippers_auth_schemes_and_filter_path() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("authr", "kv");
    let ndjson = ("content-type", "application/x-ndjson");
    let doc = |m: &str| format!("{}\n{}\n", json!({"create": {}}), json!({"message": m}));
    // Elasticsearch clients' api_key: `ApiKey base64(id:key)` with the token as key, or the
    // token itself as the encoded key; Beats' and Fluent Bit's basic auth with the token as
    // the password.
    let schemes = [
        (
            "apikey-pair",
            format!("ApiKey {}", b64(&format!("beats-id:{tok}"))),
        ),
        ("apikey-plain", format!("ApiKey {tok}")),
        ("basic", format!("Basic {}", b64(&format!("fluent:{tok}")))),
    ];
    for (name, auth) in &schemes {
        let (s, h, b) = req(
            &node,
            reqwest::Method::POST,
            "/_bulk",
            &[("authorization", auth), ndjson],
            doc(&format!("authmark {name}")),
        );
        assert_eq!(s, 200, "{name}: {b}");
        assert_eq!(h["x-elastic-product"], "Elasticsearch");
    }
    let wrong = format!("ApiKey {}", b64("id:wrong-token"));
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        "/_bulk",
        &[("authorization", &wrong), ndjson],
        doc("authmark wrong"),
    );
    assert_eq!(s, 401, "{b}");

    // HEC: Splunk's query-string authentication and basic auth.
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        &format!("/services/collector/event?token={tok}"),
        &[],
        json!({"event": "authmark hec-query"}).to_string(),
    );
    assert_eq!(s, 200, "{b}");
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        &format!("/services/collector/raw?token={tok}"),
        &[],
        "authmark hec-raw-query",
    );
    assert_eq!(s, 200, "{b}");
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        "/services/collector",
        &[(
            "authorization",
            &format!("Basic {}", b64(&format!("x:{tok}"))),
        )],
        json!({"event": "authmark hec-basic"}).to_string(),
    );
    assert_eq!(s, 200, "{b}");
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        "/services/collector/event?token=wrong",
        &[],
        json!({"event": "authmark hec-wrong"}).to_string(),
    );
    assert_eq!(s, 403, "{b}");
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["code"], 4);
    node.wait_until(60, "every accepted event", || {
        node.count("authr", "authmark") == 6
    });
    assert_eq!(node.count("authr", "authmark wrong"), 0);

    // filter_path, as Beats ask for it: a clean answer is only `errors`; with a failed item,
    // only that item's status and error are left.
    let bearer = format!("Bearer {tok}");
    let fp = "/_bulk?filter_path=errors,items.*.error,items.*.status";
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        fp,
        &[("authorization", &bearer), ndjson],
        doc("filtermark clean"),
    );
    assert_eq!(s, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&b).unwrap(),
        json!({"errors": false, "items": [{"create": {"status": 201}}]})
    );
    let body = doc("filtermark one") + "{\"create\": {}}\n[1]\n";
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        "/_bulk?filter_path=errors,items.*.error",
        &[("authorization", &bearer), ndjson],
        body,
    );
    assert_eq!(s, 200);
    let v: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(v["errors"], true, "{v}");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "only the failed item has an error: {v}");
    assert_eq!(
        items[0]["create"]["error"]["type"],
        "document_parsing_exception"
    );
    assert!(v.get("took").is_none());
}

/// Creates parser `name` in `repo` through GraphQL variables (the script has quotes).
fn create_parser(node: &Node, repo: &str, name: &str, script: &str) {
    let r = node
        .client
        .post(node.url("/graphql"))
        .bearer_auth(ROOT)
        .json(&json!({
            "query": "mutation($repo: String!, $name: String!, $script: String!) { createParser(input: {repositoryName: $repo, name: $name, script: $script}) { name } }",
            "variables": {"repo": repo, "name": name, "script": script},
        }))
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert!(v.get("errors").is_none(), "{v}");
}

#[test]
fn the_ingest_tokens_parser_runs_over_otlp_records() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    node.graphql(r#"mutation { createRepository(name: "otelp") { repository { name } } }"#);
    // LogScale's OTLP: each record becomes a JSON structure, then the token's parser is
    // applied to it. This one extracts from that JSON, adds a tag, and drops records without
    // a severity (a regex that does not match filters the event out).
    create_parser(
        &node,
        "otelp",
        "otel-parser",
        r#"/"severityText":"(?<level>[A-Z]+)"/ | #team := "payments""#,
    );
    let d = node.graphql(
        r#"mutation { addIngestTokenV3(input: {repositoryName: "otelp", name: "t", parser: "otel-parser"}) { token } }"#,
    );
    let tok = d["addIngestTokenV3"]["token"].as_str().unwrap().to_string();
    let body = json!({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "pay"}}]},
    "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1764590400000000000", "severityText": "ERROR",
         "body": {"stringValue": "otelparsermark charged twice"}},
        {"timeUnixNano": "1764590401000000000",
         "body": {"stringValue": "otelparsermark no severity"}},
        {"timeUnixNano": "1764590402000000000", "severityText": "WARN",
         "body": {"stringValue": "otelparsermark slow"}}
    ]}]}]});
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        "/v1/logs",
        &[
            ("authorization", &format!("Bearer {tok}")),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    );
    assert_eq!(s, 200, "{b}");
    node.wait_until(60, "the parsed OTLP records", || {
        node.count("otelp", "otelparsermark") == 2
    });
    let rows = node.query("otelp", "otelparsermark level=ERROR");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let e = &rows[0];
    assert_eq!(e["#type"], "otel-parser");
    assert_eq!(e["#team"], "payments");
    // The mapped fields are still there under the parser's.
    assert_eq!(e["body"], "otelparsermark charged twice");
    assert_eq!(e["resource.attributes.service.name"], "pay");
    assert_eq!(crate::ts(e), 1764590400000);
    assert_eq!(node.count("otelp", "otelparsermark level=WARN"), 1);
    assert_eq!(
        node.count("otelp", "\"no severity\""),
        0,
        "dropped by the parser"
    );

    // The built-in json parser (the mapping is its flattening): fields as mapped, #type json.
    let d = node.graphql(
        r#"mutation { addIngestTokenV3(input: {repositoryName: "otelp", name: "j", parser: "json"}) { token } }"#,
    );
    let jtok = d["addIngestTokenV3"]["token"].as_str().unwrap().to_string();
    let body = json!({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1764590403000000000", "body": {"stringValue": "otelparsermark json"},
         "attributes": [{"key": "k", "value": {"stringValue": "v"}}]}]}]}]});
    let (s, _, b) = req(
        &node,
        reqwest::Method::POST,
        "/v1/logs",
        &[
            ("authorization", &format!("Bearer {jtok}")),
            ("content-type", "application/json"),
        ],
        body.to_string(),
    );
    assert_eq!(s, 200, "{b}");
    node.wait_until(60, "the json-parsed record", || {
        node.count("otelp", "otelparsermark") == 3
    });
    let e = &node.query("otelp", "otelparsermark json")[0];
    assert_eq!(e["#type"], "json");
    assert_eq!(e["attributes.k"], "v");
}
