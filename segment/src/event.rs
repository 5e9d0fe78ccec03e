//! The event and datasource types stored in segments.

use std::collections::BTreeMap;
use std::fmt;

/// Cluster-unique identity of an event: where it sat in the ingest queue.
///
/// `index` is the event's position inside the queue record (one ingest request may publish
/// several events in one record).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct EventId {
    pub partition: u32,
    pub offset: u64,
    pub index: u32,
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}_{}", self.partition, self.offset, self.index)
    }
}

impl std::str::FromStr for EventId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut it = s.split('_');
        let mut next = |what: &str| {
            it.next()
                .ok_or_else(|| format!("event id {s:?} lacks its {what}"))
        };
        let partition = next("partition")?
            .parse()
            .map_err(|_| format!("event id {s:?} has a bad partition"))?;
        let offset = next("offset")?
            .parse()
            .map_err(|_| format!("event id {s:?} has a bad offset"))?;
        let index = next("index")?
            .parse()
            .map_err(|_| format!("event id {s:?} has a bad index"))?;
        Ok(EventId {
            partition,
            offset,
            index,
        })
    }
}

/// One log event as stored. Field values are strings; numbers are recognised at query time.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Event {
    /// `@timestamp`, epoch milliseconds.
    pub timestamp: i64,
    /// Sub-millisecond part of `@timestamp` in nanoseconds (0..1_000_000).
    pub timestamp_nanos: u32,
    /// When the event was ingested, epoch milliseconds.
    pub ingest_timestamp: i64,
    pub id: EventId,
    /// `@rawstring`.
    pub raw: String,
    /// Named fields other than the `@` built-ins and tags.
    pub fields: BTreeMap<String, String>,
}

impl Event {
    /// The order events have inside a segment: by time, ties broken by queue position.
    pub fn sort_key(&self) -> (i64, u32, EventId) {
        (self.timestamp, self.timestamp_nanos, self.id)
    }
}

/// A repository plus one combination of tag values: the unit a segment belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Datasource {
    pub repo: String,
    /// Tag name (without `#`) to value, sorted by name.
    pub tags: BTreeMap<String, String>,
}

impl fmt::Display for Datasource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.repo)?;
        for (k, v) in &self.tags {
            write!(f, " #{k}={v}")?;
        }
        Ok(())
    }
}

/// A contiguous range of queue offsets (inclusive) on one partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OffsetRange {
    pub partition: u32,
    pub first: u64,
    pub last: u64,
}
