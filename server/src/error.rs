//! What kind of failure an error is, the one vocabulary every boundary shares: the HTTP API
//! maps a kind to a status code in one place (`api/error.rs`), and the internal API carries
//! the kind across the wire so a remote node's limit error stays a limit error instead of
//! looking like a failed node.

use serde::{Deserialize, Serialize};

/// The kind of a failure, as a client or another node must treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    /// The request or query is wrong (a parse error, an unknown function, a bad parameter).
    BadInput,
    /// The query is valid but needs more than a configured limit allows.
    Limit,
    /// What was asked for does not exist (or is not on this node).
    NotFound,
    /// No or an unknown credential.
    Unauthorized,
    /// A known caller without the permission.
    Forbidden,
    /// The caller cancelled the work.
    Cancelled,
    /// A dependency (queue, bucket, another node) cannot do its part right now.
    Unavailable,
    /// A bug or corrupt data on the server's side.
    Internal,
}

impl ErrorKind {
    /// True when the caller caused it: retrying the same request fails the same way.
    pub fn is_client_error(self) -> bool {
        matches!(
            self,
            ErrorKind::BadInput
                | ErrorKind::Limit
                | ErrorKind::NotFound
                | ErrorKind::Unauthorized
                | ErrorKind::Forbidden
                | ErrorKind::Cancelled
        )
    }
}
