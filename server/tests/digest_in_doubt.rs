//! A segment announcement whose append to `global-events` errs may still have been committed
//! (a raft leader dying after replicating it, a Kafka produce whose ack was lost). The digest
//! must not answer that with a fresh segment id: that stored the events twice and left the
//! first segment listed in Global with its file deleted. These tests put a log that fails in
//! both ways under a real digest task and check each event lands exactly once, in a segment
//! whose file exists.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strata::digest::{run_partition, DigestConfig, Stop, WipRegistry};
use strata::ingest::{IngestRecord, QueuedEvent};
use strata::queue::embedded::EmbeddedQueue;
use strata::queue::{Queue, GLOBAL_TOPIC, INGEST_TOPIC};
use strata::store::SegmentStore;
use strata_global::{
    BoxFuture, Global, GlobalError, GlobalEvent, GlobalLog, MemoryLog, Records, Snapshot, State,
};
use tokio::sync::watch;

/// How the first segment announcements fail.
#[derive(Clone, Copy, PartialEq)]
enum Fault {
    /// The record is committed, but the caller is told the append failed.
    CommittedThenErr,
    /// The append fails and nothing is written.
    ErrNothingWritten,
}

/// A `MemoryLog` whose first `failures` appends of an `AddSegment` fail as `fault` says.
struct InDoubtLog {
    inner: MemoryLog,
    fault: Fault,
    failures: usize,
    failed: AtomicUsize,
}

impl GlobalLog for InDoubtLog {
    fn append(&self, record: Vec<u8>) -> BoxFuture<'_, strata_global::Result<u64>> {
        Box::pin(async move {
            let is_segment = matches!(
                strata_global::event::decode(0, &record),
                Ok(GlobalEvent::AddSegment { .. })
            );
            if is_segment && self.failed.load(Ordering::SeqCst) < self.failures {
                self.failed.fetch_add(1, Ordering::SeqCst);
                if self.fault == Fault::CommittedThenErr {
                    self.inner.append(record).await?;
                }
                return Err(GlobalError::Log("injected: append outcome unknown".into()));
            }
            self.inner.append(record).await
        })
    }

    fn read(&self, from: u64, max: usize) -> BoxFuture<'_, strata_global::Result<Records>> {
        self.inner.read(from, max)
    }

    fn end_offset(&self) -> BoxFuture<'_, strata_global::Result<u64>> {
        self.inner.end_offset()
    }
}

const EVENTS: usize = 50;

/// Waits until Global lists at least `want` events in segments.
async fn wait_stored(global: &Global, want: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let stored: u64 = global.read(|s| s.segments.values().map(|s| s.event_count).sum());
        if stored >= want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the digest stored {stored} of {want} events within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Digests `EVENTS` events arriving in `waves` while the first `failures` announcements fail.
async fn digest_through(fault: Fault, failures: usize, waves: usize) {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(InDoubtLog {
        inner: MemoryLog::new(),
        fault,
        failures,
        failed: AtomicUsize::new(0),
    });
    let global = Global::start(
        log.clone(),
        Snapshot {
            next_offset: 0,
            state: State::default(),
        },
    );
    global
        .publish(GlobalEvent::CreateRepository {
            name: "r".into(),
            description: String::new(),
        })
        .await
        .unwrap();

    let queue: Arc<dyn Queue> = Arc::new(
        EmbeddedQueue::open(
            &dir.path().join("queue"),
            &[(INGEST_TOPIC, 1), (GLOBAL_TOPIC, 1)],
        )
        .unwrap(),
    );
    let store = Arc::new(SegmentStore::open(&dir.path().join("segments")).unwrap());
    let cfg = DigestConfig {
        node_id: 1,
        store: store.clone(),
        mini_max_bytes: 64 << 20,
        mini_max_age: Duration::from_millis(200),
        max_pinned_bytes: u64::MAX,
        max_pinned_age: Duration::from_secs(3600),
    };
    let (tx, rx) = watch::channel(Stop::Run);
    let task = tokio::spawn(run_partition(
        0,
        cfg,
        queue.clone(),
        global.clone(),
        Arc::new(WipRegistry::new(1)),
        rx,
    ));

    // One wave per expected announcement: each closes its own buffer (mini_max_age) first.
    let tags: BTreeMap<String, String> = [("host".to_string(), "a".to_string())].into();
    for wave in 0..waves {
        for i in (wave * EVENTS / waves)..((wave + 1) * EVENTS / waves) {
            let rec = IngestRecord {
                repo: "r".into(),
                tags: tags.clone(),
                ingest_timestamp: 1_700_000_000_000,
                events: vec![QueuedEvent {
                    timestamp: 1_700_000_000_000 + i as i64,
                    nanos: 0,
                    raw: format!("event {i}"),
                    fields: Vec::new(),
                }],
            };
            queue
                .append(INGEST_TOPIC, 0, vec![rec.encode()])
                .await
                .unwrap();
        }
        let want = ((wave + 1) * EVENTS / waves) as u64;
        wait_stored(&global, want).await;
    }
    assert_eq!(
        log.failed.load(Ordering::SeqCst),
        failures,
        "every injected failure was hit"
    );
    // Give a wrong retry (a second segment for the same events) time to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tx.send(Stop::Flush).unwrap();
    task.await.unwrap();

    let segments: Vec<(String, u64)> = global.read(|s| {
        s.segments
            .values()
            .map(|s| (s.id.to_string(), s.event_count))
            .collect()
    });
    let total: u64 = segments.iter().map(|s| s.1).sum();
    assert_eq!(
        total, EVENTS as u64,
        "each event is stored exactly once; Global lists {segments:?}"
    );
    for (id, _) in &segments {
        assert!(
            store.path(id).exists(),
            "segment {id} is listed in Global but its file is gone"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_committed_but_reported_failed_is_not_stored_twice() {
    digest_through(Fault::CommittedThenErr, 1, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_in_doubt_announcements_still_land_once() {
    digest_through(Fault::CommittedThenErr, 3, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_that_was_not_written_is_retried() {
    digest_through(Fault::ErrNothingWritten, 3, 1).await;
}
