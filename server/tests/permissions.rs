//! The permission matrix: every GraphQL field and mutation (found by introspection) and every
//! HTTP route (found in the router's source) has one row in a table naming what it needs; for
//! each row a user holding exactly that permission on repository `alpha` is let through, a user
//! who sees `alpha` without it gets 403, and a user holding every permission on `beta` only
//! gets 404 (`alpha` is invisible to them). A field or route without a row fails the test.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Node, ROOT};
use serde_json::{json, Value};

const A: &str = "alpha";
const B: &str = "beta";

const VIEW: &[&str] = &[
    "ReadAccess",
    "ChangeUserAccess",
    "ChangeTriggers",
    "ChangeActions",
    "ChangeDashboards",
    "ChangeSavedQueries",
    "ChangeParsers",
    "ChangeIngestTokens",
    "ChangeRetention",
    "ChangeViewOrRepositoryDescription",
    "DeleteDataSources",
    "DeleteRepositoryOrView",
    "ChangeFiles",
];
const ORG: &[&str] = &[
    "CreateRepository",
    "ManageUsers",
    "ChangeOrganizationPermissions",
    "ChangeAllViewOrRepositoryPermissions",
];
const SYSTEM: &[&str] = &["ManageCluster", "ReadHealthCheck"];

/// What a field or route needs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    /// Any signed-in user (answers for the caller, or filters by permission).
    User,
    /// Any permission on the repository: others get 404.
    Visible,
    View(&'static str),
    Org(&'static str),
    System(&'static str),
}
use Need::*;

/// The one table of GraphQL fields: `Type.field` → what it needs.
fn graphql_table() -> BTreeMap<&'static str, Need> {
    let mut t = BTreeMap::new();
    let rows: &[(&str, Need)] = &[
        ("Query.viewer", User),
        ("Query.searchDomains", User),
        ("Query.repositories", User),
        ("Query.currentUser", User),
        ("Query.tokens", User),
        ("Query.repository", Visible),
        ("Query.searchDomain", Visible),
        ("Query.testParser", View("ChangeParsers")),
        ("Query.cluster", System("ReadHealthCheck")),
        ("Query.raftMembership", System("ReadHealthCheck")),
        ("Mutation.addRaftLearner", System("ManageCluster")),
        ("Mutation.promoteRaftLearner", System("ManageCluster")),
        ("Mutation.removeRaftMember", System("ManageCluster")),
        ("Query.users", Org("ManageUsers")),
        ("Query.user", Org("ManageUsers")),
        ("Query.groups", Org("ManageUsers")),
        ("Query.group", Org("ManageUsers")),
        ("Query.roles", Org("ManageUsers")),
        ("Query.role", Org("ManageUsers")),
        ("Repository.name", Visible),
        ("Repository.id", Visible),
        ("Repository.type", Visible),
        ("Repository.permissions", Visible),
        ("SearchDomain.name", Visible),
        ("SearchDomain.id", Visible),
        ("SearchDomain.type", Visible),
        ("Mutation.createRepository", Org("CreateRepository")),
        ("Mutation.createView", Org("CreateRepository")),
        (
            "Mutation.updateView",
            View("ChangeViewOrRepositoryDescription"),
        ),
        (
            "Mutation.deleteSearchDomain",
            View("DeleteRepositoryOrView"),
        ),
        (
            "Mutation.updateDescriptionForSearchDomain",
            View("ChangeViewOrRepositoryDescription"),
        ),
        ("Mutation.updateRetention", View("ChangeRetention")),
        ("Mutation.addIngestTokenV3", View("ChangeIngestTokens")),
        ("Mutation.removeIngestToken", View("ChangeIngestTokens")),
        (
            "Mutation.assignParserToIngestTokenV2",
            View("ChangeIngestTokens"),
        ),
        ("Mutation.createParser", View("ChangeParsers")),
        ("Mutation.updateParser", View("ChangeParsers")),
        ("Mutation.deleteParser", View("ChangeParsers")),
        ("Mutation.createSavedQuery", View("ChangeSavedQueries")),
        ("Mutation.deleteSavedQuery", View("ChangeSavedQueries")),
        ("Mutation.createDashboard", View("ChangeDashboards")),
        ("Mutation.updateDashboard", View("ChangeDashboards")),
        ("Mutation.deleteDashboard", View("ChangeDashboards")),
        ("Mutation.addUserV2", Org("ManageUsers")),
        ("Mutation.updateUser", Org("ManageUsers")),
        ("Mutation.removeUser", Org("ManageUsers")),
        ("Mutation.addGroup", Org("ManageUsers")),
        ("Mutation.removeGroup", Org("ManageUsers")),
        ("Mutation.addUsersToGroup", Org("ManageUsers")),
        ("Mutation.removeUsersFromGroup", Org("ManageUsers")),
        ("Mutation.createRole", Org("ManageUsers")),
        ("Mutation.updateRole", Org("ManageUsers")),
        ("Mutation.removeRole", Org("ManageUsers")),
        ("Mutation.assignRoleToGroup", View("ChangeUserAccess")),
        ("Mutation.unassignRoleFromGroup", View("ChangeUserAccess")),
        (
            "Mutation.assignOrganizationRoleToGroup",
            Org("ChangeOrganizationPermissions"),
        ),
        (
            "Mutation.unassignOrganizationRoleFromGroup",
            Org("ChangeOrganizationPermissions"),
        ),
        ("Mutation.createPersonalUserTokenV2", User),
        (
            "Mutation.createOrganizationPermissionsTokenV2",
            Org("ManageUsers"),
        ),
        (
            "Mutation.createViewPermissionsTokenV2",
            View("ChangeUserAccess"),
        ),
        ("Mutation.deleteToken", User),
    ];
    for (k, v) in rows {
        t.insert(*k, *v);
    }
    for f in [
        "description",
        "timeBasedRetention",
        "ingestSizeBasedRetention",
        "storageSizeBasedRetention",
        "ingestTokens",
        "parsers",
        "savedQueries",
        "dashboards",
        "dashboard",
        "eventCount",
        "compressedByteSize",
        "uncompressedByteSize",
        "segmentCount",
    ] {
        t.insert(leak(format!("Repository.{f}")), View("ReadAccess"));
    }
    for f in [
        "actions",
        "action",
        "aggregateAlerts",
        "aggregateAlert",
        "filterAlerts",
        "filterAlert",
        "scheduledSearches",
        "scheduledSearch",
        "alerts",
        "alert",
    ] {
        t.insert(leak(format!("SearchDomain.{f}")), View("ReadAccess"));
    }
    for f in [
        "nodes",
        "ingestPartitions",
        "segmentCount",
        "segmentBytes",
        "bucket",
        "bucketUploadBacklog",
        "replicationFactor",
    ] {
        t.insert(leak(format!("Cluster.{f}")), System("ReadHealthCheck"));
    }
    for kind in [
        "Webhook",
        "Slack",
        "Email",
        "HumioRepo",
        "PagerDuty",
        "OpsGenie",
    ] {
        t.insert(
            leak(format!("Mutation.create{kind}Action")),
            View("ChangeActions"),
        );
        t.insert(
            leak(format!("Mutation.update{kind}Action")),
            View("ChangeActions"),
        );
    }
    t.insert("Mutation.deleteAction", View("ChangeActions"));
    t.insert("Mutation.testAction", View("ChangeActions"));
    for kind in ["AggregateAlert", "FilterAlert", "ScheduledSearch"] {
        for verb in [
            "create",
            "update",
            "delete",
            "enable",
            "disable",
            "clearErrorOn",
        ] {
            t.insert(
                leak(format!("Mutation.{verb}{kind}")),
                View("ChangeTriggers"),
            );
        }
    }
    // Legacy alerts (enabled and disabled through updateAlert, as in LogScale).
    for f in [
        "createAlert",
        "updateAlert",
        "deleteAlert",
        "deleteLegacyAlert",
        "clearErrorOnAlert",
    ] {
        t.insert(leak(format!("Mutation.{f}")), View("ChangeTriggers"));
    }
    t
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// Types whose fields the matrix walks, and how to reach one of their objects on `alpha`.
const OBJECT_TYPES: &[(&str, &str)] = &[
    ("Query", ""),
    ("Mutation", ""),
    ("Repository", "repository(name: \"alpha\")"),
    ("SearchDomain", "searchDomain(name: \"alpha\")"),
    ("Cluster", "cluster"),
];

// ---------------------------------------------------------------------------------------------
// Setup: users holding exactly one permission each.
// ---------------------------------------------------------------------------------------------

fn gql(node: &Node, token: &str, query: &str) -> Value {
    let r = node
        .client
        .post(node.url("/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap_or(Value::Null);
    assert_eq!(status, 200, "graphql answered {status}: {v}");
    v
}

fn gql_ok(node: &Node, query: &str) -> Value {
    let v = gql(node, ROOT, query);
    assert!(v.get("errors").is_none(), "{query}: {v}");
    v["data"].clone()
}

fn enum_list(ps: &[&str]) -> String {
    format!("[{}]", ps.join(", "))
}

/// Creates `user` (signing in with a password) in a group holding a role with these
/// permissions (view permissions on `repo`, the others organization-wide); returns a session.
fn user_with(
    node: &Node,
    user: &str,
    view: &[&str],
    repo: &str,
    org: &[&str],
    sys: &[&str],
) -> String {
    gql_ok(
        node,
        &format!(
            r#"mutation {{ addUserV2(input: {{username: "{user}", password: "pw-{user}-secret"}}) {{ username }} }}"#
        ),
    );
    let g = gql_ok(
        node,
        &format!(r#"mutation {{ addGroup(displayName: "g-{user}") {{ group {{ id }} }} }}"#),
    )["addGroup"]["group"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    gql_ok(
        node,
        &format!(
            r#"mutation {{ addUsersToGroup(input: {{groupId: "{g}", users: ["{user}"]}}) {{ group {{ id }} }} }}"#
        ),
    );
    if !view.is_empty() {
        let r = gql_ok(
            node,
            &format!(
                r#"mutation {{ createRole(input: {{displayName: "r-{user}", viewPermissions: {}}}) {{ role {{ id }} }} }}"#,
                enum_list(view)
            ),
        )["createRole"]["role"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        gql_ok(
            node,
            &format!(
                r#"mutation {{ assignRoleToGroup(input: {{viewId: "{repo}", groupId: "{g}", roleId: "{r}"}}) {{ group {{ id }} }} }}"#
            ),
        );
    }
    if !org.is_empty() || !sys.is_empty() {
        let r = gql_ok(
            node,
            &format!(
                r#"mutation {{ createRole(input: {{displayName: "o-{user}", organizationPermissions: {}, systemPermissions: {}}}) {{ role {{ id }} }} }}"#,
                enum_list(org),
                enum_list(sys)
            ),
        )["createRole"]["role"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        gql_ok(
            node,
            &format!(
                r#"mutation {{ assignOrganizationRoleToGroup(input: {{groupId: "{g}", roleId: "{r}"}}) {{ group {{ id }} }} }}"#
            ),
        );
    }
    login(node, user, &format!("pw-{user}-secret"))
}

fn login(node: &Node, user: &str, password: &str) -> String {
    let r = node
        .client
        .post(node.url("/api/v1/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap_or(Value::Null);
    assert_eq!(status, 200, "login of {user}: {v}");
    v["token"].as_str().unwrap().to_string()
}

/// The users of the matrix and their sessions.
struct Team {
    /// Per permission name: a user holding it (plus ReadAccess, for view permissions) on alpha.
    with: BTreeMap<&'static str, String>,
    /// ReadAccess on alpha only.
    reader: String,
    /// ChangeDashboards on alpha only (sees alpha, cannot read it).
    dasher: String,
    /// Every view permission on beta, nothing on alpha.
    other: String,
}

fn team(node: &Node) -> Team {
    let mut with = BTreeMap::new();
    for p in VIEW {
        let perms: Vec<&str> = if *p == "ReadAccess" {
            vec![p]
        } else {
            vec![p, "ReadAccess"]
        };
        with.insert(*p, user_with(node, &format!("v-{p}"), &perms, A, &[], &[]));
    }
    for p in ORG {
        with.insert(*p, user_with(node, &format!("o-{p}"), &[], A, &[p], &[]));
    }
    for p in SYSTEM {
        with.insert(*p, user_with(node, &format!("s-{p}"), &[], A, &[], &[p]));
    }
    Team {
        with,
        reader: user_with(node, "reader", &["ReadAccess"], A, &[], &[]),
        dasher: user_with(node, "dasher", &["ChangeDashboards"], A, &[], &[]),
        other: user_with(node, "other", VIEW, B, &[], &[]),
    }
}

fn start() -> (tempfile::TempDir, Node) {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &[]);
    for r in [A, B] {
        gql_ok(
            &node,
            &format!(r#"mutation {{ createRepository(name: "{r}") {{ repository {{ name }} }} }}"#),
        );
    }
    (dir, node)
}

// ---------------------------------------------------------------------------------------------
// GraphQL: calls generated from the schema.
// ---------------------------------------------------------------------------------------------

const TYPE_REF: &str =
    "kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

struct Schema {
    types: BTreeMap<String, Value>,
    /// The names of the query and mutation root types.
    roots: (String, String),
}

impl Schema {
    fn load(node: &Node) -> Schema {
        let q = format!(
            "{{ __schema {{ queryType {{ name }} mutationType {{ name }} \
             types {{ name kind enumValues {{ name }} \
             inputFields {{ name defaultValue type {{ {TYPE_REF} }} }} \
             fields {{ name args {{ name defaultValue type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} }} }} }}"
        );
        let d = gql_ok(node, &q);
        let types = d["__schema"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_string(), t.clone()))
            .collect();
        let root = |k: &str| d["__schema"][k]["name"].as_str().unwrap().to_string();
        Schema {
            types,
            roots: (root("queryType"), root("mutationType")),
        }
    }

    /// The fields of `ty` ("Query" and "Mutation" are the root types, whatever their names).
    fn fields(&self, ty: &str) -> Vec<Value> {
        let name = match ty {
            "Query" => &self.roots.0,
            "Mutation" => &self.roots.1,
            other => other,
        };
        let t = self
            .types
            .get(name)
            .unwrap_or_else(|| panic!("the schema has no type {name}"));
        t["fields"].as_array().cloned().unwrap_or_default()
    }

    /// A literal of type `t` for an argument or input field called `name`: the repository
    /// under test for repository-naming arguments, else a harmless value.
    fn literal(&self, t: &Value, name: &str, repo: &str) -> String {
        match t["kind"].as_str().unwrap() {
            "NON_NULL" => self.literal(&t["ofType"], name, repo),
            "LIST" => format!("[{}]", self.literal(&t["ofType"], name, repo)),
            "ENUM" => {
                let ty = &self.types[t["name"].as_str().unwrap()];
                ty["enumValues"][0]["name"].as_str().unwrap().to_string()
            }
            "INPUT_OBJECT" => {
                let ty = &self.types[t["name"].as_str().unwrap()];
                let fields: Vec<String> = ty["inputFields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| required(f))
                    .map(|f| {
                        let n = f["name"].as_str().unwrap();
                        format!("{n}: {}", self.literal(&f["type"], n, repo))
                    })
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
            _ => match t["name"].as_str().unwrap() {
                "Int" => "1".into(),
                "Float" => "1.0".into(),
                "Boolean" => "false".into(),
                _ => {
                    const REPO_ARGS: &[&str] = &[
                        "name",
                        "repositoryName",
                        "viewName",
                        "searchDomainName",
                        "viewId",
                        "viewIds",
                    ];
                    if REPO_ARGS.contains(&name) {
                        format!("{repo:?}")
                    } else {
                        "\"x\"".into()
                    }
                }
            },
        }
    }

    /// `{ __typename }` for object results, nothing for scalars.
    fn selection(&self, t: &Value) -> &'static str {
        match t["kind"].as_str().unwrap() {
            "NON_NULL" | "LIST" => self.selection(&t["ofType"]),
            "OBJECT" | "UNION" | "INTERFACE" => " { __typename }",
            _ => "",
        }
    }

    /// The call of `field` (of `ty`) on repository `repo`.
    fn call(&self, ty: &str, path: &str, field: &Value, repo: &str) -> String {
        let name = field["name"].as_str().unwrap();
        let args: Vec<String> = field["args"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| required(a))
            .map(|a| {
                let n = a["name"].as_str().unwrap();
                format!("{n}: {}", self.literal(&a["type"], n, repo))
            })
            .collect();
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        let inner = format!("{name}{args}{}", self.selection(&field["type"]));
        let path = path.replace("alpha", repo);
        match ty {
            "Query" => format!("query {{ {inner} }}"),
            "Mutation" => format!("mutation {{ {inner} }}"),
            _ => format!("query {{ {path} {{ {inner} }} }}"),
        }
    }
}

fn required(f: &Value) -> bool {
    f["type"]["kind"] == "NON_NULL" && f["defaultValue"].is_null()
}

/// The HTTP status a GraphQL answer stands for: a refusal's status, else 200. A generated
/// call the server could not even validate is a bug in this test, not an answer.
fn outcome(call: &str, v: &Value) -> u16 {
    let Some(errors) = v.get("errors").and_then(|e| e.as_array()) else {
        return 200;
    };
    for e in errors {
        if let Some(s) = e["extensions"]["status"].as_u64() {
            if matches!(s, 401 | 403 | 404) {
                return s as u16;
            }
        }
    }
    for e in errors {
        assert!(
            e.get("path").is_some(),
            "the generated call {call} does not validate: {v}"
        );
    }
    200
}

#[test]
fn every_graphql_field_and_mutation_checks_its_permission() {
    let (_dir, node) = start();
    let team = team(&node);
    let schema = Schema::load(&node);
    let table = graphql_table();

    let mut seen = BTreeSet::new();
    let mut calls: Vec<(String, String, Value)> = Vec::new();
    for (ty, path) in OBJECT_TYPES {
        for f in schema.fields(ty) {
            let name = f["name"].as_str().unwrap();
            if name.starts_with("__") {
                continue;
            }
            let key = format!("{ty}.{name}");
            seen.insert(key.clone());
            calls.push((key, path.to_string(), f.clone()));
        }
    }
    let missing: Vec<&String> = seen
        .iter()
        .filter(|k| !table.contains_key(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "GraphQL fields without a row in the permission table: {missing:?}"
    );
    let stale: Vec<&&str> = table.keys().filter(|k| !seen.contains(**k)).collect();
    assert!(
        stale.is_empty(),
        "rows for fields the schema no longer has: {stale:?}"
    );

    // The one destructive call (deleting alpha) runs last.
    calls.sort_by_key(|(k, _, _)| k == "Mutation.deleteSearchDomain");
    let mut failures = Vec::new();
    for (key, path, f) in &calls {
        let ty = key.split('.').next().unwrap();
        let need = table[key.as_str()];
        let on_a = schema.call(ty, path, f, A);
        let mut expect = |who: &str, token: &str, call: &str, want: u16| {
            let got = outcome(call, &gql(&node, token, call));
            if got != want {
                failures.push(format!("{key} as {who}: got {got}, want {want} ({call})"));
            }
        };
        match need {
            User => {
                expect("reader", &team.reader, &on_a, 200);
                expect("other", &team.other, &on_a, 200);
            }
            Visible => {
                expect("other (beta only)", &team.other, &on_a, 404);
                expect("dasher", &team.dasher, &on_a, 200);
            }
            View(p) => {
                expect("other (beta only)", &team.other, &on_a, 404);
                let (who, without) = if p == "ReadAccess" {
                    ("dasher", &team.dasher)
                } else {
                    ("reader", &team.reader)
                };
                expect(who, without, &on_a, 403);
                expect(&format!("holder of {p}"), &team.with[p], &on_a, 200);
            }
            Org(p) | System(p) => {
                expect("reader", &team.reader, &on_a, 403);
                expect(&format!("holder of {p}"), &team.with[p], &on_a, 200);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Root may do everything; without a token nothing at all.
    let r = node
        .client
        .post(node.url("/graphql"))
        .json(&json!({"query": "{ viewer { username } }"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

// ---------------------------------------------------------------------------------------------
// HTTP routes, found in the router's source.
// ---------------------------------------------------------------------------------------------

/// What an HTTP route needs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Route {
    /// Searching `{repo}` (ReadAccess).
    Search,
    /// Polling or cancelling a query job of `{repo}` (ReadAccess).
    Job,
    /// An ingest token (or a root user's token and a repository in the path).
    Ingest,
    /// Open to anyone (HEC's health check, the status endpoint's public answer).
    Monitoring,
    /// Status and metrics: `ReadHealthCheck`, unless `--open-monitoring-endpoints`.
    Health,
    /// Anyone (sign-in).
    Login,
    /// A session token (sign-out).
    Logout,
    /// Any user (GraphQL: fields are checked by the GraphQL matrix).
    GraphQl,
    /// The cluster secret.
    Internal,
    /// Unknown API paths: 404.
    Fallback,
    /// Lookup files of `{repo}`: reading needs ReadAccess, changing ChangeFiles.
    Files,
}

fn route_table() -> BTreeMap<&'static str, Route> {
    use Route::*;
    BTreeMap::from([
        ("/api/v1/repositories/{repo}/queryjobs", Search),
        ("/api/v1/repositories/{repo}/query", Search),
        ("/api/v1/dataspaces/{repo}/queryjobs", Search),
        ("/api/v1/dataspaces/{repo}/query", Search),
        ("/api/v1/repositories/{repo}/queryjobs/{id}", Job),
        ("/api/v1/dataspaces/{repo}/queryjobs/{id}", Job),
        ("/api/v1/ingest/humio-structured", Ingest),
        ("/api/v1/ingest/humio-unstructured", Ingest),
        ("/api/v1/ingest/raw", Ingest),
        ("/api/v1/ingest/json", Ingest),
        ("/api/v1/ingest/hec", Ingest),
        ("/services/collector", Ingest),
        ("/services/collector/event", Ingest),
        ("/api/v1/ingest/hec/raw", Ingest),
        ("/services/collector/raw", Ingest),
        ("/api/v1/ingest/elastic-bulk", Ingest),
        ("/api/v1/ingest/elastic-bulk/", Ingest),
        ("/api/v1/ingest/elastic-bulk/_bulk", Ingest),
        ("/api/v1/ingest/elastic-bulk/{index}/_bulk", Ingest),
        ("/{index}/_bulk", Ingest),
        ("/api/v1/ingest/otlp/v1/logs", Ingest),
        ("/v1/logs", Ingest),
        ("/api/v1/ingest/hec/ack", Ingest),
        ("/services/collector/ack", Ingest),
        ("/services/collector/event/1.0", Ingest),
        ("/services/collector/raw/1.0", Ingest),
        // HEC's health check is open, as Splunk's is (load balancers probe it).
        ("/api/v1/ingest/hec/health", Monitoring),
        ("/services/collector/health", Monitoring),
        ("/services/collector/health/1.0", Monitoring),
        ("/_bulk", Ingest),
        ("/api/v1/dataspaces/{repo}/ingest", Ingest),
        ("/api/v1/dataspaces/{repo}/ingest-messages", Ingest),
        ("/api/v1/repositories/{repo}/ingest", Ingest),
        ("/api/v1/repositories/{repo}/ingest-messages", Ingest),
        // Status and version to anyone, as LogScale; the details need ReadHealthCheck.
        ("/api/v1/status", Monitoring),
        ("/metrics", Health),
        ("/api/v1/login", Login),
        ("/api/v1/logout", Logout),
        ("/graphql", GraphQl),
        ("/internal/v1/search", Internal),
        ("/internal/v1/rows", Internal),
        ("/internal/v1/live/{id}", Internal),
        ("/internal/v1/live-stream/{id}", Internal),
        ("/internal/v1/segments/{id}", Internal),
        ("/internal/v1/ping", Internal),
        ("/internal/v1/raft/append", Internal),
        ("/internal/v1/raft/vote", Internal),
        ("/internal/v1/raft/snapshot", Internal),
        ("/internal/v1/raft/write", Internal),
        ("/internal/v1/raft/status", Internal),
        ("/api/v1/repositories/{repo}/files", Files),
        ("/api/v1/repositories/{repo}/files/{name}", Files),
        ("/api/{*rest}", Fallback),
        ("/internal/{*rest}", Fallback),
    ])
}

/// Every path the router's source registers with `.route("…"`.
fn source_routes() -> BTreeSet<String> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeSet::new();
    let mut stack = vec![src.join("api"), src.join("auth")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if p.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            let mut rest = text.as_str();
            while let Some(i) = rest.find(".route(") {
                rest = &rest[i + ".route(".len()..];
                let trimmed = rest.trim_start();
                if let Some(s) = trimmed.strip_prefix('"') {
                    if let Some(end) = s.find('"') {
                        out.insert(s[..end].to_string());
                    }
                }
            }
        }
    }
    out
}

fn send(node: &Node, method: &str, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut r = node
        .client
        .request(m, node.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().unwrap();
    (r.status().as_u16(), r.text().unwrap_or_default())
}

#[test]
fn every_http_route_checks_its_permission() {
    let (_dir, node) = start();
    let reader = user_with(&node, "reader", &["ReadAccess"], A, &[], &[]);
    let dasher = user_with(&node, "dasher", &["ChangeDashboards"], A, &[], &[]);
    let other = user_with(&node, "other", VIEW, B, &[], &[]);
    let filer = user_with(&node, "filer", &["ChangeFiles"], A, &[], &[]);
    let health = user_with(&node, "health", &[], A, &[], &["ReadHealthCheck"]);
    let ingest = gql_ok(
        &node,
        r#"mutation { addIngestTokenV3(input: {repositoryName: "alpha", name: "t"}) { token } }"#,
    )["addIngestTokenV3"]["token"]
        .as_str()
        .unwrap()
        .to_string();

    let table = route_table();
    let routes = source_routes();
    let missing: Vec<&String> = routes
        .iter()
        .filter(|r| !table.contains_key(r.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the permission table: {missing:?}"
    );
    let stale: Vec<&&str> = table.keys().filter(|k| !routes.contains(**k)).collect();
    assert!(
        stale.is_empty(),
        "rows for routes the router no longer has: {stale:?}"
    );

    let query = r#"{"queryString": "*", "start": "1h"}"#;
    let mut failures = Vec::new();
    let mut expect = |what: String, got: (u16, String), want: &[u16]| {
        if !want.contains(&got.0) {
            failures.push(format!(
                "{what}: got {} ({}), want {want:?}",
                got.0,
                got.1.trim()
            ));
        }
    };
    for (path, need) in &table {
        let on = |repo: &str| path.replace("{repo}", repo);
        match need {
            Route::Search => {
                let p = on(A);
                expect(
                    format!("{p} no token"),
                    send(&node, "POST", &p, None, query),
                    &[401],
                );
                expect(
                    format!("{p} other"),
                    send(&node, "POST", &p, Some(&other), query),
                    &[404],
                );
                expect(
                    format!("{p} dasher"),
                    send(&node, "POST", &p, Some(&dasher), query),
                    &[403],
                );
                expect(
                    format!("{p} reader"),
                    send(&node, "POST", &p, Some(&reader), query),
                    &[200],
                );
                let p = on("nosuch");
                expect(
                    format!("{p} reader"),
                    send(&node, "POST", &p, Some(&reader), query),
                    &[404],
                );
            }
            Route::Job => {
                let create = path.trim_end_matches("/{id}").replace("{repo}", A);
                let (s, body) = send(&node, "POST", &create, Some(&reader), query);
                assert_eq!(s, 200, "{create}: {body}");
                let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string();
                let p = on(A).replace("{id}", &id);
                for m in ["GET", "DELETE"] {
                    expect(
                        format!("{m} {p} no token"),
                        send(&node, m, &p, None, ""),
                        &[401],
                    );
                    expect(
                        format!("{m} {p} other"),
                        send(&node, m, &p, Some(&other), ""),
                        &[404],
                    );
                    expect(
                        format!("{m} {p} dasher"),
                        send(&node, m, &p, Some(&dasher), ""),
                        &[403],
                    );
                }
                expect(
                    format!("GET {p} reader"),
                    send(&node, "GET", &p, Some(&reader), ""),
                    &[200],
                );
                expect(
                    format!("DELETE {p} reader"),
                    send(&node, "DELETE", &p, Some(&reader), ""),
                    &[204],
                );
            }
            Route::Ingest => {
                let p = on(A);
                expect(
                    format!("{p} no token"),
                    send(&node, "POST", &p, None, "[]"),
                    &[401],
                );
                expect(
                    format!("{p} reader"),
                    send(&node, "POST", &p, Some(&reader), "[]"),
                    &[403],
                );
                // Passes authorisation: whatever the body's fate, not a refusal.
                let (s, b) = send(&node, "POST", &p, Some(&ingest), "[]");
                // Any answer but a refusal (0 stands for "not refused").
                let refused = matches!(s, 401 | 403 | 404);
                expect(
                    format!("{p} with alpha's ingest token"),
                    (if refused { s } else { 0 }, b),
                    &[0],
                );
                if path.contains("{repo}") {
                    let p = on(B);
                    expect(
                        format!("{p} alpha's token"),
                        send(&node, "POST", &p, Some(&ingest), "[]"),
                        &[403],
                    );
                }
            }
            Route::Monitoring => {
                expect(
                    format!("{path} no token"),
                    send(&node, "GET", path, None, ""),
                    &[200],
                );
            }
            Route::Health => {
                expect(
                    format!("{path} no token"),
                    send(&node, "GET", path, None, ""),
                    &[401],
                );
                expect(
                    format!("{path} reader"),
                    send(&node, "GET", path, Some(&reader), ""),
                    &[403],
                );
                expect(
                    format!("{path} holder of ReadHealthCheck"),
                    send(&node, "GET", path, Some(&health), ""),
                    &[200],
                );
                expect(
                    format!("{path} root"),
                    send(&node, "GET", path, Some(common::ROOT), ""),
                    &[200],
                );
            }
            Route::Login => {
                let bad = r#"{"username": "reader", "password": "wrong password"}"#;
                expect(
                    format!("{path} wrong password"),
                    send(&node, "POST", path, None, bad),
                    &[401],
                );
                let nobody = r#"{"username": "nobody", "password": "wrong password"}"#;
                expect(
                    format!("{path} unknown user"),
                    send(&node, "POST", path, None, nobody),
                    &[401],
                );
                expect(
                    format!("{path} not JSON"),
                    send(&node, "POST", path, None, "x"),
                    &[400],
                );
            }
            Route::Logout => {
                let s = login(&node, "dasher", "pw-dasher-secret");
                expect(
                    format!("{path} no token"),
                    send(&node, "POST", path, None, ""),
                    &[401],
                );
                expect(
                    format!("{path} root token"),
                    send(&node, "POST", path, Some(ROOT), ""),
                    &[400],
                );
                expect(
                    format!("{path} session"),
                    send(&node, "POST", path, Some(&s), ""),
                    &[204],
                );
                // The session is gone: the token no longer works anywhere.
                let (st, _) = send(
                    &node,
                    "POST",
                    "/graphql",
                    Some(&s),
                    r#"{"query": "{ viewer { username } }"}"#,
                );
                expect(
                    format!("{path} after sign-out"),
                    (st, String::new()),
                    &[401],
                );
            }
            Route::GraphQl => {
                let q = r#"{"query": "{ viewer { username } }"}"#;
                expect(
                    format!("{path} no token"),
                    send(&node, "POST", path, None, q),
                    &[401],
                );
                expect(
                    format!("{path} ingest token"),
                    send(&node, "POST", path, Some(&ingest), q),
                    &[403],
                );
                expect(
                    format!("{path} reader"),
                    send(&node, "POST", path, Some(&reader), q),
                    &[200],
                );
            }
            Route::Internal => {
                let p = path.replace("{id}", "x");
                let raft_rpc = p.contains("/raft/") && !p.ends_with("status");
                let m = if p.ends_with("search") || p.ends_with("rows") || raft_rpc {
                    "POST"
                } else {
                    "GET"
                };
                // A user token is not the cluster secret (and this node has none: closed).
                expect(
                    format!("{p} root token"),
                    send(&node, m, &p, Some(ROOT), ""),
                    &[401],
                );
            }
            Route::Files => {
                let p = on(A).replace("{name}", "x.csv");
                let change = if path.ends_with("{name}") {
                    "DELETE"
                } else {
                    "POST"
                };
                for m in ["GET", change] {
                    expect(
                        format!("{m} {p} no token"),
                        send(&node, m, &p, None, ""),
                        &[401],
                    );
                    expect(
                        format!("{m} {p} other"),
                        send(&node, m, &p, Some(&other), ""),
                        &[404],
                    );
                    expect(
                        format!("{m} {p} dasher"),
                        send(&node, m, &p, Some(&dasher), ""),
                        &[403],
                    );
                }
                // Past authorisation: the list, or no such file.
                let want_get: &[u16] = if change == "POST" { &[200] } else { &[404] };
                expect(
                    format!("GET {p} reader"),
                    send(&node, "GET", &p, Some(&reader), ""),
                    want_get,
                );
                expect(
                    format!("{change} {p} reader"),
                    send(&node, change, &p, Some(&reader), ""),
                    &[403],
                );
                // The holder of ChangeFiles passes: a JSON body is not an upload (400), and
                // there is no such file to delete (404).
                let want: &[u16] = if change == "POST" { &[400] } else { &[404] };
                expect(
                    format!("{change} {p} holder of ChangeFiles"),
                    send(&node, change, &p, Some(&filer), ""),
                    want,
                );
            }
            Route::Fallback => {
                let p = path.replace("{*rest}", "v1/nosuch");
                expect(
                    p.to_string(),
                    send(&node, "GET", &p, Some(ROOT), ""),
                    &[404],
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn permission_tokens_hold_only_their_permissions_and_expire() {
    let (_dir, node) = start();
    let reader = user_with(&node, "reader", &["ReadAccess"], A, &[], &[]);
    let q = r#"{"queryString": "*", "start": "1h"}"#;
    // A repository token made by root for beta: reads beta, not alpha.
    let d = gql_ok(
        &node,
        r#"mutation { createViewPermissionsTokenV2(input: {name: "grafana", viewIds: ["beta"], viewPermissions: [ReadAccess]}) { token tokenMetadata { id name type viewNames permissions } } }"#,
    );
    let t = d["createViewPermissionsTokenV2"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        d["createViewPermissionsTokenV2"]["tokenMetadata"]["viewNames"],
        json!(["beta"])
    );
    assert_eq!(
        send(
            &node,
            "POST",
            "/api/v1/repositories/beta/query",
            Some(&t),
            q
        )
        .0,
        200
    );
    assert_eq!(
        send(
            &node,
            "POST",
            "/api/v1/repositories/alpha/query",
            Some(&t),
            q
        )
        .0,
        404
    );
    let names = gql(&node, &t, "{ searchDomains { name } }");
    assert_eq!(
        names["data"]["searchDomains"],
        json!([{"name": "beta"}]),
        "{names}"
    );

    // Nobody puts into a token what they do not hold.
    let v = gql(
        &node,
        &reader,
        r#"mutation { createViewPermissionsTokenV2(input: {name: "x", viewIds: ["alpha"], viewPermissions: [ReadAccess]}) { token } }"#,
    );
    assert_eq!(outcome("", &v), 403, "{v}");

    // A personal token works like its user; revoked, it stops working.
    let d = gql(
        &node,
        &reader,
        r#"mutation { createPersonalUserTokenV2(input: {name: "laptop"}) { token tokenMetadata { id } } }"#,
    );
    let personal = d["data"]["createPersonalUserTokenV2"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    let id = d["data"]["createPersonalUserTokenV2"]["tokenMetadata"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        send(
            &node,
            "POST",
            "/api/v1/repositories/alpha/query",
            Some(&personal),
            q
        )
        .0,
        200
    );
    let listed = gql(&node, &reader, "{ tokens { id name type } }");
    assert_eq!(
        listed["data"]["tokens"],
        json!([{"id": id, "name": "laptop", "type": "personal"}])
    );
    let v = gql(
        &node,
        &reader,
        &format!(r#"mutation {{ deleteToken(id: "{id}") }}"#),
    );
    assert_eq!(v["data"]["deleteToken"], json!(true), "{v}");
    assert_eq!(
        send(
            &node,
            "POST",
            "/api/v1/repositories/alpha/query",
            Some(&personal),
            q
        )
        .0,
        401
    );

    // An expired token is refused: one that expires a moment from now, polled until refused.
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
        + 10_000;
    let d = gql(
        &node,
        &reader,
        &format!(
            r#"mutation {{ createPersonalUserTokenV2(input: {{expireAt: {soon}}}) {{ token }} }}"#
        ),
    );
    let short = d["data"]["createPersonalUserTokenV2"]["token"]
        .as_str()
        .unwrap()
        .to_string();
    node.wait_until(60, "the token to expire", || {
        send(
            &node,
            "POST",
            "/api/v1/repositories/alpha/query",
            Some(&short),
            q,
        )
        .0 == 401
    });
    let (_, body) = send(
        &node,
        "POST",
        "/api/v1/repositories/alpha/query",
        Some(&short),
        q,
    );
    assert!(body.contains("expired"), "{body}");

    // Removing the user ends their sessions.
    gql_ok(
        &node,
        r#"mutation { removeUser(input: {username: "reader"}) { user { username } } }"#,
    );
    assert_eq!(
        send(
            &node,
            "POST",
            "/api/v1/repositories/alpha/query",
            Some(&reader),
            q
        )
        .0,
        401
    );
}

/// `--open-monitoring-endpoints`: status and metrics answer without a token (scrapers and
/// load balancers that cannot send one).
#[test]
fn open_monitoring_endpoints_answer_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("n"), &["--open-monitoring-endpoints"]);
    for path in ["/api/v1/status", "/metrics"] {
        let r = node.client.get(node.url(path)).send().unwrap();
        assert_eq!(r.status().as_u16(), 200, "{path}");
    }
}
