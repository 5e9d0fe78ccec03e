//! Errors of the Global crate.

/// Result alias for the Global crate.
pub type Result<T, E = GlobalError> = std::result::Result<T, E>;

/// What can go wrong reading, applying or persisting Global.
#[derive(Debug, thiserror::Error)]
pub enum GlobalError {
    /// A `global-events` record could not be decoded. The node stops applying here: skipping
    /// a record would fork this node's state from every other node's.
    #[error("global-events record at offset {offset} cannot be decoded: {reason}")]
    Decode { offset: u64, reason: String },
    /// The log backend failed (the server maps its queue errors to this).
    #[error("global log: {0}")]
    Log(String),
    /// A snapshot file is unreadable or fails its checksum.
    #[error("snapshot {path}: {reason}")]
    Snapshot { path: String, reason: String },
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The follower stopped (after a decode error, or shutdown); no more events apply.
    #[error("global state is halted: {0}")]
    Halted(String),
}
