//! Errors of the segment crate. Corruption is kept apart from I/O so callers can quarantine a
//! file and re-fetch it instead of retrying the read.

use std::path::PathBuf;

/// Result alias for the segment crate.
pub type Result<T, E = SegmentError> = std::result::Result<T, E>;

/// Everything that can go wrong writing, reading or merging a segment.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The operating system failed a read or write.
    #[error("i/o error on segment {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The bytes on disk are not a valid segment: bad magic, checksum, length or encoding.
    #[error("corrupt segment {path}{}: {what}", block.map(|b| format!(" block {b}")).unwrap_or_default())]
    Corrupt {
        path: PathBuf,
        block: Option<usize>,
        what: String,
    },
    /// The file was written by a format version this build does not read.
    #[error("segment {path} has format version {version}, this build reads up to {supported}")]
    UnsupportedVersion {
        path: PathBuf,
        version: u16,
        supported: u16,
    },
    /// The caller broke a writer or merge contract (out-of-order events, mixed datasources).
    #[error("invalid use: {0}")]
    Invalid(String),
}

impl SegmentError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        SegmentError::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the file itself is damaged (as opposed to an I/O failure or misuse).
    pub fn is_corruption(&self) -> bool {
        matches!(self, SegmentError::Corrupt { .. })
    }
}
