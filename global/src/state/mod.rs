//! Global's state and the pure `apply` function. `apply` is deterministic: no clocks,
//! randomness or I/O; versions are the log offsets of the events that made them, so every
//! node that applies the same log holds byte-identical state.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasherDefault;

use serde::{Deserialize, Serialize};

use crate::event::{GlobalEvent, ItemKind, NodeState, Retention, SegmentInfo, Tags};
use crate::segments::SegmentMap;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repository {
    pub name: String,
    pub description: String,
    pub retention: Retention,
    /// Parsers by name.
    pub parsers: BTreeMap<String, Parser>,
    /// Saved queries, dashboards, alerts and actions by kind then id.
    pub items: BTreeMap<ItemKind, BTreeMap<String, Item>>,
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
}

/// An API token: hashed, tied to a user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub username: String,
    pub token_hash: String,
}

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
    pub api_tokens: BTreeMap<String, ApiToken>,
    /// Ingest tokens by `repo/name`.
    pub ingest_tokens: BTreeMap<String, IngestToken>,
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
            api_tokens: BTreeMap::new(),
            ingest_tokens: BTreeMap::new(),
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

macro_rules! reject {
    ($($t:tt)*) => { return Outcome::Rejected(format!($($t)*)) };
}

fn check_version(what: &str, have: u64, expected: u64) -> Option<Outcome> {
    (have != expected).then(|| {
        Outcome::Rejected(format!(
            "{what} was changed concurrently (version {have}, expected {expected})"
        ))
    })
}

impl State {
    /// Applies `event`, read at log `offset`, to the state.
    pub fn apply(&mut self, offset: u64, event: &GlobalEvent) -> Outcome {
        match event {
            GlobalEvent::AddSegment { .. } | GlobalEvent::ReplaceSegments { .. } => {
                self.apply_owned(offset, event.clone())
            }
            _ => self.apply_ref(offset, event),
        }
    }

    /// Like [`apply`](Self::apply) but consumes the event, so the hot segment events move
    /// their metadata into the state instead of copying it.
    pub fn apply_owned(&mut self, offset: u64, event: GlobalEvent) -> Outcome {
        match event {
            GlobalEvent::AddSegment {
                mut segment,
                safe_offset,
            } => {
                if !self.repositories.contains_key(segment.repo.as_str()) {
                    reject!("repository {:?} does not exist", segment.repo);
                }
                // Fencing: only the partition's current digest primary may add digest output.
                // A node that lost the partition (failover while it was slow or cut off) has
                // its late segment refused; the new primary re-reads those events from the
                // safe offset, so they land exactly once.
                if safe_offset.is_some() {
                    if let Some(primary) = self
                        .partitions
                        .get(&segment.partition)
                        .and_then(|p| p.nodes.first())
                    {
                        if !segment.nodes.contains(primary) {
                            reject!(
                                "partition {} is digested by node {primary}, not by the writer of segment {:?}",
                                segment.partition,
                                segment.id
                            );
                        }
                    }
                }
                let key = datasource_key(&segment.repo, &segment.tags);
                // One copy of the tags per datasource, however many segments it has.
                if let Some(ds) = self.datasources.get(&key) {
                    segment.tags = ds.tags.clone();
                }
                let (repo, tags) = (segment.repo.clone(), segment.tags.clone());
                let (partition, last_offset) = (segment.partition, segment.last_offset);
                segment.version = offset;
                if let Err(s) = self.segments.insert_new(segment) {
                    reject!("segment {:?} already exists", s.id);
                }
                let ds = self
                    .datasources
                    .entry(key)
                    .or_insert_with(|| DatasourceInfo {
                        repo: repo.to_string(),
                        tags,
                        high_water: BTreeMap::new(),
                    });
                let hw = ds.high_water.entry(partition).or_insert(0);
                *hw = (*hw).max(last_offset);
                if let Some(safe) = safe_offset {
                    let p = self.partitions.entry(partition).or_default();
                    p.safe_offset = p.safe_offset.max(safe);
                }
                Outcome::Applied
            }
            GlobalEvent::ReplaceSegments { remove, mut add } => {
                if let Some(missing) = remove.iter().find(|id| !self.segments.contains_key(id)) {
                    reject!("segment {missing:?} no longer exists");
                }
                if self.segments.contains_key(&add.id) {
                    reject!("segment {:?} already exists", add.id);
                }
                for id in &remove {
                    self.segments.remove(id);
                }
                add.version = offset;
                if let Some(ds) = self.datasources.get(&datasource_key(&add.repo, &add.tags)) {
                    add.tags = ds.tags.clone();
                }
                self.segments.insert(add);
                Outcome::Applied
            }
            other => self.apply_ref(offset, &other),
        }
    }

    fn apply_ref(&mut self, offset: u64, event: &GlobalEvent) -> Outcome {
        use GlobalEvent::*;
        match event {
            CreateRepository { name, description } => {
                if name.is_empty() {
                    reject!("repository name is empty");
                }
                if self.repositories.contains_key(name) {
                    reject!("repository {name:?} already exists");
                }
                self.repositories.insert(
                    name.clone(),
                    Repository {
                        name: name.clone(),
                        description: description.clone(),
                        version: offset,
                        ..Default::default()
                    },
                );
            }
            UpdateRepository {
                name,
                expected_version,
                description,
                retention,
            } => {
                let Some(r) = self.repositories.get_mut(name) else {
                    reject!("repository {name:?} does not exist");
                };
                if let Some(o) = check_version(
                    &format!("repository {name:?}"),
                    r.version,
                    *expected_version,
                ) {
                    return o;
                }
                r.description = description.clone();
                r.retention = retention.clone();
                r.version = offset;
            }
            DeleteRepository {
                name,
                expected_version,
            } => {
                let Some(r) = self.repositories.get(name) else {
                    reject!("repository {name:?} does not exist");
                };
                if let Some(o) = check_version(
                    &format!("repository {name:?}"),
                    r.version,
                    *expected_version,
                ) {
                    return o;
                }
                self.repositories.remove(name);
                self.ingest_tokens.retain(|_, t| &t.repo != name);
                self.datasources.retain(|_, d| &d.repo != name);
                self.segments.retain(|s| s.repo != name);
            }
            CreateUser { username, is_root } => {
                if self.users.contains_key(username) {
                    reject!("user {username:?} already exists");
                }
                self.users.insert(
                    username.clone(),
                    User {
                        username: username.clone(),
                        is_root: *is_root,
                        version: offset,
                    },
                );
            }
            AddApiToken {
                username,
                token_id,
                token_hash,
            } => {
                if !self.users.contains_key(username) {
                    reject!("user {username:?} does not exist");
                }
                if self.api_tokens.contains_key(token_id) {
                    reject!("api token {token_id:?} already exists");
                }
                self.api_tokens.insert(
                    token_id.clone(),
                    ApiToken {
                        id: token_id.clone(),
                        username: username.clone(),
                        token_hash: token_hash.clone(),
                    },
                );
            }
            RemoveApiToken { token_id } => {
                if self.api_tokens.remove(token_id).is_none() {
                    reject!("api token {token_id:?} does not exist");
                }
            }
            CreateIngestToken {
                repo,
                name,
                token_hash,
                parser,
            } => {
                if !self.repositories.contains_key(repo) {
                    reject!("repository {repo:?} does not exist");
                }
                let key = format!("{repo}/{name}");
                if self.ingest_tokens.contains_key(&key) {
                    reject!("ingest token {name:?} already exists in {repo:?}");
                }
                if self
                    .ingest_tokens
                    .values()
                    .any(|t| &t.token_hash == token_hash)
                {
                    reject!("ingest token value already in use");
                }
                self.ingest_tokens.insert(
                    key,
                    IngestToken {
                        repo: repo.clone(),
                        name: name.clone(),
                        token_hash: token_hash.clone(),
                        parser: parser.clone(),
                        version: offset,
                    },
                );
            }
            SetIngestTokenParser {
                repo,
                name,
                parser,
                expected_version,
            } => {
                let Some(t) = self.ingest_tokens.get_mut(&format!("{repo}/{name}")) else {
                    reject!("ingest token {name:?} does not exist in {repo:?}");
                };
                if let Some(o) = check_version(
                    &format!("ingest token {name:?}"),
                    t.version,
                    *expected_version,
                ) {
                    return o;
                }
                t.parser = parser.clone();
                t.version = offset;
            }
            DeleteIngestToken { repo, name } => {
                if self
                    .ingest_tokens
                    .remove(&format!("{repo}/{name}"))
                    .is_none()
                {
                    reject!("ingest token {name:?} does not exist in {repo:?}");
                }
            }
            PutParser {
                repo,
                name,
                script,
                expected_version,
            } => {
                let Some(r) = self.repositories.get_mut(repo) else {
                    reject!("repository {repo:?} does not exist");
                };
                match (r.parsers.get(name), expected_version) {
                    (Some(_), None) => reject!("parser {name:?} already exists in {repo:?}"),
                    (None, Some(_)) => reject!("parser {name:?} does not exist in {repo:?}"),
                    (Some(p), Some(v)) => {
                        if let Some(o) = check_version(&format!("parser {name:?}"), p.version, *v) {
                            return o;
                        }
                    }
                    (None, None) => {}
                }
                r.parsers.insert(
                    name.clone(),
                    Parser {
                        name: name.clone(),
                        script: script.clone(),
                        version: offset,
                    },
                );
            }
            DeleteParser { repo, name } => {
                let removed = self
                    .repositories
                    .get_mut(repo)
                    .and_then(|r| r.parsers.remove(name));
                if removed.is_none() {
                    reject!("parser {name:?} does not exist in {repo:?}");
                }
            }
            PutItem {
                repo,
                kind,
                id,
                name,
                body,
                expected_version,
            } => {
                let Some(r) = self.repositories.get_mut(repo) else {
                    reject!("repository {repo:?} does not exist");
                };
                let items = r.items.entry(*kind).or_default();
                match (items.get(id), expected_version) {
                    (Some(_), None) => reject!("{kind:?} {id:?} already exists in {repo:?}"),
                    (None, Some(_)) => reject!("{kind:?} {id:?} does not exist in {repo:?}"),
                    (Some(i), Some(v)) => {
                        if let Some(o) = check_version(&format!("{kind:?} {id:?}"), i.version, *v) {
                            return o;
                        }
                    }
                    (None, None) => {}
                }
                items.insert(
                    id.clone(),
                    Item {
                        id: id.clone(),
                        name: name.clone(),
                        body: body.clone(),
                        version: offset,
                    },
                );
            }
            DeleteItem { repo, kind, id } => {
                let removed = self
                    .repositories
                    .get_mut(repo)
                    .and_then(|r| r.items.get_mut(kind))
                    .and_then(|m| m.remove(id));
                if removed.is_none() {
                    reject!("{kind:?} {id:?} does not exist in {repo:?}");
                }
            }
            RegisterNode { id, url, zone } => {
                // Re-registering (a restart, a new URL) is an update, not a duplicate.
                self.nodes.insert(
                    *id,
                    Node {
                        id: *id,
                        url: url.clone(),
                        zone: zone.clone(),
                        state: NodeState::Running,
                        version: offset,
                    },
                );
            }
            SetNodeState { id, state } => {
                let Some(n) = self.nodes.get_mut(id) else {
                    reject!("node {id} is not registered");
                };
                n.state = *state;
                n.version = offset;
            }
            SetPartitionNodes {
                partition,
                nodes,
                expected_version,
            } => {
                let p = self.partitions.entry(*partition).or_default();
                if let Some(o) = check_version(
                    &format!("partition {partition}"),
                    p.version,
                    *expected_version,
                ) {
                    return o;
                }
                p.nodes = nodes.clone();
                p.version = offset;
            }
            SetReplicationFactor { factor } => {
                if *factor == 0 {
                    reject!("replication factor must be at least 1");
                }
                self.replication_factor = *factor;
            }
            AddSegment { .. } | ReplaceSegments { .. } => {
                return self.apply_owned(offset, event.clone());
            }
            AddSegmentHolder { id, node } => {
                let Some(s) = self.segments.get_mut(id) else {
                    reject!("segment {id:?} does not exist");
                };
                s.nodes.insert(*node);
                s.version = offset;
            }
            RemoveSegmentHolder { id, node } => {
                let Some(s) = self.segments.get_mut(id) else {
                    reject!("segment {id:?} does not exist");
                };
                if !s.nodes.remove(node) {
                    reject!("node {node} does not hold segment {id:?}");
                }
                s.version = offset;
            }
            SetSegmentInBucket { id, key } => {
                let Some(s) = self.segments.get_mut(id) else {
                    reject!("segment {id:?} does not exist");
                };
                s.bucket_key = Some(key.clone());
                s.version = offset;
            }
            DeleteSegments { ids } => {
                for id in ids {
                    self.segments.remove(id);
                }
            }
            SetSafeOffset {
                partition,
                offset: o,
            } => {
                let p = self.partitions.entry(*partition).or_default();
                if *o < p.safe_offset {
                    reject!(
                        "safe offset of partition {partition} cannot move back from {} to {o}",
                        p.safe_offset
                    );
                }
                p.safe_offset = *o;
            }
            SetTruncatedOffset {
                partition,
                offset: o,
            } => {
                let p = self.partitions.entry(*partition).or_default();
                if *o > p.safe_offset {
                    reject!(
                        "cannot truncate partition {partition} at {o}, above its safe offset {}",
                        p.safe_offset
                    );
                }
                p.truncated_offset = p.truncated_offset.max(*o);
            }
        }
        Outcome::Applied
    }

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

    /// The user owning the API token whose hash is `hash`.
    pub fn user_by_api_token_hash(&self, hash: &str) -> Option<&User> {
        self.api_tokens
            .values()
            .find(|t| t.token_hash == hash)
            .and_then(|t| self.users.get(&t.username))
    }
}
