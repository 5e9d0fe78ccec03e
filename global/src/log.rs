//! The `GlobalLog` seam: an ordered, durable log of records. The server implements it over
//! its queue (embedded or Kafka); this crate does no network I/O. `MemoryLog` is for tests,
//! and [`conformance`] is the suite every implementation must pass.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::error::{GlobalError, Result};

/// A boxed future, so `GlobalLog` can be used as a trait object.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Records read from a log: `(offset, bytes)` in offset order.
pub type Records = Vec<(u64, Vec<u8>)>;

/// An append-only log of records with dense offsets starting at 0.
pub trait GlobalLog: Send + Sync + 'static {
    /// Appends a record durably and returns its offset.
    fn append(&self, record: Vec<u8>) -> BoxFuture<'_, Result<u64>>;

    /// Records at offsets `from..`, at most `max`, in order. Returns an empty list when no
    /// record at `from` exists yet (it may wait a short while for one first). Offsets below
    /// the log's start are an error.
    fn read(&self, from: u64, max: usize) -> BoxFuture<'_, Result<Records>>;

    /// The offset the next append will get (the log's end).
    fn end_offset(&self) -> BoxFuture<'_, Result<u64>>;
}

/// In-memory log for tests.
#[derive(Clone, Default)]
pub struct MemoryLog {
    records: Arc<Mutex<Vec<Vec<u8>>>>,
    notify: Arc<tokio::sync::Notify>,
}

impl MemoryLog {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records appended.
    pub fn len(&self) -> usize {
        self.records.lock().map(|r| r.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl GlobalLog for MemoryLog {
    fn append(&self, record: Vec<u8>) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move {
            let mut r = self
                .records
                .lock()
                .map_err(|_| GlobalError::Log("memory log poisoned".into()))?;
            r.push(record);
            let off = r.len() as u64 - 1;
            drop(r);
            self.notify.notify_waiters();
            Ok(off)
        })
    }

    fn read(&self, from: u64, max: usize) -> BoxFuture<'_, Result<Records>> {
        Box::pin(async move {
            for attempt in 0..2 {
                let notified = self.notify.notified();
                {
                    let r = self
                        .records
                        .lock()
                        .map_err(|_| GlobalError::Log("memory log poisoned".into()))?;
                    let out: Vec<_> = r
                        .iter()
                        .enumerate()
                        .skip(from as usize)
                        .take(max)
                        .map(|(i, rec)| (i as u64, rec.clone()))
                        .collect();
                    if !out.is_empty() || attempt == 1 {
                        return Ok(out);
                    }
                }
                let _ = tokio::time::timeout(std::time::Duration::from_millis(50), notified).await;
            }
            Ok(Vec::new())
        })
    }

    fn end_offset(&self) -> BoxFuture<'_, Result<u64>> {
        Box::pin(async move { Ok(self.len() as u64) })
    }
}

/// The conformance suite for `GlobalLog` implementations. `make` must return an empty log.
pub mod conformance {
    use super::*;

    /// Runs every check; panics with a message naming the broken contract.
    pub async fn run<L: GlobalLog>(make: impl Fn() -> L) {
        offsets_are_dense_from_zero(make()).await;
        read_returns_what_was_appended(make()).await;
        read_past_end_is_empty(make()).await;
        concurrent_appends_get_distinct_offsets(Arc::new(make())).await;
    }

    async fn offsets_are_dense_from_zero<L: GlobalLog>(log: L) {
        for i in 0..10u64 {
            let off = log.append(vec![i as u8]).await.expect("append");
            assert_eq!(off, i, "offsets must be dense from 0");
        }
    }

    async fn read_returns_what_was_appended<L: GlobalLog>(log: L) {
        for i in 0..25u8 {
            log.append(vec![i; i as usize + 1]).await.expect("append");
        }
        let mut got = Vec::new();
        let mut from = 0;
        while got.len() < 25 {
            let batch = log.read(from, 7).await.expect("read");
            assert!(batch.len() <= 7, "read must honour max");
            assert!(!batch.is_empty(), "appended records must be readable");
            for (off, rec) in batch {
                assert_eq!(off, from, "records come back in offset order");
                from += 1;
                got.push(rec);
            }
        }
        for (i, r) in got.iter().enumerate() {
            assert_eq!(r, &vec![i as u8; i + 1], "record {i} must round-trip");
        }
        let mid = log.read(10, 1).await.expect("read");
        assert_eq!(mid[0].0, 10, "read from the middle starts at `from`");
    }

    async fn read_past_end_is_empty<L: GlobalLog>(log: L) {
        assert_eq!(
            log.end_offset().await.expect("end"),
            0,
            "a new log is empty"
        );
        log.append(b"x".to_vec()).await.expect("append");
        assert_eq!(
            log.end_offset().await.expect("end"),
            1,
            "end follows appends"
        );
        assert!(log.read(1, 10).await.expect("read").is_empty());
        assert!(log.read(100, 10).await.expect("read").is_empty());
    }

    async fn concurrent_appends_get_distinct_offsets<L: GlobalLog>(log: Arc<L>) {
        let mut tasks = Vec::new();
        for t in 0..4u8 {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut offs = Vec::new();
                for i in 0..20u8 {
                    offs.push(log.append(vec![t, i]).await.expect("append"));
                }
                offs
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        all.sort_unstable();
        assert_eq!(
            all,
            (0..80).collect::<Vec<u64>>(),
            "every append gets its own offset"
        );
    }
}
