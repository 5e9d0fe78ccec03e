//! Views (LogScale's model): a view over two repositories, each connection with its own
//! filter, answers exactly the union of the filtered queries on the repositories — counts,
//! groups and event lists, through the streaming endpoint and query jobs; a user holding a
//! role on the view only can search the view but not the repositories behind it; connection
//! filters, names and changes are checked. A view holds saved searches, dashboards, actions
//! and alerts as a repository does, and a filter alert on a view sees exactly the events its
//! connection filters keep.

mod common;
// The alert tests' real webhook receiver (this binary uses only part of the helpers).
#[allow(dead_code)]
#[path = "alerts/helpers.rs"]
mod helpers;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Node, ROOT};
use serde_json::{json, Value};

fn gql(node: &Node, token: &str, query: &str) -> Value {
    let r = node
        .client
        .post(node.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json().unwrap()
}

/// The first error's message of a GraphQL answer that must have failed.
fn gql_err(node: &Node, query: &str) -> String {
    let v = gql(node, ROOT, query);
    v["errors"][0]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{query} should fail: {v}"))
        .to_string()
}

fn query_as(node: &Node, token: &str, domain: &str, q: &str) -> (u16, Vec<Value>) {
    let r = node
        .client
        .post(node.url(&format!("/api/v1/repositories/{domain}/query")))
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(&json!({"queryString": q, "start": "10y", "end": "now"}))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or_default())
}

/// Runs `q` as a query job on `domain` and returns its events once done.
fn job(node: &Node, domain: &str, q: &str) -> Vec<Value> {
    let r: Value = node
        .client
        .post(node.url(&format!("/api/v1/repositories/{domain}/queryjobs")))
        .bearer_auth(ROOT)
        .json(&json!({"queryString": q, "start": "10y"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = r["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    let t = Instant::now();
    loop {
        let v: Value = node
            .client
            .get(node.url(&format!("/api/v1/repositories/{domain}/queryjobs/{id}")))
            .bearer_auth(ROOT)
            .send()
            .unwrap()
            .json()
            .unwrap();
        if v["done"] == true {
            return v["events"].as_array().cloned().unwrap_or_default();
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "job never finished: {v}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count_as(node: &Node, token: &str, domain: &str, q: &str) -> u64 {
    let (s, rows) = query_as(node, token, domain, &format!("{q} | count()"));
    assert_eq!(s, 200, "{domain}: {q}");
    rows[0]["_count"].as_str().unwrap().parse().unwrap()
}

/// `groupBy(svc)` counts by service.
fn groups(rows: &[Value]) -> BTreeMap<String, u64> {
    rows.iter()
        .map(|r| {
            (
                r["svc"].as_str().unwrap().to_string(),
                r["_count"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn msgs(rows: &[Value]) -> Vec<String> {
    let mut m: Vec<String> = rows
        .iter()
        .map(|r| r["msg"].as_str().unwrap().to_string())
        .collect();
    m.sort();
    m
}

/// Creates `repo` with a token and ingests `n` events; returns the token.
fn ingest(node: &Node, repo: &str, n: usize) -> String {
    let tok = node.repo_with_token(repo, "json");
    let lines: Vec<Value> = (0..n)
        .map(|i| {
            let svc = ["api", "web", "db"][i % 3];
            let status = [200, 404, 500, 503][i % 4];
            json!({"svc": svc, "status": status, "msg": format!("{repo}-{i}")})
        })
        .collect();
    let (s, t) = node.post("/api/v1/ingest/json", &tok, Value::Array(lines).to_string());
    assert_eq!(s, 200, "{t}");
    node.wait_until(30, &format!("{n} events in {repo}"), || {
        node.count(repo, "*") == n as u64
    });
    tok
}

/// A user with a password in a group holding ReadAccess on `domain`; returns a session.
fn reader_of(node: &Node, user: &str, domain: &str) -> String {
    node.graphql(&format!(
        r#"mutation {{ addUserV2(input: {{username: "{user}", password: "pw-{user}-secret"}}) {{ username }} }}"#
    ));
    let g = node.graphql(&format!(
        r#"mutation {{ addGroup(displayName: "g-{user}") {{ group {{ id }} }} }}"#
    ))["addGroup"]["group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    node.graphql(&format!(
        r#"mutation {{ addUsersToGroup(input: {{groupId: "{g}", users: ["{user}"]}}) {{ group {{ id }} }} }}"#
    ));
    let r = node.graphql(&format!(
        r#"mutation {{ createRole(input: {{displayName: "r-{user}", viewPermissions: [ReadAccess]}}) {{ role {{ id }} }} }}"#
    ))["createRole"]["role"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    node.graphql(&format!(
        r#"mutation {{ assignRoleToGroup(input: {{viewId: "{domain}", groupId: "{g}", roleId: "{r}"}}) {{ group {{ id }} }} }}"#
    ));
    let r = node
        .client
        .post(node.url("/api/v1/login"))
        .json(&json!({"username": user, "password": format!("pw-{user}-secret")}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_view_answers_the_union_of_its_filtered_repositories() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    ingest(&node, "web", 40);
    ingest(&node, "app", 30);
    let v = node.graphql(
        r#"mutation { createView(name: "both", description: "errors of web, db of app",
             connections: [{repositoryName: "web", filter: "status>=500"},
                           {repositoryName: "app", filter: "svc=db"}]) { name description } }"#,
    );
    assert_eq!(v["createView"]["name"], "both");

    // Counts, groups and lists equal the union of the filtered queries.
    let web = count_as(&node, ROOT, "web", "status>=500");
    let app = count_as(&node, ROOT, "app", "svc=db");
    assert_eq!((web, app), (20, 10));
    assert_eq!(count_as(&node, ROOT, "both", "*"), web + app);
    assert_eq!(count_as(&node, ROOT, "both", "svc=api"), {
        count_as(&node, ROOT, "web", "status>=500 svc=api")
            + count_as(&node, ROOT, "app", "svc=db svc=api")
    });
    let (_, g) = query_as(&node, ROOT, "both", "groupBy(svc)");
    let mut want = groups(&query_as(&node, ROOT, "web", "status>=500 | groupBy(svc)").1);
    for (k, n) in groups(&query_as(&node, ROOT, "app", "svc=db | groupBy(svc)").1) {
        *want.entry(k).or_default() += n;
    }
    assert_eq!(groups(&g), want);
    let (s, list) = query_as(&node, ROOT, "both", "*");
    assert_eq!(s, 200);
    let mut want = msgs(&query_as(&node, ROOT, "web", "status>=500").1);
    want.extend(msgs(&query_as(&node, ROOT, "app", "svc=db").1));
    want.sort();
    assert_eq!(msgs(&list), want);
    // Query jobs: the implicit tail(200) and an aggregate.
    assert_eq!(msgs(&job(&node, "both", "*")), want);
    let c = job(&node, "both", "count()");
    assert_eq!(c[0]["_count"], (web + app).to_string());

    // A user with a role on the view only: the view, never the repositories behind it.
    let vera = reader_of(&node, "vera", "both");
    assert_eq!(count_as(&node, &vera, "both", "*"), web + app);
    for repo in ["web", "app"] {
        let (s, _) = query_as(&node, &vera, repo, "*");
        assert_eq!(s, 404, "vera must not see {repo}");
    }
    let d = gql(
        &node,
        &vera,
        "{ searchDomains { __typename name ... on View { connections { repository { name } filter } } } }",
    );
    assert_eq!(
        d["data"]["searchDomains"],
        json!([{"__typename": "View", "name": "both", "connections": [
            {"repository": {"name": "web"}, "filter": "status>=500"},
            {"repository": {"name": "app"}, "filter": "svc=db"}]}]),
        "{d}"
    );
    let d = gql(
        &node,
        &vera,
        r#"{ repository(name: "web") { description } }"#,
    );
    assert_eq!(d["errors"][0]["extensions"]["status"], 404, "{d}");
    // Reading a repository's fields through the view's connection needs access to it too.
    let d = gql(
        &node,
        &vera,
        "{ searchDomains { ... on View { connections { repository { eventCount } } } } }",
    );
    assert!(d["errors"][0]["extensions"]["status"] == 404, "{d}");
    // She may not change or delete the view either.
    let d = gql(
        &node,
        &vera,
        r#"mutation { deleteSearchDomain(name: "both") }"#,
    );
    assert_eq!(d["errors"][0]["extensions"]["status"], 403, "{d}");

    // Root sees both kinds.
    let d = node.graphql("{ searchDomains { __typename name } }");
    let kinds: BTreeMap<String, String> = d["searchDomains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["name"].as_str().unwrap().to_string(),
                x["__typename"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(kinds["web"], "Repository");
    assert_eq!(kinds["both"], "View");

    // Bad connections are refused before anything is stored.
    for (conn, want) in [
        (
            r#"{repositoryName: "web", filter: "count()"}"#,
            "must be a filter",
        ),
        (r#"{repositoryName: "web", filter: "(("}"#, "does not parse"),
        (r#"{repositoryName: "nope", filter: ""}"#, "does not exist"),
    ] {
        let e = gql_err(
            &node,
            &format!(r#"mutation {{ createView(name: "bad", connections: [{conn}]) {{ name }} }}"#),
        );
        assert!(e.contains(want), "{conn}: {e}");
    }
    let e = gql_err(&node, r#"mutation { createView(name: "web") { name } }"#);
    assert!(e.contains("already exists"), "{e}");
    let e = gql_err(
        &node,
        r#"mutation { createRepository(name: "both") { repository { name } } }"#,
    );
    assert!(e.contains("already exists"), "{e}");

    // Changing the connections changes the answer; deleting the view keeps the events.
    node.graphql(
        r#"mutation { updateView(viewName: "both", connections: [{repositoryName: "app", filter: ""}]) { name } }"#,
    );
    assert_eq!(count_as(&node, ROOT, "both", "*"), 30);
    node.graphql(r#"mutation { updateDescriptionForSearchDomain(name: "both", newDescription: "all of app") }"#);
    let d = node.graphql("{ searchDomains { name description } }");
    assert!(d["searchDomains"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "both" && x["description"] == "all of app"));
    node.graphql(r#"mutation { deleteSearchDomain(name: "both") }"#);
    let d = node.graphql("{ searchDomains { name } }");
    assert!(!d["searchDomains"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "both"));
    assert_eq!(node.count("web", "*"), 40);
    assert_eq!(node.count("app", "*"), 30);
    let (s, _) = query_as(&node, &vera, "both", "*");
    assert_eq!(s, 404, "the grant went with the view");
}

#[test]
fn saved_searches_dashboards_and_filter_alerts_live_on_a_view() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), helpers::FAST);
    let tokens: BTreeMap<&str, String> = ["web", "app"]
        .into_iter()
        .map(|r| (r, node.repo_with_token(r, "json")))
        .collect();
    node.graphql(
        r#"mutation { createView(name: "both", connections: [
             {repositoryName: "web", filter: "status>=500"},
             {repositoryName: "app", filter: "svc=db"}]) { name } }"#,
    );

    // A saved search and a dashboard on the view, listed through the view.
    node.graphql(
        r#"mutation { createSavedQuery(input: {name: "errors", viewName: "both", queryString: "count()"}) { name } }"#,
    );
    let d = node.graphql(
        r#"mutation { createDashboard(input: {searchDomainName: "both", name: "Ops",
             widgets: [{title: "n", queryString: "count()", visualization: SINGLE_VALUE}]}) { id name } }"#,
    );
    let dash = d["createDashboard"]["id"].as_str().unwrap().to_string();
    let d = node.graphql(&format!(
        r#"{{ searchDomains {{ name ... on View {{ savedQueries {{ name queryString }} dashboards {{ name }} dashboard(id: "{dash}") {{ name widgets {{ title }} }} }} }} }}"#
    ));
    let view = d["searchDomains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "both")
        .cloned()
        .unwrap_or_else(|| panic!("{d}"));
    assert_eq!(
        view["savedQueries"],
        json!([{"name": "errors", "queryString": "count()"}])
    );
    assert_eq!(view["dashboards"], json!([{"name": "Ops"}]));
    assert_eq!(view["dashboard"]["widgets"], json!([{"title": "n"}]));
    // They are the view's, not its repositories'.
    let d = node
        .graphql(r#"{ repository(name: "web") { savedQueries { name } dashboards { name } } }"#);
    assert_eq!(
        d["repository"],
        json!({"savedQueries": [], "dashboards": []})
    );

    // An action and a filter alert on the view.
    let rx = helpers::Receiver::start();
    helpers::webhook(
        &node,
        "both",
        "hook",
        &rx.url("/hook"),
        r#"{"msg": "{field:msg}"}"#,
    );
    node.graphql(
        r#"mutation { createFilterAlert(input: {viewName: "both", name: "seen", queryString: "msg=*", actionIdsOrNames: ["hook"]}) { id } }"#,
    );
    let d = node
        .graphql(r#"{ searchDomain(name: "both") { actions { name } filterAlerts { name } } }"#);
    assert_eq!(
        d["searchDomain"],
        json!({"actions": [{"name": "hook"}], "filterAlerts": [{"name": "seen"}]})
    );
    // Events after the alert: in each repository one the connection keeps, one it drops.
    let send = |repo: &str, line: Value| {
        let (s, t) = node.post(
            "/api/v1/ingest/json",
            &tokens[repo],
            json!([line]).to_string(),
        );
        assert_eq!(s, 200, "{t}");
    };
    send(
        "web",
        json!({"svc": "api", "status": 503, "msg": "web-kept"}),
    );
    send(
        "web",
        json!({"svc": "api", "status": 200, "msg": "web-dropped"}),
    );
    send(
        "app",
        json!({"svc": "db", "status": 200, "msg": "app-kept"}),
    );
    send(
        "app",
        json!({"svc": "api", "status": 500, "msg": "app-dropped"}),
    );
    node.wait_until(30, "the new events searchable", || {
        node.count("web", "*") == 2 && node.count("app", "*") == 2
    });
    node.wait_until(60, "two triggers", || rx.requests("/hook").len() >= 2);
    // Evaluated well past the events: the dropped ones never come.
    helpers::wait_evaluations(&node, node.metric("strata_alerts_evaluated_total"), 6.0);
    let mut got: Vec<String> = rx
        .requests("/hook")
        .iter()
        .map(|r| r.json()["msg"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    assert_eq!(got, ["app-kept", "web-kept"]);
}

/// Polls the live job `id` on `domain` until `done(events)` holds.
fn poll_live_until(
    node: &Node,
    domain: &str,
    id: &str,
    what: &str,
    done: impl Fn(&[Value]) -> bool,
) {
    let t = Instant::now();
    loop {
        let v: Value = node
            .client
            .get(node.url(&format!("/api/v1/repositories/{domain}/queryjobs/{id}")))
            .bearer_auth(ROOT)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(v["done"], false, "a live job never finishes: {v}");
        assert!(v["messages"].as_array().unwrap().is_empty(), "{v}");
        if done(v["events"].as_array().unwrap()) {
            return;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "{what}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A live query job and a live stream on a view: history through each connection's filter,
/// then every event ingested afterwards into either repository exactly when its connection's
/// filter keeps it, each once.
#[test]
fn live_queries_and_live_streams_on_a_view_see_each_connection_filtered() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    let tokens: BTreeMap<&str, String> = [("web", 40), ("app", 30)]
        .into_iter()
        .map(|(r, n)| (r, ingest(&node, r, n)))
        .collect();
    node.graphql(
        r#"mutation { createView(name: "both", connections: [
             {repositoryName: "web", filter: "status>=500"},
             {repositoryName: "app", filter: "svc=db"}]) { name } }"#,
    );
    let history = groups(&query_as(&node, ROOT, "both", "groupBy(svc)").1);
    assert_eq!(history.values().sum::<u64>(), 30, "{history:?}");

    let r: Value = node
        .client
        .post(node.url("/api/v1/repositories/both/queryjobs"))
        .bearer_auth(ROOT)
        .json(&json!({"queryString": "groupBy(svc)", "start": "1h", "isLive": true}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = r["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_string();
    poll_live_until(&node, "both", &id, "the live job's history", |ev| {
        groups(ev) == history
    });
    let stream = node
        .client
        .post(node.url("/api/v1/repositories/both/query"))
        .bearer_auth(ROOT)
        .header("accept", "application/x-ndjson")
        .json(&json!({"queryString": "msg=*", "start": "1h", "isLive": true}))
        .send()
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let mut reader = std::io::BufReader::new(stream);
    let mut read = |n: usize| -> Vec<String> {
        (0..n)
            .map(|_| {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
                v["msg"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let mut seen = read(30);
    seen.sort();
    let mut want = msgs(&query_as(&node, ROOT, "web", "status>=500").1);
    want.extend(msgs(&query_as(&node, ROOT, "app", "svc=db").1));
    want.sort();
    assert_eq!(seen, want, "the stream's history");

    // New events: per repository, kept and dropped by its connection.
    let send = |repo: &str, lines: Value| {
        let (s, t) = node.post("/api/v1/ingest/json", &tokens[repo], lines.to_string());
        assert_eq!(s, 200, "{t}");
    };
    send(
        "web",
        json!([{"svc": "api", "status": 503, "msg": "new-web-kept"},
               {"svc": "db", "status": 200, "msg": "new-web-dropped"}]),
    );
    send(
        "app",
        json!([{"svc": "db", "status": 200, "msg": "new-app-kept"},
               {"svc": "api", "status": 500, "msg": "new-app-dropped"}]),
    );
    let mut want = history.clone();
    *want.entry("api".into()).or_default() += 1;
    *want.entry("db".into()).or_default() += 1;
    poll_live_until(&node, "both", &id, "the live job's new events", |ev| {
        groups(ev) == want
    });
    let mut new = read(2);
    new.sort();
    assert_eq!(new, ["new-app-kept", "new-web-kept"]);
    // Nothing else arrives in between: a last kept event is the next line.
    send("app", json!([{"svc": "db", "msg": "last-app-kept"}]));
    assert_eq!(read(1), ["last-app-kept"]);
    want.entry("db".into()).and_modify(|n| *n += 1);
    poll_live_until(&node, "both", &id, "the last event, once", |ev| {
        groups(ev) == want
    });
}
