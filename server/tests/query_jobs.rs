//! Query jobs against the built binary: `?parameters` from `arguments`, parse errors with
//! their position (400), aggregates through the job API, and a live query that picks up an
//! event ingested after it started.

mod common;

use std::time::{Duration, Instant};

use common::{Node, ROOT};
use serde_json::{json, Value};

fn create(node: &Node, body: Value) -> (u16, Value) {
    let r = node
        .client
        .post(node.url("/api/v1/repositories/app/queryjobs"))
        .bearer_auth(ROOT)
        .json(&body)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn poll(node: &Node, id: &str) -> Value {
    node.client
        .get(node.url(&format!("/api/v1/repositories/app/queryjobs/{id}")))
        .bearer_auth(ROOT)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn poll_done(node: &Node, id: &str) -> Value {
    let t = Instant::now();
    loop {
        let v = poll(node, id);
        if v["done"] == true {
            return v;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "job never finished: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn parameters_errors_aggregates_and_live_queries() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tok = node.repo_with_token("app", "json");
    let lines: Vec<Value> = (0..30)
        .map(|i| {
            let svc = ["api", "web", "db"][i % 3];
            json!({"svc": svc, "latency": i * 10, "msg": format!("qj-{i}")})
        })
        .collect();
    let (s, t) = node.post("/api/v1/ingest/json", &tok, Value::Array(lines).to_string());
    assert_eq!(s, 200, "{t}");
    node.wait_until(20, "30 events searchable", || {
        node.count("app", "qj-") == 30
    });

    // Parameters.
    let (s, v) = create(
        &node,
        json!({"queryString": "svc=?s | groupBy(svc, function=avg(latency))", "start": "1h", "arguments": {"s": "web"}}),
    );
    assert_eq!(s, 200, "{v}");
    let r = poll_done(&node, v["id"].as_str().unwrap());
    assert_eq!(r["metaData"]["isAggregate"], true);
    assert_eq!(r["events"], json!([{"svc": "web", "_avg": "145"}]), "{r}");
    assert_eq!(r["metaData"]["workDone"], r["metaData"]["totalWork"]);

    // Parse errors name the problem and its position.
    let (s, v) = create(
        &node,
        json!({"queryString": "svc=api | groupBy(svc, limit=0)"}),
    );
    assert_eq!(s, 400);
    let msg = v.to_string();
    assert!(
        msg.contains("limit") && msg.contains("position 23"),
        "{msg}"
    );
    let (s, v) = create(&node, json!({"queryString": "svc=?missing"}));
    assert_eq!(s, 400);
    assert!(v.to_string().contains("?missing"), "{v}");

    // A live query over the last 10 minutes sees an event ingested after it started.
    let (s, v) = create(
        &node,
        json!({"queryString": "live-marker | count()", "start": "10m", "isLive": true}),
    );
    assert_eq!(s, 200, "{v}");
    let id = v["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(300));
    let first = poll(&node, &id);
    assert_eq!(first["done"], false, "live jobs never finish: {first}");
    let (s, _) = node.post(
        "/api/v1/ingest/json",
        &tok,
        json!([{"msg": "live-marker arrives"}]).to_string(),
    );
    assert_eq!(s, 200);
    let t = Instant::now();
    loop {
        let v = poll(&node, &id);
        assert_eq!(v["done"], false);
        if v["events"][0]["_count"] == "1" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "live query never saw the event: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // Exactly once while events stream in during the live query's start: ingest in the
    // background, start the job mid-stream, and compare with a plain search afterwards.
    let streamer = {
        let url = node.url("/api/v1/ingest/json");
        let tok = tok.clone();
        std::thread::spawn(move || {
            let c = reqwest::blocking::Client::new();
            for i in 0..40 {
                let body = json!([{"msg": format!("stream-marker {i}")}, {"msg": format!("stream-marker {i}b")}]);
                let r = c
                    .post(&url)
                    .bearer_auth(&tok)
                    .body(body.to_string())
                    .send()
                    .unwrap();
                assert_eq!(r.status(), 200);
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let (s, v) = create(
        &node,
        json!({"queryString": "stream-marker | count()", "start": "10m", "isLive": true}),
    );
    assert_eq!(s, 200, "{v}");
    let sid = v["id"].as_str().unwrap().to_string();
    streamer.join().unwrap();
    node.wait_until(20, "80 stream events searchable", || {
        node.count("app", "stream-marker") == 80
    });
    let t = Instant::now();
    loop {
        let v = poll(&node, &sid);
        if v["events"][0]["_count"] == "80" {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "live count never reached 80 exactly: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        poll(&node, &sid)["events"][0]["_count"],
        "80",
        "no event counted twice"
    );

    // The window slides: an event leaves a 3 s live window after about 3 s.
    let (s, v) = create(
        &node,
        json!({"queryString": "slide-marker | count()", "start": "3s", "isLive": true}),
    );
    assert_eq!(s, 200, "{v}");
    let wid = v["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(300));
    let (s, _) = node.post(
        "/api/v1/ingest/json",
        &tok,
        json!([{"msg": "slide-marker"}]).to_string(),
    );
    assert_eq!(s, 200);
    let t = Instant::now();
    while poll(&node, &wid)["events"][0]["_count"] != "1" {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the event never entered the window"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    while poll(&node, &wid)["events"][0]["_count"] != "0" {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the event never left the window"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let del = node
        .client
        .delete(node.url(&format!("/api/v1/repositories/app/queryjobs/{id}")))
        .bearer_auth(ROOT)
        .send()
        .unwrap();
    assert_eq!(del.status(), 204);
}
