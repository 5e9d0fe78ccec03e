//! Cheap ways past data a query cannot match, for queries over fresh events (filter alerts
//! search `@ingesttimestamp >= cursor | …` many times a minute):
//! - [`ingest_floor`]: the lowest `@ingesttimestamp` the leading filter accepts. A segment
//!   written before it (its `created_ms`, less [`CLOCK_SKEW_MS`] for the clocks of the node
//!   that stamped the events and the node that wrote the file) holds no event the query keeps:
//!   every event's ingest time is stamped before the segment holding it is written, and a merge
//!   or a re-digest writes a newer file.
//! - [`EventView`]: the leading filter tested on a WIP event in place, so only the events it
//!   keeps are materialised as rows (building a row copies every field), and
//!   [`ChunkIngest`]: WIP chunks wholly ingested before the floor are not read at all.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};

use strata_global::SegmentInfo;
use strata_segment::Event;

use crate::query::ast::CmpOp;
use crate::query::filter::CFilter;
use crate::query::row::Source;

/// How far the clock of the node that stamped an event's ingest time may run ahead of the
/// clock of the node that wrote its segment.
pub const CLOCK_SKEW_MS: i64 = 5 * 60_000;

/// The lowest `@ingesttimestamp` an event must have to pass `f` (a bound set by a top-level
/// `@ingesttimestamp >= N` or `> N` stage), if any.
pub fn ingest_floor(f: &CFilter) -> Option<i64> {
    match f {
        CFilter::And(parts) => parts.iter().filter_map(ingest_floor).max(),
        CFilter::Compare {
            field,
            op: CmpOp::Ge | CmpOp::Gt,
            num: Some(n),
            ..
        } if field == "@ingesttimestamp" && n.is_finite() => Some(n.floor() as i64),
        _ => None,
    }
}

/// True when no event of `seg` can have an ingest time at or past `floor`.
pub fn written_before(seg: &SegmentInfo, floor: Option<i64>) -> bool {
    match floor {
        // 0: written before segments recorded when they were written.
        Some(f) if seg.created_ms > 0 => seg.created_ms < f.saturating_sub(CLOCK_SKEW_MS),
        _ => false,
    }
}

/// The latest ingest time of each WIP chunk searched, so a search with an [`ingest_floor`]
/// passes by the chunks wholly before it without reading their events again. Chunks never
/// change once in WIP; an entry's `Weak` keeps its chunk's allocation (not its events) alive,
/// so the address that keys it is not reused while the entry exists.
#[derive(Default)]
pub struct ChunkIngest {
    latest: Mutex<Latest>,
}

/// Per chunk address: the chunk (to tell a reused address apart) and its latest ingest time.
type Latest = HashMap<usize, (Weak<Vec<Event>>, i64)>;

impl ChunkIngest {
    /// Whether `chunk` may hold an event ingested at or after `floor`.
    pub fn may_hold(&self, chunk: &Arc<Vec<Event>>, floor: i64) -> bool {
        let key = Arc::as_ptr(chunk) as usize;
        let Ok(mut m) = self.latest.lock() else {
            return true;
        };
        let latest = match m.get(&key) {
            Some((w, t)) if std::ptr::eq(w.as_ptr(), Arc::as_ptr(chunk)) => *t,
            _ => {
                let t = chunk
                    .iter()
                    .map(|e| e.ingest_timestamp)
                    .max()
                    .unwrap_or(i64::MIN);
                if m.len() >= 4096 && m.len().is_power_of_two() {
                    // Forget chunks WIP no longer holds (their minis were written).
                    m.retain(|_, (w, _)| w.strong_count() > 0);
                }
                m.insert(key, (Arc::downgrade(chunk), t));
                t
            }
        };
        latest >= floor
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.latest.lock().map(|m| m.len()).unwrap_or(0)
    }
}

/// A WIP event as the row [`crate::query::Row::from_event`] would make of it, read in place.
pub struct EventView<'a> {
    pub event: &'a Event,
    pub repo: &'a str,
    pub tags: &'a BTreeMap<String, String>,
}

impl Source for EventView<'_> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let e = self.event;
        // The same precedence as the row: built-ins, `#repo`, tags, then the event's fields.
        match name {
            "@timestamp" => return Some(Cow::Owned(e.timestamp.to_string())),
            "@rawstring" => return Some(Cow::Borrowed(&e.raw)),
            "@id" => return Some(Cow::Owned(e.id.to_string())),
            "@ingesttimestamp" => return Some(Cow::Owned(e.ingest_timestamp.to_string())),
            "@timestamp.nanos" if e.timestamp_nanos != 0 => {
                return Some(Cow::Owned(e.timestamp_nanos.to_string()))
            }
            "#repo" => return Some(Cow::Borrowed(self.repo)),
            _ => {}
        }
        if let Some(v) = name.strip_prefix('#').and_then(|t| self.tags.get(t)) {
            return Some(Cow::Borrowed(v));
        }
        e.fields.get(name).map(|v| Cow::Borrowed(v.as_str()))
    }

    fn timestamp(&self) -> i64 {
        self.event.timestamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::filter::tests::leading;
    use crate::query::Row;
    use strata_segment::EventId;

    #[test]
    fn the_floor_comes_from_top_level_ingest_time_stages_only() {
        let f = |q: &str| ingest_floor(&leading(q));
        assert_eq!(f("@ingesttimestamp >= 1000 | user=x"), Some(1000));
        assert_eq!(f("@ingesttimestamp > 1000"), Some(1000));
        assert_eq!(
            f("@ingesttimestamp >= 10 | @ingesttimestamp >= 20 | @ingesttimestamp <= 99"),
            Some(20)
        );
        assert_eq!(f("@ingesttimestamp <= 1000"), None);
        assert_eq!(f("user=x"), None);
        assert_eq!(f("@ingesttimestamp >= 1000 or user=x"), None);
        assert_eq!(f("!(@ingesttimestamp >= 1000)"), None);
        assert_eq!(f("@timestamp >= 1000"), None);
    }

    fn seg(created_ms: i64) -> SegmentInfo {
        let summary = strata_segment::SegmentSummary {
            path: Default::default(),
            event_count: 1,
            min_ts: 0,
            max_ts: 0,
            raw_bytes: 1,
            file_bytes: 1,
            file_crc: 0,
            offsets: Vec::new(),
            codec: strata_segment::Codec::Zstd { level: 3 },
        };
        let mut s = crate::merge::NewSegment {
            id: "1-p0-a".into(),
            repo: "r".into(),
            tags: BTreeMap::new(),
            partition: 0,
            first_offset: 0,
            last_offset: 0,
            node: 1,
            merged: false,
            merge_target: None,
        }
        .info(&summary);
        s.created_ms = created_ms;
        s
    }

    #[test]
    fn only_segments_written_well_before_the_floor_are_passed_by() {
        let floor = Some(10 * CLOCK_SKEW_MS);
        assert!(written_before(&seg(8 * CLOCK_SKEW_MS), floor));
        // Within the clock skew of the floor: may hold events stamped at the floor.
        assert!(!written_before(&seg(9 * CLOCK_SKEW_MS + 1), floor));
        assert!(!written_before(&seg(11 * CLOCK_SKEW_MS), floor));
        // Unknown write time, or no floor: never passed by.
        assert!(!written_before(&seg(0), floor));
        assert!(!written_before(&seg(CLOCK_SKEW_MS), None));
    }

    #[test]
    fn the_view_filters_as_the_row_does() {
        let mut fields = BTreeMap::new();
        fields.insert("user".to_string(), "u7".to_string());
        fields.insert("status".to_string(), "200".to_string());
        fields.insert("@rawstring".to_string(), "shadowed".to_string());
        fields.insert("#host".to_string(), "shadowed".to_string());
        fields.insert("#zone".to_string(), "eu".to_string());
        let event = Event {
            timestamp: 1_700_000_000_123,
            timestamp_nanos: 0,
            ingest_timestamp: 1_700_000_000_500,
            id: EventId {
                partition: 1,
                offset: 42,
                index: 3,
            },
            raw: "GET /items 200 user=u7".to_string(),
            fields,
        };
        let mut tags = BTreeMap::new();
        tags.insert("host".to_string(), "web1".to_string());
        let view = EventView {
            event: &event,
            repo: "r1",
            tags: &tags,
        };
        let row = Row::from_event(&event, "r1", &tags);
        for q in [
            "user=u7",
            "user=u8",
            "user=*",
            "nothere=*",
            "status >= 200",
            "status > 200",
            "@ingesttimestamp >= 1700000000500",
            "@ingesttimestamp > 1700000000500",
            "@timestamp = 1700000000123",
            "@timestamp.nanos = *",
            "@id = *",
            "#repo = r1",
            "#repo = r2",
            "#host = web1",
            "#host = shadowed",
            "#zone = eu",
            "GET",
            "shadowed",
            "@rawstring = /items/",
            "user = /u\\d/",
            "in(user, values=[u1, u7])",
            "not user=u7",
            "user=u7 or status=500",
            "test(status * 2 == 400)",
        ] {
            let f = leading(q);
            assert_eq!(f.matches(&view), f.matches(&row), "{q}");
        }
    }

    #[test]
    fn chunks_wholly_before_the_floor_are_passed_by() {
        let ev = |ingest: i64| Event {
            timestamp: 0,
            timestamp_nanos: 0,
            ingest_timestamp: ingest,
            id: EventId {
                partition: 0,
                offset: 0,
                index: 0,
            },
            raw: String::new(),
            fields: BTreeMap::new(),
        };
        let seen = ChunkIngest::default();
        // Not in ingest order: the latest one decides.
        let a = Arc::new(vec![ev(100), ev(300), ev(200)]);
        assert!(seen.may_hold(&a, 300));
        assert!(!seen.may_hold(&a, 301));
        assert!(seen.may_hold(&a, 0));
        assert!(!seen.may_hold(&Arc::new(Vec::new()), i64::MIN + 1));
        // A chunk freed and another allocated: never the old chunk's answer.
        drop(a);
        let b = Arc::new(vec![ev(1000)]);
        assert!(seen.may_hold(&b, 1000));
        assert!(seen.len() <= 3);
    }
}
