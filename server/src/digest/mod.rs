//! Digest: turns `humio-ingest` partitions into mini segments. Guarantee: no acknowledged
//! event is lost and none is stored twice. Events wait in per-datasource work-in-progress
//! (WIP) buffers, which searches see at once; a buffer is closed into an LZ4 mini segment at a
//! size or age limit. The segment is fsynced first, then announced in Global together with the
//! partition's new safe offset (the lowest offset still only in a WIP buffer) and the
//! datasource's high-water offset. After a crash digest resumes from the safe offset and skips
//! events at or below their datasource's high-water mark, so re-read events land exactly once.
//!
//! The WIP buffer stays visible to searches until Global holds the segment; searches take the
//! partition's WIP read lock before reading Global's segment list, and the flush publishes to
//! Global under the write lock, so a search sees an event in exactly one of the two places.
//!
//! The safe offset cannot pass the oldest open buffer, so one quiet datasource would keep the
//! whole partition in the queue until its buffer ages out (`--mini-max-age-secs`, 30 min). The
//! digest therefore counts the queue bytes each buffer holds back ("pinned": read since the
//! oldest buffer opened) and closes the oldest buffer early once that passes
//! `--max-pinned-queue-bytes`, or once it has held other datasources' data back for
//! `--max-pinned-queue-secs`; the count is `strata_digest_pinned_queue_bytes` on `/metrics`.
//!
//! `manager.rs` starts and stops the per-partition tasks as primaries move.

mod manager;

pub use manager::run_digest_manager;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_global::{datasource_key, Global, GlobalEvent};
use strata_segment::{Datasource, Event, EventId, SegmentWriter, WriterOptions};
use tokio::sync::{watch, RwLock};

use crate::ingest::IngestRecord;
use crate::queue::{Queue, QueueError, INGEST_TOPIC};

/// One datasource's events not yet in a segment.
pub struct WipBuffer {
    pub datasource: Datasource,
    /// Events in queue order, one chunk per queue record: searches copy the chunk list (cheap)
    /// under the lock and scan it after releasing the lock, so digest is never held up.
    pub chunks: Vec<Arc<Vec<Event>>>,
    pub first_offset: u64,
    pub last_offset: u64,
    pub bytes: u64,
    opened: Instant,
    /// The digest's queue-byte count when this buffer's first record was read: everything
    /// read since is held in the queue by this buffer while it is the oldest.
    pin_mark: u64,
    /// Queue bytes of this buffer's own records.
    queue_bytes: u64,
}

/// How a digest task is asked to stop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// Keep digesting.
    Run,
    /// Node shutdown: close every WIP buffer into a segment first.
    Flush,
    /// The partition moved to another node: drop the WIP (the new primary re-reads it from
    /// the safe offset; Global would refuse our segments anyway).
    Abandon,
}

/// Work in progress of one partition.
#[derive(Default)]
pub struct PartitionWip {
    pub buffers: HashMap<String, WipBuffer>,
}

/// WIP of every partition this node digests, shared with search.
pub struct WipRegistry {
    pub partitions: Vec<RwLock<PartitionWip>>,
    /// Live queries, fed with each event as it enters WIP.
    pub live: crate::search::live::LiveHub,
}

impl WipRegistry {
    pub fn new(partitions: u32) -> Self {
        WipRegistry {
            partitions: (0..partitions)
                .map(|_| RwLock::new(PartitionWip::default()))
                .collect(),
            live: Default::default(),
        }
    }
}

/// Settings of the digest.
#[derive(Clone)]
pub struct DigestConfig {
    pub node_id: u32,
    pub store: Arc<crate::store::SegmentStore>,
    pub mini_max_bytes: u64,
    pub mini_max_age: Duration,
    /// Close the oldest WIP buffer once it holds this many queue bytes back from truncation.
    pub max_pinned_bytes: u64,
    /// Close the oldest WIP buffer once it has held other data back for this long.
    pub max_pinned_age: Duration,
}

impl DigestConfig {
    /// The digest settings of a node's configuration.
    pub fn new(cfg: &crate::config::Config, store: Arc<crate::store::SegmentStore>) -> Self {
        DigestConfig {
            node_id: cfg.node_id,
            store,
            mini_max_bytes: cfg.mini_max_bytes,
            mini_max_age: Duration::from_secs(cfg.mini_max_age_secs),
            max_pinned_bytes: cfg.limits.max_pinned_queue_bytes,
            max_pinned_age: Duration::from_secs(cfg.limits.max_pinned_queue_secs),
        }
    }
}

/// Queue bytes a record occupies: its payload plus the embedded queue's 8-byte frame.
fn queue_size(payload: usize) -> u64 {
    payload as u64 + 8
}

struct PartitionDigest {
    partition: u32,
    cfg: DigestConfig,
    queue: Arc<dyn Queue>,
    global: Global,
    wip: Arc<WipRegistry>,
    next: u64,
    /// Highest offset per datasource already in a segment (from Global at start).
    high_water: HashMap<String, u64>,
    published_safe: u64,
    /// Global refused our segment because the partition moved: stop, drop the WIP.
    fenced: bool,
    /// Queue bytes read since this task started at the safe offset (the pin marks' clock).
    read_bytes: u64,
    /// How the task is asked to stop; a flush stuck announcing gives up on `Stop::Abandon`.
    stop: watch::Receiver<Stop>,
}

/// Runs the digest of `partition` until `stop` says otherwise: on [`Stop::Flush`] it closes
/// every WIP buffer into a segment, on [`Stop::Abandon`] (or when Global fenced it off) it
/// drops them.
pub async fn run_partition(
    partition: u32,
    cfg: DigestConfig,
    queue: Arc<dyn Queue>,
    global: Global,
    wip: Arc<WipRegistry>,
    mut stop: watch::Receiver<Stop>,
) {
    let (safe, high_water) = global.read(|s| {
        let safe = s
            .partitions
            .get(&partition)
            .map(|p| p.safe_offset)
            .unwrap_or(0);
        let hw = s
            .datasources
            .iter()
            .filter_map(|(k, d)| d.high_water.get(&partition).map(|h| (k.clone(), *h)))
            .collect();
        (safe, hw)
    });
    let start = queue
        .start_offset(INGEST_TOPIC, partition)
        .await
        .unwrap_or(0);
    if start > safe {
        tracing::error!(
            partition,
            safe,
            start,
            "queue was truncated above the safe offset; events in between are lost"
        );
    }
    let mut d = PartitionDigest {
        partition,
        cfg,
        queue,
        global,
        wip,
        next: safe.max(start),
        high_water,
        published_safe: safe,
        fenced: false,
        read_bytes: 0,
        stop: stop.clone(),
    };
    tracing::info!(partition, from = d.next, "digest starting");
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    loop {
        if *stop.borrow() != Stop::Run || d.fenced {
            break;
        }
        tokio::select! {
            _ = stop.changed() => {}
            _ = tick.tick() => d.flush_aged().await,
            r = d.queue.read(INGEST_TOPIC, partition, d.next, 64) => match r {
                Ok(records) => d.process(records).await,
                Err(QueueError::Truncated { start, .. }) => {
                    tracing::error!(partition, from = d.next, start, "digest position was truncated away; skipping ahead");
                    d.next = start.max(d.next + 1);
                }
                Err(e) => {
                    tracing::warn!(partition, error = %e, "reading the ingest queue failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
        }
    }
    crate::metrics::PINNED_QUEUE_BYTES.set(partition, 0);
    if d.fenced || *stop.borrow() == Stop::Abandon {
        d.wip.partitions[partition as usize]
            .write()
            .await
            .buffers
            .clear();
        tracing::info!(partition, "digest stopped; partition moved to another node");
        return;
    }
    let keys: Vec<String> = d.wip.partitions[partition as usize]
        .read()
        .await
        .buffers
        .keys()
        .cloned()
        .collect();
    for k in keys {
        d.flush(&k).await;
    }
    tracing::info!(partition, "digest stopped");
}

impl PartitionDigest {
    async fn process(&mut self, records: Vec<(u64, Vec<u8>)>) {
        let Some(&(last, _)) = records.last() else {
            return;
        };
        // Decode outside the WIP lock so searches are never held up by decoding.
        let mut decoded = Vec::with_capacity(records.len());
        for (offset, bytes) in records {
            let mark = self.read_bytes;
            let qbytes = queue_size(bytes.len());
            self.read_bytes += qbytes;
            let rec = match IngestRecord::decode(&bytes) {
                Ok(r) => r,
                Err(e) => {
                    crate::metrics::DIGEST_BAD_RECORDS.inc();
                    tracing::error!(partition = self.partition, offset, error = %e, "skipping undecodable ingest record");
                    continue;
                }
            };
            let key = datasource_key(&rec.repo, &rec.tags);
            if self.high_water.get(&key).is_some_and(|hw| offset <= *hw) {
                continue; // already in a segment: re-read after a restart
            }
            let mut bytes = 0;
            let chunk: Vec<Event> = rec
                .events
                .into_iter()
                .enumerate()
                .map(|(index, e)| {
                    bytes += e.raw.len() as u64;
                    Event {
                        timestamp: e.timestamp,
                        timestamp_nanos: e.nanos.min(999_999),
                        ingest_timestamp: rec.ingest_timestamp,
                        id: EventId {
                            partition: self.partition,
                            offset,
                            index: index as u32,
                        },
                        raw: e.raw,
                        fields: e.fields.into_iter().collect(),
                    }
                })
                .collect();
            crate::metrics::DIGEST_EVENTS.inc_by(chunk.len() as u64);
            decoded.push((
                offset,
                key,
                Datasource {
                    repo: rec.repo,
                    tags: rec.tags,
                },
                bytes,
                (mark, qbytes),
                Arc::new(chunk),
            ));
        }
        self.next = last + 1;
        let mut full = Vec::new();
        {
            let mut wip = self.wip.partitions[self.partition as usize].write().await;
            for (offset, key, ds, bytes, (mark, qbytes), chunk) in decoded {
                let buf = wip.buffers.entry(key.clone()).or_insert_with(|| WipBuffer {
                    datasource: ds,
                    chunks: Vec::new(),
                    first_offset: offset,
                    last_offset: offset,
                    bytes: 0,
                    opened: Instant::now(),
                    pin_mark: mark,
                    queue_bytes: 0,
                });
                buf.last_offset = offset;
                buf.bytes += bytes;
                buf.queue_bytes += qbytes;
                self.wip
                    .live
                    .offer(&buf.datasource.repo, &buf.datasource.tags, &chunk);
                buf.chunks.push(chunk);
                if buf.bytes >= self.cfg.mini_max_bytes && !full.contains(&key) {
                    full.push(key);
                }
            }
        }
        for k in full {
            self.flush(&k).await;
        }
        self.release_pins().await;
        self.maybe_advance_safe().await;
    }

    /// The oldest open buffer (the one the safe offset waits for), the queue bytes it holds
    /// back, and whether it is over a pin limit.
    fn oldest_pin(&self, wip: &PartitionWip) -> Option<(String, u64, bool)> {
        let (key, b) = wip.buffers.iter().min_by_key(|(_, b)| b.pin_mark)?;
        let pinned = self.read_bytes.saturating_sub(b.pin_mark);
        let holds_others = pinned > b.queue_bytes;
        let over = pinned > self.cfg.max_pinned_bytes
            || (holds_others && b.opened.elapsed() >= self.cfg.max_pinned_age);
        Some((key.clone(), pinned, over))
    }

    /// Closes the oldest buffers while they hold more of the queue back than the limits allow,
    /// and publishes the partition's pinned bytes.
    async fn release_pins(&mut self) {
        // Bounded: each round closes one buffer; a failed flush leaves it and ends the round
        // (the next batch or tick retries).
        loop {
            let oldest = {
                let wip = self.wip.partitions[self.partition as usize].read().await;
                self.oldest_pin(&wip)
            };
            let Some((key, pinned, over)) = oldest else {
                crate::metrics::PINNED_QUEUE_BYTES.set(self.partition, 0);
                return;
            };
            crate::metrics::PINNED_QUEUE_BYTES.set(self.partition, pinned);
            if !over || self.fenced {
                return;
            }
            tracing::debug!(
                partition = self.partition,
                pinned,
                "closing the oldest work-in-progress buffer early: it holds the queue back"
            );
            crate::metrics::DIGEST_PIN_RELEASES.inc();
            self.flush(&key).await;
            let still_open = self.wip.partitions[self.partition as usize]
                .read()
                .await
                .buffers
                .contains_key(&key);
            if still_open {
                return;
            }
        }
    }

    /// With no WIP open, everything read so far is in segments: move the safe offset up.
    async fn maybe_advance_safe(&mut self) {
        let empty = self.wip.partitions[self.partition as usize]
            .read()
            .await
            .buffers
            .is_empty();
        let primary = self.global.read(|s| {
            s.partitions
                .get(&self.partition)
                .and_then(|p| p.nodes.first())
                .is_none_or(|n| *n == self.cfg.node_id)
        });
        if empty && primary && self.next > self.published_safe {
            let ev = GlobalEvent::SetSafeOffset {
                partition: self.partition,
                offset: self.next,
            };
            if let Ok((_, o)) = self.global.publish(ev).await {
                if o.is_applied() {
                    self.published_safe = self.next;
                }
            }
        }
    }

    async fn flush_aged(&mut self) {
        let aged: Vec<String> = {
            let wip = self.wip.partitions[self.partition as usize].read().await;
            wip.buffers
                .iter()
                .filter(|(_, b)| b.opened.elapsed() >= self.cfg.mini_max_age)
                .map(|(k, _)| k.clone())
                .collect()
        };
        for k in aged {
            self.flush(&k).await;
        }
        self.release_pins().await;
        self.maybe_advance_safe().await;
    }

    /// Closes one WIP buffer into a mini segment and announces it. If writing the file fails
    /// the buffer stays (the events are still in the queue and in WIP) and the next tick
    /// retries; if the announcement fails, the same segment is announced again until Global
    /// answers.
    async fn flush(&mut self, key: &str) {
        let (ds, mut events, last_offset, first_offset) = {
            let wip = self.wip.partitions[self.partition as usize].read().await;
            let Some(b) = wip.buffers.get(key) else {
                return;
            };
            (
                b.datasource.clone(),
                b.chunks
                    .iter()
                    .flat_map(|c| c.iter().cloned())
                    .collect::<Vec<Event>>(),
                b.last_offset,
                b.first_offset,
            )
        };
        let id = crate::store::SegmentStore::new_mini_id(self.cfg.node_id, self.partition);
        // Until Global has answered, the file is ours alone: keep the sweeper off it.
        let _announcing = self.cfg.store.announcing(&id);
        let path = self.cfg.store.path(&id);
        let write_ds = ds.clone();
        let write_path = path.clone();
        let written = tokio::task::spawn_blocking(move || {
            events.sort_by_key(Event::sort_key);
            let mut w = SegmentWriter::create(&write_path, write_ds, WriterOptions::mini())?;
            for e in events {
                w.push(e)?;
            }
            w.finish()
        })
        .await;
        let summary = match written {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::error!(partition = self.partition, error = %e, "writing mini segment failed; will retry");
                return;
            }
            Err(e) => {
                tracing::error!(partition = self.partition, error = %e, "mini segment writer panicked");
                return;
            }
        };
        let target = format!(
            "{:016x}-p{}",
            strata_segment::hash64(key.as_bytes()),
            self.partition
        );
        let info = crate::merge::NewSegment {
            id: id.clone(),
            repo: ds.repo.clone(),
            tags: ds.tags.clone(),
            partition: self.partition,
            first_offset,
            last_offset,
            node: self.cfg.node_id,
            merged: false,
            merge_target: Some(target),
        }
        .info(&summary);
        let mut wip = self.wip.partitions[self.partition as usize].write().await;
        let safe = wip
            .buffers
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(_, b)| b.first_offset)
            .min()
            .unwrap_or(self.next)
            .min(self.next);
        let event = GlobalEvent::AddSegment {
            segment: info,
            safe_offset: Some(safe),
        };
        // An append that errs may still have been committed (a raft leader dying after
        // replicating it, a Kafka produce in doubt). So an error is never answered with a new
        // segment id, which would store the events twice and leave a segment with no file:
        // the same announcement is retried, with the file kept, until Global has an answer.
        // Only this task adds to the buffer, so it cannot change while we wait.
        let mut backoff = Duration::from_millis(100);
        let outcome = loop {
            match self.global.publish(event.clone()).await {
                Ok((_, o)) if !o.is_applied() && self.landed(key, &id, last_offset) => {
                    break Ok(strata_global::Outcome::Applied)
                }
                Ok((_, o)) => break Ok(o),
                Err(e) if *self.stop.borrow() != Stop::Abandon => {
                    tracing::warn!(partition = self.partition, segment = %id, error = %e,
                        "announcing segment failed; retrying the same segment");
                    drop(wip);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    wip = self.wip.partitions[self.partition as usize].write().await;
                    if self.landed(key, &id, last_offset) {
                        break Ok(strata_global::Outcome::Applied);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        match outcome {
            Ok(o) if o.is_applied() => {
                // Only this task adds to the buffer, so nothing arrived while the file was
                // written: the whole buffer is now in the segment.
                wip.buffers.remove(key);
                self.high_water.insert(key.to_string(), last_offset);
                self.published_safe = self.published_safe.max(safe);
                crate::metrics::DIGEST_SEGMENTS.inc();
            }
            Ok(o) => {
                let _ = self.cfg.store.delete(&id);
                let moved = self.global.read(|s| {
                    s.partitions
                        .get(&self.partition)
                        .and_then(|p| p.nodes.first())
                        .is_some_and(|n| *n != self.cfg.node_id)
                });
                // Global answered after applying everything up to our event, so a missing
                // repository is final: its events were deleted with it. Keeping the buffer
                // would retry forever, freeze the safe offset, and hand the events to a
                // repository of the same name created later.
                let deleted = !self.global.read(|s| s.repositories.contains_key(&ds.repo));
                if moved {
                    tracing::warn!(
                        partition = self.partition,
                        "partition moved to another node; stopping this digest"
                    );
                    self.fenced = true;
                } else if deleted {
                    let dropped = wip
                        .buffers
                        .remove(key)
                        .map(|b| b.chunks.iter().map(|c| c.len()).sum::<usize>())
                        .unwrap_or(0);
                    self.high_water.insert(key.to_string(), last_offset);
                    crate::metrics::DIGEST_DROPPED_EVENTS.inc_by(dropped as u64);
                    tracing::warn!(
                        partition = self.partition,
                        repo = %ds.repo,
                        events = dropped,
                        "dropping a work-in-progress buffer: its repository was deleted"
                    );
                } else {
                    tracing::error!(partition = self.partition, outcome = ?o, "global rejected the new segment");
                }
            }
            Err(e) => {
                // The partition moved while the announcement was in doubt. Keep the file: Global
                // may yet apply it (before the move, so fencing lets it in); if it never does,
                // the sweeper removes the orphan. The new primary skips whatever landed.
                tracing::error!(partition = self.partition, segment = %id, error = %e,
                    "announcing segment failed and the partition moved; leaving it to Global");
            }
        }
    }

    /// Whether Global already holds the events of a segment announced in doubt: the segment
    /// itself, or (merged away since) its datasource's high-water offset at or past its last
    /// event. This task is the only writer of its datasources on this partition, so nothing
    /// else can have moved the mark there.
    fn landed(&self, key: &str, id: &str, last_offset: u64) -> bool {
        self.global.read(|s| {
            s.segments.contains_key(id)
                || s.datasources
                    .get(key)
                    .and_then(|d| d.high_water.get(&self.partition))
                    .is_some_and(|hw| *hw >= last_offset)
        })
    }
}
