//! The ingest queue seam: ordered, durable, partitioned logs ("topics" of partitions with dense
//! offsets). Two implementations: [`embedded`] (files in the data dir, the single-node
//! default), [`kafka`] (rdkafka) and [`raft`] (replicated between Strata nodes with openraft,
//! a cluster without Kafka). All pass the same conformance suite
//! (`server/tests/queue_conformance.rs`). `humio-ingest` carries ingested events,
//! `global-events` carries Global's log.

pub mod embedded;
pub mod kafka;
pub mod raft;

use std::sync::Arc;

use strata_global::BoxFuture;

pub const INGEST_TOPIC: &str = "humio-ingest";
pub const GLOBAL_TOPIC: &str = "global-events";
pub const CHATTER_TOPIC: &str = "transientChatter-events";

/// Records read from a partition: `(offset, payload)` in offset order.
pub type Records = Vec<(u64, Vec<u8>)>;

/// Queue failures, mapped to 503 by the ingest API.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    #[error("unknown topic-partition {topic}/{partition}")]
    UnknownPartition { topic: String, partition: u32 },
    #[error("offset {offset} of {topic}/{partition} was truncated (log starts at {start})")]
    Truncated {
        topic: String,
        partition: u32,
        offset: u64,
        start: u64,
    },
    #[error("corrupt queue data in {0}")]
    Corrupt(String),
    #[error("queue i/o error: {0}")]
    Io(#[from] std::io::Error),
}

pub type QueueResult<T> = Result<T, QueueError>;

/// What a truncation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncation {
    /// Records below this offset are gone (may be lower than asked: whole files only).
    Done { start: u64 },
    /// The backend cannot delete records (e.g. a broker without DeleteRecords).
    Unsupported,
}

/// A partitioned, durable log.
pub trait Queue: Send + Sync + 'static {
    /// Number of partitions of `topic`.
    fn partitions(&self, topic: &str) -> u32;

    /// Appends `records` to one partition; resolves only once they are durable (fsync or
    /// broker acks=all), with the offset of the first.
    fn append(
        &self,
        topic: &str,
        partition: u32,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, QueueResult<u64>>;

    /// Up to `max` records from `from`; empty when none is there yet (after waiting briefly).
    fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> BoxFuture<'_, QueueResult<Records>>;

    /// Offset the next append to the partition gets.
    fn end_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>>;

    /// First offset still held.
    fn start_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>>;

    /// Deletes records below `below` (never at or above it).
    fn truncate(
        &self,
        topic: &str,
        partition: u32,
        below: u64,
    ) -> BoxFuture<'_, QueueResult<Truncation>>;

    /// The raft queue behind this handle, for the internal API's raft routes.
    fn raft(&self) -> Option<&raft::RaftQueue> {
        None
    }
}

/// A `GlobalLog` over partition 0 of `global-events`.
pub struct QueueGlobalLog {
    pub queue: Arc<dyn Queue>,
}

impl strata_global::GlobalLog for QueueGlobalLog {
    fn append(&self, record: Vec<u8>) -> BoxFuture<'_, strata_global::Result<u64>> {
        Box::pin(async move {
            self.queue
                .append(GLOBAL_TOPIC, 0, vec![record])
                .await
                .map_err(|e| strata_global::GlobalError::Log(e.to_string()))
        })
    }

    fn read(
        &self,
        from: u64,
        max: usize,
    ) -> BoxFuture<'_, strata_global::Result<strata_global::Records>> {
        Box::pin(async move {
            self.queue
                .read(GLOBAL_TOPIC, 0, from, max)
                .await
                .map_err(|e| strata_global::GlobalError::Log(e.to_string()))
        })
    }

    fn end_offset(&self) -> BoxFuture<'_, strata_global::Result<u64>> {
        Box::pin(async move {
            self.queue
                .end_offset(GLOBAL_TOPIC, 0)
                .await
                .map_err(|e| strata_global::GlobalError::Log(e.to_string()))
        })
    }
}
