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

    // The job's timeZone is the query's default zone: formatTime without timezone= shows
    // the same instant 5:30 later in Asia/Kolkata than in UTC (and timeZoneOffsetMinutes too).
    let minutes_in = |zone: Value| -> i64 {
        let mut body = json!({"queryString": "msg=qj-0 | formatTime(\"%H:%M\", field=@timestamp, as=t) | select([t])", "start": "1h"});
        if let Value::Object(z) = zone {
            body.as_object_mut().unwrap().extend(z);
        }
        let (s, v) = create(&node, body);
        assert_eq!(s, 200, "{v}");
        let r = poll_done(&node, v["id"].as_str().unwrap());
        let t = r["events"][0]["t"]
            .as_str()
            .unwrap_or_else(|| panic!("{r}"))
            .to_string();
        let (h, m) = t.split_once(':').unwrap();
        h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()
    };
    let utc = minutes_in(json!({}));
    let kolkata = minutes_in(json!({"timeZone": "Asia/Kolkata"}));
    let offset = minutes_in(json!({"timeZoneOffsetMinutes": -300}));
    assert_eq!(
        (kolkata - utc).rem_euclid(1440),
        330,
        "utc {utc}, kolkata {kolkata}"
    );
    assert_eq!(
        (offset - utc).rem_euclid(1440),
        1440 - 300,
        "utc {utc}, -05:00 {offset}"
    );
    let (s, v) = create(
        &node,
        json!({"queryString": "*", "timeZone": "Mars/Olympus"}),
    );
    assert_eq!(s, 400, "{v}");

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

fn poll_status(node: &Node, id: &str, token: &str) -> (u16, String) {
    let r = node
        .client
        .get(node.url(&format!("/api/v1/repositories/app/queryjobs/{id}")))
        .bearer_auth(token)
        .send()
        .unwrap();
    (r.status().as_u16(), r.text().unwrap())
}

/// LogScale's `metaData` fields, job lifetimes (a static job ends a TTL after its last poll —
/// 2 s here through the test-only override, 90 s by default — while a live job lives an hour)
/// and who may poll a job.
#[test]
fn metadata_lifetimes_and_ownership() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start_with_env(
        &dir.path().join("n"),
        &[],
        &[("STRATA_TEST_STATIC_JOB_TTL_MS", "2000")],
    );
    let tok = node.repo_with_token("app", "json");
    let lines: Vec<Value> = (0..30).map(|i| json!({"msg": format!("md-{i}")})).collect();
    let (s, t) = node.post("/api/v1/ingest/json", &tok, Value::Array(lines).to_string());
    assert_eq!(s, 200, "{t}");
    node.wait_until(30, "30 events searchable", || {
        node.count("app", "md-") == 30
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (start, end) = (now - 3_600_000, now + 60_000);

    // A cut list says so; the range and timing are LogScale's names.
    let (s, v) = create(
        &node,
        json!({"queryString": "md- | tail(5)", "start": start, "end": end}),
    );
    assert_eq!(s, 200, "{v}");
    let r = poll_done(&node, v["id"].as_str().unwrap());
    let md = &r["metaData"];
    assert_eq!(r["events"].as_array().unwrap().len(), 5);
    assert_eq!(md["eventCount"], 5);
    assert_eq!(md["extraData"]["hasMoreEvents"], "true", "{md}");
    assert_eq!(md["queryStart"], start);
    assert_eq!(md["queryEnd"], end);
    assert_eq!(md["isAggregate"], false);
    assert!(md["timeMillis"].is_u64(), "{md}");
    assert!(md["processedEvents"].as_u64().unwrap() >= 5, "{md}");
    assert!(
        md["processedBytes"].is_u64() && md["pollAfter"].is_u64(),
        "{md}"
    );
    let (s, v) = create(&node, json!({"queryString": "md-", "start": "1h"}));
    assert_eq!(s, 200, "{v}");
    let r = poll_done(&node, v["id"].as_str().unwrap());
    assert_eq!(r["events"].as_array().unwrap().len(), 30);
    assert_eq!(r["metaData"]["extraData"]["hasMoreEvents"], "false");

    // timeChart: the bucket info of extraData.
    let (s, v) = create(
        &node,
        json!({"queryString": "md- | timeChart(span=1m)", "start": start, "end": end}),
    );
    assert_eq!(s, 200, "{v}");
    let r = poll_done(&node, v["id"].as_str().unwrap());
    let x = &r["metaData"]["extraData"];
    assert_eq!(r["metaData"]["isAggregate"], true);
    assert_eq!(x["bucket_span_millis"], "60000", "{x}");
    assert_eq!(x["bucket_span_humanized"], "1 minute");
    assert_eq!(
        x["bucket_first_bucket"],
        (start / 60_000 * 60_000).to_string()
    );
    assert_eq!(x["bucket_last_bucket"], (end / 60_000 * 60_000).to_string());

    // Parameters are checked by name.
    for (body, says) in [
        (
            json!({"queryString": "md-", "timeZone": "Nowhere/Land"}),
            "Nowhere/Land",
        ),
        (
            json!({"queryString": "md-", "ingestStart": "1h"}),
            "ingestStart",
        ),
        (
            json!({"queryString": "md-", "around": {"eventId": "x"}}),
            "around",
        ),
    ] {
        let (s, v) = create(&node, body);
        assert_eq!(s, 400, "{v}");
        assert!(v.to_string().contains(says), "{v}");
    }
    let (s, v) = create(
        &node,
        json!({"queryString": "md-", "timeZone": "America/New_York", "allowEventSkipping": true}),
    );
    assert_eq!(s, 200, "{v}");

    // Only the creator sees a job: an ingest token is refused, an unknown id is not found.
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(poll_status(&node, &id, &tok).0, 403);
    assert_eq!(poll_status(&node, "P1-nosuchjob", ROOT).0, 404);

    // Lifetimes: the static job ends 2 s after its last poll; the live one does not.
    let (s, v) = create(
        &node,
        json!({"queryString": "md- | count()", "start": "1h", "isLive": true}),
    );
    assert_eq!(s, 200, "{v}");
    let live = v["id"].as_str().unwrap().to_string();
    assert_eq!(poll_status(&node, &id, ROOT).0, 200);
    let t = Instant::now();
    loop {
        // Each check that finds the job alive is a poll that keeps it so: wait longer than the
        // TTL (and the once-a-second expiry) between checks.
        std::thread::sleep(Duration::from_millis(3500));
        let (s, body) = poll_status(&node, &id, ROOT);
        if s == 404 {
            assert!(body.contains("no query job"), "{body}");
            break;
        }
        assert_eq!(s, 200, "{body}");
        assert!(
            t.elapsed() < Duration::from_secs(90),
            "the static job never expired"
        );
    }
    let (s, body) = poll_status(&node, &live, ROOT);
    assert_eq!(s, 200, "the live job outlives the static TTL: {body}");
}
