//! Ingest: turns parsed events into queue records and publishes them. Guarantee: `publish`
//! returns Ok only once every event is durably in the ingest queue (the embedded queue's
//! fsync or Kafka's acks=all); any failure is an error and the API answers 5xx, never 200.
//!
//! Each event is assigned to a datasource (repository + tag values); all events of one
//! datasource go to the same `humio-ingest` partition (a stable hash of the datasource), so
//! one digest owner sees a datasource's events in queue order.
//!
//! Lines become events in [`lines`], with a built-in parser ([`parsers`]) or a repository's
//! parser script ([`script`], which runs the query compiler); the text helpers they share with
//! the query language are in [`crate::text`]. OpenTelemetry log records become events in
//! [`otlp`]; an event's `timezone` is read by [`timezone`]. `api::ingest` only decodes requests.
//! What a request may ask (events, tags, datasources, event size, bytes in flight) is checked
//! in [`limits`] before anything is published.

pub mod limits;
pub mod lines;
pub mod otlp;
pub mod parsers;
pub mod script;
pub mod timezone;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::queue::{Queue, INGEST_TOPIC};

/// One event as it travels through the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedEvent {
    pub timestamp: i64,
    pub nanos: u32,
    pub raw: String,
    pub fields: Vec<(String, String)>,
}

/// One queue record: events of one datasource from one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IngestRecord {
    pub repo: String,
    pub tags: BTreeMap<String, String>,
    pub ingest_timestamp: i64,
    pub events: Vec<QueuedEvent>,
}

const RECORD_VERSION: u8 = 1;
/// Keep records under Kafka's default 1 MB message limit.
const MAX_RECORD_BYTES: usize = 900 << 10;

impl IngestRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![RECORD_VERSION];
        if let Ok(b) = bincode::serde::encode_to_vec(self, bincode::config::standard()) {
            out.extend_from_slice(&b);
        }
        out
    }

    /// Decodes a record; errors say what is wrong (the caller names the offset).
    pub fn decode(bytes: &[u8]) -> Result<IngestRecord, String> {
        let (&v, body) = bytes.split_first().ok_or("empty record")?;
        if v != RECORD_VERSION {
            return Err(format!("unknown ingest record version {v}"));
        }
        let cfg = bincode::config::standard().with_limit::<{ 64 << 20 }>();
        let (r, used) = bincode::serde::decode_from_slice::<IngestRecord, _>(body, cfg)
            .map_err(|e| e.to_string())?;
        if used != body.len() {
            return Err(format!("{} trailing bytes", body.len() - used));
        }
        Ok(r)
    }
}

/// Events for one datasource.
pub struct Batch {
    pub tags: BTreeMap<String, String>,
    pub events: Vec<QueuedEvent>,
}

/// Stable partition of a datasource: the segment format's pinned `hash64` of its key.
pub fn partition_for(repo: &str, tags: &BTreeMap<String, String>, partitions: u32) -> u32 {
    let key = strata_global::datasource_key(repo, tags);
    (strata_segment::hash64(key.as_bytes()) % u64::from(partitions.max(1))) as u32
}

/// Publishes events to the ingest queue.
#[derive(Clone)]
pub struct Ingester {
    pub queue: Arc<dyn Queue>,
    /// The request limits, shared by every clone.
    pub admission: Arc<limits::Admission>,
}

impl Ingester {
    pub fn new(
        queue: Arc<dyn Queue>,
        limits: limits::IngestLimits,
        global: Option<strata_global::Global>,
    ) -> Ingester {
        Ingester {
            queue,
            admission: Arc::new(limits::Admission::new(limits, global)),
        }
    }

    /// Publishes all batches for `repo`; Ok(count) once every event is durable. A request
    /// over a limit is refused whole before anything is published.
    pub async fn publish(
        &self,
        repo: &str,
        mut batches: Vec<Batch>,
        now: i64,
    ) -> Result<usize, limits::IngestError> {
        self.admission.admit(repo, &mut batches)?;
        let partitions = self.queue.partitions(INGEST_TOPIC);
        let mut per_partition: BTreeMap<u32, Vec<Vec<u8>>> = BTreeMap::new();
        let mut count = 0;
        // Merge batches of the same datasource, then cut into records under the size limit.
        let mut by_ds: BTreeMap<BTreeMap<String, String>, Vec<QueuedEvent>> = BTreeMap::new();
        for b in batches {
            by_ds.entry(b.tags).or_default().extend(b.events);
        }
        for (tags, events) in by_ds {
            if events.is_empty() {
                continue;
            }
            count += events.len();
            let p = partition_for(repo, &tags, partitions);
            let mut chunk = Vec::new();
            let mut size = 0;
            for e in events {
                let esize = e.raw.len()
                    + e.fields
                        .iter()
                        .map(|(k, v)| k.len() + v.len() + 4)
                        .sum::<usize>()
                    + 24;
                if !chunk.is_empty() && size + esize > MAX_RECORD_BYTES {
                    per_partition.entry(p).or_default().push(
                        IngestRecord {
                            repo: repo.to_string(),
                            tags: tags.clone(),
                            ingest_timestamp: now,
                            events: std::mem::take(&mut chunk),
                        }
                        .encode(),
                    );
                    size = 0;
                }
                size += esize;
                chunk.push(e);
            }
            per_partition.entry(p).or_default().push(
                IngestRecord {
                    repo: repo.to_string(),
                    tags,
                    ingest_timestamp: now,
                    events: chunk,
                }
                .encode(),
            );
        }
        let appends = per_partition
            .into_iter()
            .map(|(p, records)| self.queue.append(INGEST_TOPIC, p, records));
        for r in futures::future::join_all(appends).await {
            r?;
        }
        Ok(count)
    }
}
