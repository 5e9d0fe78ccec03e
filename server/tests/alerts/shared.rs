//! Many filter alerts on one repository share one search per poll, and each still triggers
//! exactly for its own events.

use std::collections::BTreeMap;

use crate::common::Node;
use crate::helpers::*;

#[test]
fn filter_alerts_of_a_repository_share_a_search_and_each_sees_only_its_events() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), FAST);
    let token = node.repo_with_token("shop", "kv");
    let rx = Receiver::start();
    webhook(
        &node,
        "shop",
        "hook",
        &rx.url("/hook"),
        r#"{"alert": "{alert_name}", "id": "{field:@id}"}"#,
    );
    // Ten `user=…` alerts (their OR folds into one set lookup), free text, a NOT, a
    // comparison, and one that cannot share (a second stage extracts a field).
    let mut queries: Vec<(String, String)> = (0..10)
        .map(|u| (format!("user{u}"), format!("user=u{u}")))
        .collect();
    queries.extend([
        ("timeouts".to_string(), "\"timed out\"".to_string()),
        ("slow-not-u1".to_string(), "ms>900 not user=u1".to_string()),
        (
            "codes".to_string(),
            "level=ERROR | regex(\"code=(?<code>\\\\d+)\")".to_string(),
        ),
    ]);
    let mut m = String::from("mutation {");
    for (i, (name, q)) in queries.iter().enumerate() {
        m.push_str(&format!(
            r#" a{i}: createFilterAlert(input: {{viewName: "shop", name: "{name}", queryString: {q}, actionIdsOrNames: ["hook"]}}) {{ id }}"#,
            q = serde_json::Value::String(q.clone())
        ));
    }
    m.push('}');
    node.graphql(&m);
    let searches0 = node.metric("strata_alert_searches_total");
    let evaluated0 = node.metric("strata_alerts_evaluated_total");
    // 1,200 events: users u0..u14 (u10..u14 have no alert), some timeouts, some slow.
    for batch in 0..4 {
        let lines: Vec<String> = (batch * 300..(batch + 1) * 300)
            .map(|i| {
                let what = if i % 17 == 0 {
                    "request timed out"
                } else {
                    "ok"
                };
                let level = if i % 11 == 0 { "ERROR" } else { "INFO" };
                format!(
                    "level={level} user=u{} ms={} code={} msg=\"{what} {i}\"",
                    i % 15,
                    (i * 37) % 1000,
                    400 + i % 7
                )
            })
            .collect();
        ingest(&node, &token, &lines);
    }
    node.wait_until(30, "1,200 events searchable", || {
        node.count("shop", "level=*") == 1200
    });
    let want: BTreeMap<String, u64> = queries
        .iter()
        .map(|(name, q)| (name.clone(), node.count("shop", q)))
        .collect();
    let total = want.values().sum::<u64>() as usize;
    assert!(
        want.values().all(|n| *n > 0),
        "every alert has events: {want:?}"
    );
    node.wait_until(90, "a trigger per matching event", || {
        rx.requests("/hook").len() >= total
    });
    // Evaluate well past the events, then count: nothing twice, nothing missing.
    wait_evaluations(&node, node.metric("strata_alerts_evaluated_total"), 40.0);
    let mut got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rx.requests("/hook") {
        let v = r.json();
        got.entry(v["alert"].as_str().unwrap().to_string())
            .or_default()
            .push(v["id"].as_str().unwrap().to_string());
    }
    for (name, n) in &want {
        let ids = got.get(name).cloned().unwrap_or_default();
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            (ids.len(), distinct.len()),
            (*n as usize, *n as usize),
            "alert {name}: one trigger per matching event"
        );
    }
    // The twelve shareable alerts ran as one search per poll: far fewer searches than
    // alert evaluations (alone, every evaluation is a search).
    let searches = node.metric("strata_alert_searches_total") - searches0;
    let evaluated = node.metric("strata_alerts_evaluated_total") - evaluated0;
    assert!(
        searches * 4.0 < evaluated,
        "{searches} searches for {evaluated} evaluations"
    );
}
