//! Global's state: every object Global holds, how the state serialises into snapshots, and
//! the lookups the server runs on it. Only the pure `State::apply` changes it (`apply.rs`
//! dispatches each event to the handlers of its object family in the sibling files). Apply
//! is deterministic: no clocks, randomness or I/O; versions are the log offsets of the events
//! that made them, so every node that applies the same log holds byte-identical state.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Serialize};

use crate::event::{ItemKind, NodeState, Retention, SegmentInfo, Tags, TokenScope, ViewConnection};
use crate::segments::SegmentMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub description: String,
    pub retention: Retention,
    /// Parsers by name.
    pub parsers: BTreeMap<String, Parser>,
    /// Saved queries, dashboards, alerts and actions by kind then id.
    pub items: Items,
    pub version: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parser {
    pub name: String,
    pub script: String,
    pub version: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub id: String,
    pub name: String,
    /// JSON body, owned by the API layer (query, widgets, thresholds, …).
    pub body: String,
    pub version: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub username: String,
    pub is_root: bool,
    pub version: u64,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// Argon2id PHC string; `None`: the user cannot sign in with a password.
    #[serde(default)]
    pub password_hash: Option<String>,
}

/// An API token: hashed, tied to a user (its owner, or for permission tokens its creator).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub username: String,
    pub token_hash: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub scope: TokenScope,
    #[serde(default)]
    pub created_ms: i64,
    /// Epoch ms after which the token is refused; checked by whoever reads it (apply has no
    /// clock).
    #[serde(default)]
    pub expires_ms: Option<i64>,
}

/// A group of users; its roles apply to every member.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub members: std::collections::BTreeSet<String>,
    pub roles: std::collections::BTreeSet<RoleAssignment>,
    pub version: u64,
}

/// A role given to a group on one repository, or organization-wide (`repo: None`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoleAssignment {
    pub role_id: String,
    pub repo: Option<String>,
}

/// A named set of LogScale permissions (names as strings, see `TokenScope`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub view_permissions: Vec<String>,
    pub organization_permissions: Vec<String>,
    pub system_permissions: Vec<String>,
    pub version: u64,
}

/// A view: searches its connections' repositories, each through its filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    pub description: String,
    pub connections: Vec<ViewConnection>,
    pub version: u64,
    /// Saved queries, dashboards, alerts and actions by kind then id, as a repository's
    /// (LogScale keeps them on views too). Default: snapshots from before views held any.
    #[serde(default)]
    pub items: Items,
}

/// A search domain's saved queries, dashboards, alerts and actions by kind then id.
pub type Items = BTreeMap<ItemKind, BTreeMap<String, Item>>;

/// An ingest token: hashed; grants ingest into one repository with an optional parser.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestToken {
    pub repo: String,
    pub name: String,
    pub token_hash: String,
    pub parser: Option<String>,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub id: u32,
    pub url: String,
    pub zone: Option<String>,
    pub state: NodeState,
    pub version: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// Digest nodes, primary first.
    pub nodes: Vec<u32>,
    /// Every event below this offset is in a durable segment.
    pub safe_offset: u64,
    /// The queue holds nothing below this offset.
    pub truncated_offset: u64,
    pub version: u64,
}

/// Per datasource: the highest queue offset already in a segment, per partition. Digest skips
/// events at or below it when it re-reads the queue after a crash.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasourceInfo {
    pub repo: String,
    pub tags: Tags,
    pub high_water: BTreeMap<u32, u64>,
}

/// All of Global's metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub repositories: BTreeMap<String, Repository>,
    pub users: BTreeMap<String, User>,
    /// API tokens by token id.
    pub api_tokens: ApiTokens,
    /// Ingest tokens by `repo/name`.
    pub ingest_tokens: BTreeMap<String, IngestToken>,
    /// Groups by id.
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    /// Roles by id.
    #[serde(default)]
    pub roles: BTreeMap<String, Role>,
    /// Views by name (names are unique among repositories and views).
    #[serde(default)]
    pub views: BTreeMap<String, View>,
    pub nodes: BTreeMap<u32, Node>,
    pub partitions: BTreeMap<u32, PartitionInfo>,
    pub replication_factor: u32,
    /// Datasources by their key (see [`datasource_key`]).
    #[serde(with = "sorted_map")]
    pub datasources: FastMap<String, DatasourceInfo>,
    /// Segments by id, O(1) apply at millions of segments (see `segments.rs`). Not part of the
    /// state's own JSON: snapshots store them apart, sorted by id and in parts that load in
    /// parallel (see `snapshot.rs`).
    #[serde(skip)]
    pub segments: SegmentMap,
}

impl Default for State {
    fn default() -> Self {
        State {
            repositories: BTreeMap::new(),
            users: BTreeMap::new(),
            api_tokens: ApiTokens::default(),
            ingest_tokens: BTreeMap::new(),
            groups: BTreeMap::new(),
            roles: BTreeMap::new(),
            views: BTreeMap::new(),
            nodes: BTreeMap::new(),
            partitions: BTreeMap::new(),
            replication_factor: 1,
            datasources: FastMap::default(),
            segments: SegmentMap::default(),
        }
    }
}

/// A hash map with a fixed (unseeded) hasher: same operations, same layout, on every node.
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;

/// Serialises a `FastMap` as a JSON object sorted by key.
mod sorted_map {
    use super::FastMap;
    use serde::de::{Deserialize, Deserializer};
    use serde::ser::{SerializeMap, Serializer};
    use serde::Serialize;

    pub fn serialize<S: Serializer, V: Serialize>(
        m: &FastMap<String, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let mut keys: Vec<&String> = m.keys().collect();
        keys.sort_unstable();
        let mut map = s.serialize_map(Some(keys.len()))?;
        for k in keys {
            map.serialize_entry(k, &m[k])?;
        }
        map.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>, V: Deserialize<'de>>(
        d: D,
    ) -> Result<FastMap<String, V>, D::Error> {
        struct Visitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
            type Value = FastMap<String, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut a: A,
            ) -> Result<Self::Value, A::Error> {
                let mut m = FastMap::default();
                m.reserve(a.size_hint().unwrap_or(0));
                while let Some((k, v)) = a.next_entry::<String, V>()? {
                    m.insert(k, v);
                }
                Ok(m)
            }
        }
        d.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// Stable key of a datasource: repository and sorted tags.
pub fn datasource_key(repo: &str, tags: &BTreeMap<String, String>) -> String {
    let mut k = repo.to_string();
    for (n, v) in tags {
        k.push('\u{1f}');
        k.push_str(n);
        k.push('=');
        k.push_str(v);
    }
    k
}

/// The result of applying one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The event changed nothing; the reason says why (same on every node).
    Rejected(String),
}

impl Outcome {
    pub fn is_applied(&self) -> bool {
        matches!(self, Outcome::Applied)
    }
}

/// Returns `Outcome::Rejected` with a formatted reason from an apply handler.
macro_rules! reject {
    ($($t:tt)*) => { return Outcome::Rejected(format!($($t)*)) };
}

// After `reject!`, which they use.
mod access;
mod apply;
mod cluster;
mod repositories;
mod segment_events;
mod teams;
mod token_index;
mod views;

pub use token_index::ApiTokens;

/// Optimistic concurrency: a rejection when `what` is no longer at the `expected` version.
fn check_version(what: &str, have: u64, expected: u64) -> Option<Outcome> {
    (have != expected).then(|| {
        Outcome::Rejected(format!(
            "{what} was changed concurrently (version {have}, expected {expected})"
        ))
    })
}

impl State {
    /// Segments of `repo` overlapping `[start, end)`.
    pub fn segments_in_range<'a>(
        &'a self,
        repo: &'a str,
        start: i64,
        end: i64,
    ) -> impl Iterator<Item = &'a SegmentInfo> + 'a {
        self.segments
            .values()
            .filter(move |s| s.repo == repo && s.max_ts >= start && s.min_ts < end)
    }

    /// The ingest token whose hash is `hash`.
    pub fn ingest_token_by_hash(&self, hash: &str) -> Option<&IngestToken> {
        self.ingest_tokens.values().find(|t| t.token_hash == hash)
    }

    /// The API token (of any kind) whose hash is `hash`.
    pub fn api_token_by_hash(&self, hash: &str) -> Option<&ApiToken> {
        self.api_tokens.by_hash(hash)
    }

    /// Whether a repository or a view is called `name` (a search domain).
    pub fn search_domain_exists(&self, name: &str) -> bool {
        self.repositories.contains_key(name) || self.views.contains_key(name)
    }

    /// The items of the search domain `name` (a repository's, else a view's).
    pub fn domain_items(&self, name: &str) -> Option<&Items> {
        match self.repositories.get(name) {
            Some(r) => Some(&r.items),
            None => self.views.get(name).map(|v| &v.items),
        }
    }

    pub(crate) fn domain_items_mut(&mut self, name: &str) -> Option<&mut Items> {
        match self.repositories.get_mut(name) {
            Some(r) => Some(&mut r.items),
            None => self.views.get_mut(name).map(|v| &mut v.items),
        }
    }

    /// Every search domain's items: repositories then views, each by name.
    pub fn all_domain_items(&self) -> impl Iterator<Item = (&String, &Items)> + '_ {
        let repos = self.repositories.iter().map(|(n, r)| (n, &r.items));
        repos.chain(self.views.iter().map(|(n, v)| (n, &v.items)))
    }

    /// The groups `username` belongs to.
    pub fn groups_of<'a>(&'a self, username: &'a str) -> impl Iterator<Item = &'a Group> + 'a {
        self.groups
            .values()
            .filter(move |g| g.members.contains(username))
    }

    /// The user owning the API token whose hash is `hash`.
    pub fn user_by_api_token_hash(&self, hash: &str) -> Option<&User> {
        self.api_tokens
            .by_hash(hash)
            .and_then(|t| self.users.get(&t.username))
    }
}
