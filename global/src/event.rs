//! The events of the `global-events` log and their wire encoding. Every change to metadata is
//! one of these; nothing else changes Global's state.

use std::collections::BTreeMap;
use std::sync::Arc;

pub use compact_str::CompactString;

use serde::{Deserialize, Serialize};

use crate::error::{GlobalError, Result};
pub use crate::segments::NodeSet;

/// A datasource's tag values by tag name, shared by every segment of the datasource.
pub type Tags = Arc<BTreeMap<String, String>>;

/// Version byte that starts every record on the log.
pub const RECORD_VERSION: u8 = 1;

/// Retention settings of a repository; `None` keeps forever.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub max_age_days: Option<u64>,
    pub max_compressed_bytes: Option<u64>,
    pub max_uncompressed_bytes: Option<u64>,
}

/// Metadata of one segment file (never its events). Serialised with short keys: snapshots hold
/// millions of these, and the key names would otherwise be most of the snapshot's bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    /// Short (`{node}-p{partition}-{hex}`), so stored inline without an allocation.
    pub id: CompactString,
    #[serde(rename = "r")]
    pub repo: CompactString,
    /// Shared with the datasource (and every other segment of it): one copy per datasource.
    #[serde(rename = "t", deserialize_with = "crate::segments::deserialize_tags")]
    pub tags: Tags,
    #[serde(rename = "a")]
    pub min_ts: i64,
    #[serde(rename = "b")]
    pub max_ts: i64,
    #[serde(rename = "n")]
    pub event_count: u64,
    #[serde(rename = "rb")]
    pub raw_bytes: u64,
    #[serde(rename = "fb")]
    pub file_bytes: u64,
    /// crc32 of the whole file, to verify copies.
    #[serde(rename = "crc")]
    pub file_crc: u32,
    /// `lz4` or `zstd`.
    #[serde(rename = "c")]
    pub codec: CompactString,
    #[serde(rename = "p")]
    pub partition: u32,
    #[serde(rename = "o1")]
    pub first_offset: u64,
    #[serde(rename = "o2")]
    pub last_offset: u64,
    /// Node ids that hold a verified local copy.
    #[serde(rename = "h")]
    pub nodes: NodeSet,
    /// Object key in the bucket, once uploaded and verified.
    #[serde(default, rename = "k")]
    pub bucket_key: Option<String>,
    #[serde(rename = "m")]
    pub merged: bool,
    /// The merge target this mini belongs to (minis of one target merge into one segment).
    #[serde(default, rename = "mt")]
    pub merge_target: Option<CompactString>,
    /// Wall-clock time the segment file was written (epoch ms), set by its writer.
    #[serde(default, rename = "ct")]
    pub created_ms: i64,
    /// Offset of the event that last changed this segment (set by apply).
    #[serde(default, rename = "v")]
    pub version: u64,
}

/// What kind of object a generic named item is (saved queries, dashboards, alerts, actions,
/// lookup files).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ItemKind {
    SavedQuery,
    Dashboard,
    Alert,
    Action,
    /// A lookup file for `match()`/`readFile()`: id and name are the file name, the body is
    /// the server's JSON with the compressed content (`server/src/lookup/`).
    LookupFile,
}

/// What an API token may do, with LogScale's kinds of token. Permissions are LogScale's names
/// as strings: Global stores them, the server's permission model interprets them, so a new
/// permission never changes the log's encoding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenScope {
    /// A personal API token: everything its user may do.
    #[default]
    Personal,
    /// A sign-in session (UI login): like a personal token, always with an expiry.
    Session,
    /// An organization permissions token: exactly these organization/system permissions.
    Organization { permissions: Vec<String> },
    /// A repository (view) permissions token: these permissions on these repositories only.
    Repositories {
        repos: Vec<String>,
        permissions: Vec<String>,
    },
}

/// One change to Global. Events that change an existing object carry the version they
/// expect (optimistic concurrency); `apply` rejects them when it no longer holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum GlobalEvent {
    CreateRepository {
        name: String,
        description: String,
    },
    UpdateRepository {
        name: String,
        expected_version: u64,
        description: String,
        retention: Retention,
    },
    DeleteRepository {
        name: String,
        expected_version: u64,
    },
    CreateUser {
        username: String,
        is_root: bool,
    },
    /// `token_hash` is the hex SHA-256 of the token; the clear token is never on the log.
    AddApiToken {
        username: String,
        token_id: String,
        token_hash: String,
    },
    RemoveApiToken {
        token_id: String,
    },
    CreateIngestToken {
        repo: String,
        name: String,
        token_hash: String,
        parser: Option<String>,
    },
    SetIngestTokenParser {
        repo: String,
        name: String,
        parser: Option<String>,
        expected_version: u64,
    },
    DeleteIngestToken {
        repo: String,
        name: String,
    },
    /// Create (expected_version `None`) or replace a parser.
    PutParser {
        repo: String,
        name: String,
        script: String,
        expected_version: Option<u64>,
    },
    DeleteParser {
        repo: String,
        name: String,
    },
    /// Create (expected_version `None`) or replace a saved query, dashboard, alert or action.
    PutItem {
        repo: String,
        kind: ItemKind,
        id: String,
        name: String,
        body: String,
        expected_version: Option<u64>,
    },
    DeleteItem {
        repo: String,
        kind: ItemKind,
        id: String,
    },
    RegisterNode {
        id: u32,
        url: String,
        zone: Option<String>,
    },
    SetNodeState {
        id: u32,
        state: NodeState,
    },
    /// Ordered node list (primary first) for an ingest partition.
    SetPartitionNodes {
        partition: u32,
        nodes: Vec<u32>,
        expected_version: u64,
    },
    SetReplicationFactor {
        factor: u32,
    },
    /// A new segment, with the digest state that makes it exactly-once: the partition's new
    /// safe offset and the datasource's high-water offset on that partition.
    AddSegment {
        segment: SegmentInfo,
        safe_offset: Option<u64>,
    },
    /// Merge swap: `remove` must all exist, then `add` replaces them.
    ReplaceSegments {
        remove: Vec<String>,
        add: SegmentInfo,
    },
    AddSegmentHolder {
        id: String,
        node: u32,
    },
    RemoveSegmentHolder {
        id: String,
        node: u32,
    },
    SetSegmentInBucket {
        id: String,
        key: String,
    },
    DeleteSegments {
        ids: Vec<String>,
    },
    /// Advances the offset below which a partition's events are all in durable segments.
    SetSafeOffset {
        partition: u32,
        offset: u64,
    },
    /// Records that the queue was truncated below `offset`.
    SetTruncatedOffset {
        partition: u32,
        offset: u64,
    },
    /// A user with LogScale's `addUserV2` fields (`CreateUser` is the older form).
    CreateUserV2 {
        username: String,
        is_root: bool,
        full_name: Option<String>,
        email: Option<String>,
    },
    UpdateUser {
        username: String,
        expected_version: u64,
        is_root: bool,
        full_name: Option<String>,
        email: Option<String>,
    },
    /// Removes a user with their personal tokens, sessions and group memberships.
    RemoveUser {
        username: String,
    },
    /// `password_hash` is an Argon2id PHC string (never the password); empty removes it.
    SetUserPassword {
        username: String,
        password_hash: String,
    },
    /// An API token of any kind (personal, session, organization, repository); removed with
    /// `RemoveApiToken`. `username` is the owner (personal, session) or the creator.
    CreateToken {
        token_id: String,
        name: String,
        username: String,
        scope: TokenScope,
        token_hash: String,
        created_ms: i64,
        expires_ms: Option<i64>,
    },
    AddGroup {
        id: String,
        name: String,
    },
    RemoveGroup {
        id: String,
    },
    AddUsersToGroup {
        group_id: String,
        usernames: Vec<String>,
    },
    RemoveUsersFromGroup {
        group_id: String,
        usernames: Vec<String>,
    },
    /// Create (expected_version `None`) or replace a role.
    PutRole {
        id: String,
        name: String,
        view_permissions: Vec<String>,
        organization_permissions: Vec<String>,
        system_permissions: Vec<String>,
        expected_version: Option<u64>,
    },
    RemoveRole {
        id: String,
    },
    /// Gives a group a role on one repository (`repo`), or organization-wide (`None`).
    AssignRole {
        group_id: String,
        role_id: String,
        repo: Option<String>,
    },
    UnassignRole {
        group_id: String,
        role_id: String,
        repo: Option<String>,
    },
    /// A view (LogScale): a search domain over the events of its connected repositories, each
    /// kept by its connection's filter. Its name is unique among repositories and views.
    CreateView {
        name: String,
        description: String,
        connections: Vec<ViewConnection>,
    },
    /// Replaces a view's description and connections.
    UpdateView {
        name: String,
        expected_version: u64,
        description: String,
        connections: Vec<ViewConnection>,
    },
    /// Deletes a view and the grants on it (never the repositories' events).
    DeleteView {
        name: String,
        expected_version: u64,
    },
}

/// One repository of a view and the filter (a query without aggregates, empty: every event)
/// its events pass before the view's query sees them (LogScale's `ViewConnection`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ViewConnection {
    pub repository_name: String,
    pub filter: String,
}

/// Liveness of a node as last published.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeState {
    Running,
    Offline,
    Draining,
}

fn config() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Encodes an event as a `global-events` record: version byte, then bincode.
pub fn encode(event: &GlobalEvent) -> Vec<u8> {
    let mut out = vec![RECORD_VERSION];
    // Serialising plain data into a Vec cannot fail.
    if let Ok(b) = bincode::serde::encode_to_vec(event, config()) {
        out.extend_from_slice(&b);
    }
    out
}

/// Decodes a record read at `offset`; errors name the offset.
pub fn decode(offset: u64, record: &[u8]) -> Result<GlobalEvent> {
    let err = |reason: String| GlobalError::Decode { offset, reason };
    let (&version, body) = record
        .split_first()
        .ok_or_else(|| err("empty record".into()))?;
    if version != RECORD_VERSION {
        return Err(err(format!(
            "unknown record version {version} (this build reads {RECORD_VERSION})"
        )));
    }
    let cfg = config().with_limit::<{ 64 << 20 }>();
    let (ev, used) = bincode::serde::decode_from_slice::<GlobalEvent, _>(body, cfg)
        .map_err(|e| err(e.to_string()))?;
    if used != body.len() {
        return Err(err(format!("{} trailing bytes", body.len() - used)));
    }
    Ok(ev)
}
