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

use std::collections::{BTreeMap, HashMap};
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

    /// Drops held subs not polled within `idle`.
    pub fn expire_held(&self, idle: std::time::Duration) {
        if let Ok(mut h) = self.held.lock() {
            h.retain(|_, (_, polled)| polled.elapsed() < idle);
        }
    }

    pub fn register(&self, sub: &Arc<LiveSub>) {
        if let Ok(mut v) = self.subs.write() {
            v.retain(|w| w.strong_count() > 0);
            v.push(Arc::downgrade(sub));
        }
    }

    /// Called by digest with the events it just put into WIP (under the WIP write lock).
    pub fn offer(&self, repo: &str, tags: &BTreeMap<String, String>, events: &[Event]) {
        let Ok(v) = self.subs.read() else { return };
        if v.is_empty() {
            return;
        }
        for sub in v.iter().filter_map(Weak::upgrade) {
            if sub.repo == repo {
                sub.offer(tags, events);
            }
        }
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

/// One live query: its plan (whose aggregate is `Agg::Sliced`) and state.
pub struct LiveSub {
    pub repo: String,
    pub plan: Arc<Plan>,
    pub window_ms: i64,
    pub slice_ms: i64,
    state: Mutex<State>,
}

impl LiveSub {
    pub fn new(repo: &str, plan: Arc<Plan>, window_ms: i64, slice_ms: i64) -> LiveSub {
        let st = plan.agg.new_state();
        LiveSub {
            repo: repo.to_string(),
            plan,
            window_ms,
            slice_ms,
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
