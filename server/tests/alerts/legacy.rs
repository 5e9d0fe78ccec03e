//! Legacy alerts (`createAlert`) and actions sent to a receiver given by a flag (PagerDuty's
//! Events API URL), against the real binary with a real HTTP receiver.

use serde_json::{json, Value};

use crate::common::Node;
use crate::helpers::*;

fn legacy(node: &Node, repo: &str, id: &str) -> Value {
    node.graphql(&format!(
        r#"{{ searchDomain(name: "{repo}") {{ alert(id: "{id}") {{ name queryStart throttleTimeMillis enabled actions timeOfLastTrigger lastTriggered lastError throttledUntil evaluatingNode }} }} }}"#
    ))["searchDomain"]["alert"]
        .clone()
}

#[test]
fn legacy_alert_triggers_on_its_window_and_throttles() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), FAST);
    let token = node.repo_with_token("web", "kv");
    let rx = Receiver::start();
    let action = webhook(
        &node,
        "web",
        "hook",
        &rx.url("/legacy"),
        r#"{"alert": "{alert_name}", "type": "{alert_type}", "n": {event_count}, "window": "{query_time_start}"}"#,
    );
    // Bad input is refused naming the field.
    let e = gql_err(
        &node,
        r#"mutation { createAlert(input: {viewName: "web", name: "x", queryString: "status=500", queryStart: "banana", throttleTimeMillis: 0}) { id } }"#,
    );
    assert!(e.contains("queryStart"), "{e}");
    let e = gql_err(
        &node,
        r#"mutation { createAlert(input: {viewName: "web", name: "x", queryString: "status=500", queryStart: "1h", throttleTimeMillis: -1}) { id } }"#,
    );
    assert!(e.contains("throttleTimeMillis"), "{e}");

    let d = node.graphql(
        r#"mutation { createAlert(input: {viewName: "web", name: "Errors", queryString: "status=500", queryStart: "1h", throttleTimeMillis: 3600000, actions: ["hook"]}) { id enabled queryStart throttleTimeMillis actions } }"#,
    );
    let id = d["createAlert"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        d["createAlert"],
        json!({"id": id, "enabled": true, "queryStart": "1h", "throttleTimeMillis": 3_600_000, "actions": [action]})
    );
    assert_eq!(legacy(&node, "web", &id)["timeOfLastTrigger"], Value::Null);

    let lines: Vec<String> = (0..4)
        .map(|i| format!("status={} path=/p{i}", if i == 3 { 200 } else { 500 }))
        .collect();
    ingest(&node, &token, &lines);
    node.wait_until(30, "the legacy alert to trigger", || {
        !rx.requests("/legacy").is_empty()
    });
    let body = rx.requests("/legacy")[0].json();
    assert_eq!(
        body,
        json!({"alert": "Errors", "type": "Alert", "n": 3, "window": "1h"})
    );

    // Throttled for an hour: later evaluations see the same events and more, and stay quiet.
    ingest(&node, &token, &["status=500 path=/late".to_string()]);
    node.wait_until(30, "4 errors searchable", || {
        node.count("web", "status=500") == 4
    });
    wait_evaluations(&node, node.metric("strata_alerts_evaluated_total"), 3.0);
    assert_eq!(rx.requests("/legacy").len(), 1, "throttled");
    let st = legacy(&node, "web", &id);
    let last = st["timeOfLastTrigger"].as_i64().expect("timeOfLastTrigger");
    assert_eq!(st["lastTriggered"].as_i64(), Some(last));
    assert_eq!(
        st["throttledUntil"].as_i64(),
        Some(last + 3_600_000),
        "{st}"
    );
    assert_eq!(st["lastError"], Value::Null);

    // Listed with the other triggers' kinds kept apart; disabled through updateAlert.
    let d = node.graphql(
        r#"{ searchDomain(name: "web") { alerts { name } aggregateAlerts { name } filterAlerts { name } } }"#,
    );
    assert_eq!(
        d["searchDomain"],
        json!({"alerts": [{"name": "Errors"}], "aggregateAlerts": [], "filterAlerts": []})
    );
    let d = node.graphql(&format!(
        r#"mutation {{ updateAlert(input: {{id: "{id}", viewName: "web", name: "Errors", queryString: "status=500", queryStart: "2h", throttleTimeMillis: 1500, actions: ["hook"], enabled: false}}) {{ enabled queryStart throttleTimeMillis evaluatingNode }} }}"#
    ));
    assert_eq!(
        d["updateAlert"],
        json!({"enabled": false, "queryStart": "2h", "throttleTimeMillis": 1500, "evaluatingNode": null})
    );
    assert_eq!(
        node.graphql(&format!(
            r#"mutation {{ deleteLegacyAlert(input: {{viewName: "web", id: "{id}"}}) }}"#
        ))["deleteLegacyAlert"],
        true
    );
    let d = node.graphql(r#"{ searchDomain(name: "web") { alerts { id } } }"#);
    assert_eq!(d["searchDomain"]["alerts"], json!([]));
}

#[test]
fn pagerduty_action_posts_to_the_configured_events_url() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let url = rx.url("/v2/enqueue");
    let mut flags = FAST.to_vec();
    flags.extend(["--pagerduty-events-url", url.as_str()]);
    let node = Node::start(&dir.path().join("n"), &flags);
    node.repo_with_token("web", "kv");
    let d = node.graphql(
        r#"mutation { createPagerDutyAction(input: {viewName: "web", name: "pd", severity: "critical", routingKey: "R0UT1NG"}) { id } }"#,
    );
    let id = d["createPagerDutyAction"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let d = node.graphql(&format!(
        r#"mutation {{ testAction(input: {{viewName: "web", id: "{id}", triggerName: "Disk full"}}) {{ success message }} }}"#
    ));
    assert_eq!(d["testAction"]["success"], true, "{d}");
    let got = rx.requests("/v2/enqueue");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    let body = got[0].json();
    assert_eq!(body["routing_key"], "R0UT1NG");
    assert_eq!(body["event_action"], "trigger");
    assert_eq!(body["payload"]["severity"], "critical");
    assert_eq!(body["payload"]["summary"], "Disk full: 1 event(s)");
    assert_eq!(body["payload"]["source"], "web");

    // A receiver answering 500 is the action's error, with the URL it went to.
    rx.set_status(500);
    let d = node.graphql(&format!(
        r#"mutation {{ testAction(input: {{viewName: "web", id: "{id}"}}) {{ success message }} }}"#
    ));
    assert_eq!(d["testAction"]["success"], false);
    let msg = d["testAction"]["message"].as_str().unwrap();
    assert!(msg.contains(&url) && msg.contains("500"), "{msg}");
}
