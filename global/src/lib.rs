//! Global: Strata's event-sourced metadata database. Every change is a [`GlobalEvent`]
//! appended to the `global-events` log; every node replays that log through the pure
//! [`State::apply`] into the same in-memory [`State`]. Snapshots let a restart replay only
//! newer events. The crate does no network I/O: the server provides a [`GlobalLog`].

mod error;
pub mod event;
mod handle;
pub mod log;
mod segments;
pub mod snapshot;
mod state;

pub use error::{GlobalError, Result};
pub use event::{
    GlobalEvent, ItemKind, NodeSet, NodeState, Retention, SegmentInfo, Tags, TokenScope,
    ViewConnection,
};
pub use handle::Global;
pub use log::{BoxFuture, GlobalLog, MemoryLog, Records};
pub use segments::SegmentMap;
pub use snapshot::Snapshot;
pub use state::{
    datasource_key, ApiToken, DatasourceInfo, Group, IngestToken, Item, Items, Node, Outcome,
    Parser, PartitionInfo, Repository, Role, RoleAssignment, State, User, View,
};

/// Hex SHA-256 of a secret token: how tokens are stored and looked up.
pub fn hash_token(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(token.as_bytes()))
}
