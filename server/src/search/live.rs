//! Live queries fed by digest. A live query registers while its first (historical) search
//! holds the WIP read locks, and digest offers every event it adds to WIP under the WIP write
//! lock, so each event reaches the query exactly once: either through the historical search
//! or through [`LiveSub::offer`]. The aggregate is kept per time slice (`Agg::Sliced`) so the
//! sliding window drops whole slices as they expire.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use strata_segment::Event;

use crate::query::{Plan, Row, State};

use super::{finish, tags_may_match, SearchResult};

/// Live queries of this node.
#[derive(Default)]
pub struct LiveHub {
    subs: RwLock<Vec<Weak<LiveSub>>>,
}

impl LiveHub {
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

    /// The result over the window ending now.
    pub fn result(&self) -> SearchResult {
        let before = crate::text::now_ms() - self.window_ms;
        let st = match self.state.lock() {
            Ok(mut g) => {
                g.prune(before, self.slice_ms);
                g.clone()
            }
            Err(_) => self.plan.agg.new_state(),
        };
        finish(&self.plan, st)
    }
}
