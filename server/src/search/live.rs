//! Live queries fed by digest. A live query registers while its first (historical) search
//! holds the WIP read locks, and digest offers every event it adds to WIP under the WIP write
//! lock, so each event reaches the query exactly once: either through the historical search
//! or through [`LiveSub::offer`]. The aggregate is kept per time slice (`Agg::Sliced`) so the
//! sliding window drops whole slices as they expire.
//!
//! Across a cluster every live node registers a [`LiveSub`] of its own when the root's
//! sub-search reaches it (`SubQuery::live`), fed by that node's digest and held here under the
//! job's id; the root merges their states at each poll. A held sub nobody asked for within
//! [`JOB_EXPIRY`](super::jobs::JOB_EXPIRY) is dropped.
//!
//! A live *stream* (the streaming `/query` endpoint with `isLive`) is a [`LiveStream`]: digest
//! hands it the matching events as rows through a bounded channel instead of an aggregate.
//! Its historical search runs in time slices, newest first; each slice's WIP snapshot moves
//! [`LiveStream::cover`] down to the slice's start, and an event offered while its timestamp is
//! below that line is left to the slice that will search it — so each event reaches the
//! stream exactly once, from a slice or from digest. Across a cluster each slice's
//! sub-search carries a [`LiveStreamSpec`]: every node holds a stream of its own under the
//! stream's id, covered at its own snapshot of each slice, and the root takes the rows each
//! node's digest added at every poll ([`LiveHub::held_stream_rows`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use strata_segment::Event;

use crate::query::{Agg, Plan, Row, State};

/// What a node needs to run its part of a live query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveSpec {
    /// The root's job id: the held sub's name on every node.
    pub id: String,
    pub window_ms: i64,
    pub slice_ms: i64,
}

impl LiveSpec {
    /// A live query over a sliding `window_ms`: the aggregate is kept per slice (1/20 of the
    /// window, at least 1 s) so the window slides by dropping slices.
    pub fn new(id: &str, window_ms: i64) -> LiveSpec {
        LiveSpec {
            id: id.to_string(),
            window_ms,
            slice_ms: (window_ms / 20).max(1000),
        }
    }

    /// Wraps the plan's aggregate in per-slice states.
    pub fn slice(&self, plan: &mut Plan) {
        let inner = std::mem::replace(
            &mut plan.agg,
            Agg::Count {
                field: None,
                distinct: false,
                as_: String::new(),
            },
        );
        plan.agg = Agg::Sliced {
            slice_ms: self.slice_ms,
            inner: Box::new(inner),
        };
    }
}

use super::{finish, tags_may_match, SearchResult};

/// Live queries of this node.
#[derive(Default)]
pub struct LiveHub {
    subs: RwLock<Vec<Weak<LiveSub>>>,
    /// Subs this node runs for other nodes' live jobs, by job id, with their last poll.
    held: Mutex<HashMap<String, (Arc<LiveSub>, Instant)>>,
    /// Live streams of this node.
    streams: RwLock<Vec<Weak<LiveStream>>>,
    /// Streams this node feeds for other nodes' live streams, by stream id.
    held_streams: Mutex<HashMap<String, HeldStream>>,
}

/// A live stream held for another node: the root takes its rows at each poll.
struct HeldStream {
    stream: Arc<LiveStream>,
    rx: tokio::sync::mpsc::Receiver<Vec<Row>>,
    polled: Instant,
}

/// What a held live stream gathered since the last poll.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LiveRows {
    pub rows: Vec<Row>,
    /// The root polled too slowly and rows were dropped: the stream is incomplete.
    pub overflowed: bool,
}

/// What a node needs to feed its part of a live stream: the stream's id (its name on every
/// node) and the query's start (older events are not the stream's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveStreamSpec {
    pub id: String,
    pub start: i64,
}

impl LiveHub {
    /// Keeps `sub` alive for another node's job `id` (until it stops asking).
    pub fn hold(&self, id: &str, sub: Arc<LiveSub>) {
        if let Ok(mut h) = self.held.lock() {
            h.insert(id.to_string(), (sub, Instant::now()));
        }
    }

    /// The current window state of a held sub (`None`: never held here, or expired).
    pub fn held_state(&self, id: &str) -> Option<State> {
        let sub = {
            let mut h = self.held.lock().ok()?;
            let (sub, polled) = h.get_mut(id)?;
            *polled = Instant::now();
            sub.clone()
        };
        Some(sub.state())
    }

    /// Drops held subs and streams not polled within `idle`.
    pub fn expire_held(&self, idle: std::time::Duration) {
        if let Ok(mut h) = self.held.lock() {
            h.retain(|_, (_, polled)| polled.elapsed() < idle);
        }
        if let Ok(mut h) = self.held_streams.lock() {
            h.retain(|_, s| s.polled.elapsed() < idle);
        }
    }

    /// Called under the WIP read locks when another node's live-stream slice snapshots this
    /// node's WIP: the stream held for `spec` (created and registered on its first slice)
    /// takes digest's events at or after `slice_start` from now on, as the root's own does.
    pub fn cover_held_stream(
        &self,
        spec: &LiveStreamSpec,
        repo: &str,
        plan: &Arc<Plan>,
        slice_start: i64,
    ) {
        let Ok(mut h) = self.held_streams.lock() else {
            return;
        };
        let held = h.entry(spec.id.clone()).or_insert_with(|| {
            let (stream, rx) = LiveStream::new(repo, plan.clone(), spec.start);
            self.register_stream(&stream);
            HeldStream {
                stream,
                rx,
                polled: Instant::now(),
            }
        });
        held.stream.cover(slice_start);
    }

    /// The rows a held stream gathered since the last poll (`None`: not held here, or expired).
    pub fn held_stream_rows(&self, id: &str) -> Option<LiveRows> {
        let mut h = self.held_streams.lock().ok()?;
        let held = h.get_mut(id)?;
        held.polled = Instant::now();
        let mut out = LiveRows::default();
        while let Ok(batch) = held.rx.try_recv() {
            out.rows.extend(batch);
        }
        out.overflowed = held.stream.overflowed();
        Some(out)
    }

    pub fn register(&self, sub: &Arc<LiveSub>) {
        if let Ok(mut v) = self.subs.write() {
            v.retain(|w| w.strong_count() > 0);
            v.push(Arc::downgrade(sub));
        }
    }

    /// Feeds `stream` with what digest adds from now on (register before its first slice
    /// snapshots WIP: until [`LiveStream::cover`] is first called it takes nothing).
    pub fn register_stream(&self, stream: &Arc<LiveStream>) {
        if let Ok(mut v) = self.streams.write() {
            v.retain(|w| w.strong_count() > 0);
            v.push(Arc::downgrade(stream));
        }
    }

    /// Called by digest with the events it just put into WIP (under the WIP write lock).
    pub fn offer(&self, repo: &str, tags: &BTreeMap<String, String>, events: &[Event]) {
        if let Ok(v) = self.subs.read() {
            for sub in v.iter().filter_map(Weak::upgrade) {
                if sub.repo == repo {
                    sub.offer(tags, events);
                }
            }
        }
        if let Ok(v) = self.streams.read() {
            for s in v.iter().filter_map(Weak::upgrade) {
                if s.repo == repo {
                    s.offer(tags, events);
                }
            }
        }
    }

    /// Live streams of this node's own clients (not those held for other nodes).
    pub fn streams_len(&self) -> usize {
        let all = self
            .streams
            .read()
            .map(|v| v.iter().filter(|w| w.strong_count() > 0).count())
            .unwrap_or(0);
        let held = self.held_streams.lock().map(|h| h.len()).unwrap_or(0);
        all.saturating_sub(held)
    }

    /// Live queries currently registered.
    pub fn len(&self) -> usize {
        self.subs
            .read()
            .map(|v| v.iter().filter(|w| w.strong_count() > 0).count())
            .unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One live query's feed from one repository: its plan (whose aggregate is `Agg::Sliced`)
/// and state. A live query on a view has one per source.
pub struct LiveSub {
    /// Its name on the other nodes (they hold theirs under it).
    pub id: String,
    pub repo: String,
    pub plan: Arc<Plan>,
    pub window_ms: i64,
    pub slice_ms: i64,
    state: Mutex<State>,
}

impl LiveSub {
    pub fn new(spec: &LiveSpec, repo: &str, plan: Arc<Plan>) -> LiveSub {
        let st = plan.agg.new_state();
        LiveSub {
            id: spec.id.clone(),
            repo: repo.to_string(),
            plan,
            window_ms: spec.window_ms,
            slice_ms: spec.slice_ms,
            state: Mutex::new(st),
        }
    }

    fn offer(&self, tags: &BTreeMap<String, String>, events: &[Event]) {
        if !tags_may_match(&self.plan.leading, &self.repo, tags) {
            return;
        }
        let since = crate::text::now_ms() - self.window_ms;
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        for e in events.iter().filter(|e| e.timestamp >= since) {
            self.plan
                .feed_event_row(&mut st, Row::from_event(e, &self.repo, tags));
        }
    }

    /// Adds the historical search's state.
    pub fn merge(&self, st: State) {
        if let Ok(mut mine) = self.state.lock() {
            self.plan.agg.merge(&mut mine, st);
        }
    }

    /// The state over the window ending now.
    pub fn state(&self) -> State {
        let before = crate::text::now_ms() - self.window_ms;
        match self.state.lock() {
            Ok(mut g) => {
                g.prune(before, self.slice_ms);
                g.clone()
            }
            Err(_) => self.plan.agg.new_state(),
        }
    }

    /// The result over the window ending now, with other nodes' states of the same query.
    pub fn result_with(&self, others: Vec<State>) -> SearchResult {
        let before = crate::text::now_ms() - self.window_ms;
        let mut st = self.state();
        for mut o in others {
            o.prune(before, self.slice_ms);
            self.plan.agg.merge(&mut st, o);
        }
        finish(&self.plan, st)
    }
}

/// Rows a live stream may have queued before it counts as overflowed (the client reads too
/// slowly); batches as digest offers them.
pub const LIVE_STREAM_BATCHES: usize = 1024;

/// A live stream's feed from digest: matching events as rows (leading filter and streaming
/// operators applied), in digest order.
pub struct LiveStream {
    pub repo: String,
    plan: Arc<Plan>,
    /// Events stamped at or after this are past every slice the historical search has left to
    /// run: they come from here. `i64::MAX` until the first slice snapshots WIP.
    covered_from: AtomicI64,
    /// The query's start: older events are outside the stream.
    start: i64,
    tx: tokio::sync::mpsc::Sender<Vec<Row>>,
    overflowed: AtomicBool,
}

impl LiveStream {
    /// A stream for `plan` (its aggregate is not used) and the channel its rows arrive on.
    pub fn new(
        repo: &str,
        plan: Arc<Plan>,
        start: i64,
    ) -> (Arc<LiveStream>, tokio::sync::mpsc::Receiver<Vec<Row>>) {
        let (tx, rx) = tokio::sync::mpsc::channel(LIVE_STREAM_BATCHES);
        let s = LiveStream {
            repo: repo.to_string(),
            plan,
            covered_from: AtomicI64::new(i64::MAX),
            start,
            tx,
            overflowed: AtomicBool::new(false),
        };
        (Arc::new(s), rx)
    }

    /// Another stream into the same channel: a live stream on a view has one per source,
    /// each fed by its repository through its source's plan.
    pub fn sharing(&self, repo: &str, plan: Arc<Plan>) -> Arc<LiveStream> {
        Arc::new(LiveStream {
            repo: repo.to_string(),
            plan,
            covered_from: AtomicI64::new(i64::MAX),
            start: self.start,
            tx: self.tx.clone(),
            overflowed: AtomicBool::new(false),
        })
    }

    /// Called under the WIP read locks when a historical slice starting at `slice_start`
    /// snapshots WIP: from now on digest's events at or after it are this stream's.
    pub fn cover(&self, slice_start: i64) {
        self.covered_from.fetch_min(slice_start, Ordering::SeqCst);
    }

    /// True when rows were dropped because the reader fell behind (the stream must end, said
    /// to be incomplete).
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Relaxed)
    }

    fn offer(&self, tags: &BTreeMap<String, String>, events: &[Event]) {
        if self.overflowed() || !tags_may_match(&self.plan.leading, &self.repo, tags) {
            return;
        }
        let from = self.covered_from.load(Ordering::SeqCst).max(self.start);
        let mut batch = Vec::new();
        for e in events.iter().filter(|e| e.timestamp >= from) {
            let mut row = Row::from_event(e, &self.repo, tags);
            if pass(&self.plan, &mut row) {
                batch.push(row);
            }
        }
        if batch.is_empty() {
            return;
        }
        // Never block digest: a reader that cannot keep up loses the stream, not events.
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = self.tx.try_send(batch) {
            self.overflowed.store(true, Ordering::Relaxed);
        }
    }
}

/// The leading filter and the streaming operators; false drops the row.
fn pass(plan: &Plan, row: &mut Row) -> bool {
    plan.leading.apply(row) && plan.prefix.iter().all(|op| op.apply(row))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{self, PlanOptions};

    fn ev(ts: i64, raw: &str) -> Event {
        Event {
            timestamp: ts,
            raw: raw.to_string(),
            ..Default::default()
        }
    }

    /// Digest's events reach a live stream only at or above its cover line (below it, a slice
    /// still to run will search them), only once a slice has snapshotted WIP, and only when
    /// they match.
    #[test]
    fn a_live_stream_takes_what_no_slice_will_search() {
        let opts = PlanOptions {
            start: 0,
            end: 1000,
            default_limit: 10,
            zone: query::Zone::UTC,
        };
        let plan = query::compile(&query::parse("hit").unwrap(), opts).unwrap();
        let hub = LiveHub::default();
        let (s, mut rx) = LiveStream::new("r", Arc::new(plan), 10);
        hub.register_stream(&s);
        let tags = BTreeMap::new();
        hub.offer("r", &tags, &[ev(500, "hit before any slice")]);
        assert!(
            rx.try_recv().is_err(),
            "the first slice's snapshot will see it"
        );
        s.cover(400);
        hub.offer(
            "r",
            &tags,
            &[ev(300, "hit below"), ev(450, "hit above"), ev(460, "miss")],
        );
        hub.offer("other", &tags, &[ev(470, "hit elsewhere")]);
        s.cover(5);
        hub.offer("r", &tags, &[ev(7, "hit before start"), ev(20, "hit old")]);
        let got: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .flatten()
            .filter_map(|r| r.get_str("@rawstring").map(str::to_string))
            .collect();
        assert_eq!(got, ["hit above", "hit old"]);
        assert!(!s.overflowed());
        drop(s);
        hub.offer("r", &tags, &[ev(900, "hit after the stream ended")]);
    }
}
