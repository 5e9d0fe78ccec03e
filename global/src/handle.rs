//! The `Global` handle the server uses: consistent reads of the current state, `publish` with
//! read-your-writes, and change notification. One follower task reads `global-events` and
//! applies each record in order; it halts (rather than skip) on a record it cannot decode.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use crate::error::{GlobalError, Result};
use crate::event::{self, GlobalEvent};
use crate::log::GlobalLog;
use crate::snapshot::{self, Snapshot};
use crate::state::{Outcome, State};

/// How many recent outcomes are kept for `publish` callers to collect.
const OUTCOME_WINDOW: u64 = 100_000;

struct Inner {
    log: Arc<dyn GlobalLog>,
    state: RwLock<State>,
    /// First offset not yet applied.
    next: watch::Sender<u64>,
    outcomes: Mutex<BTreeMap<u64, Outcome>>,
    halted: Mutex<Option<String>>,
}

/// Shared handle to this node's copy of Global.
#[derive(Clone)]
pub struct Global {
    inner: Arc<Inner>,
}

impl Global {
    /// Starts following `log` from `snap` (use `Snapshot::default()`-like empty state for a
    /// full replay). Must be called inside a tokio runtime.
    pub fn start(log: Arc<dyn GlobalLog>, snap: Snapshot) -> Global {
        let (tx, _) = watch::channel(snap.next_offset);
        let g = Global {
            inner: Arc::new(Inner {
                log,
                state: RwLock::new(snap.state),
                next: tx,
                outcomes: Mutex::new(BTreeMap::new()),
                halted: Mutex::new(None),
            }),
        };
        let follower = g.clone();
        tokio::spawn(async move { follower.follow().await });
        g
    }

    /// Loads the newest valid snapshot from `dir` (logging problems) and starts from it, or
    /// from an empty state when there is none.
    pub fn open(log: Arc<dyn GlobalLog>, dir: &Path) -> Global {
        let (snap, warnings) = snapshot::load(dir);
        for w in warnings {
            tracing::warn!(error = %w, "ignoring unusable global snapshot");
        }
        let snap = snap.unwrap_or(Snapshot {
            next_offset: 0,
            state: State::default(),
        });
        tracing::info!(
            next_offset = snap.next_offset,
            "global starting from snapshot"
        );
        Global::start(log, snap)
    }

    async fn follow(self) {
        loop {
            let from = *self.inner.next.borrow();
            let batch = match self.inner.log.read(from, 4096).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "reading global-events failed; retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
            };
            if batch.is_empty() {
                if Arc::strong_count(&self.inner) == 1 {
                    return; // every handle is gone
                }
                continue;
            }
            let mut decoded = Vec::with_capacity(batch.len());
            let mut failure = None;
            for (off, rec) in &batch {
                match event::decode(*off, rec) {
                    Ok(ev) => decoded.push((*off, ev)),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let mut outcomes = Vec::with_capacity(decoded.len());
            if let Ok(mut st) = self.inner.state.write() {
                for (off, ev) in decoded {
                    outcomes.push((off, st.apply_owned(off, ev)));
                }
            }
            let last = outcomes.last().map(|(o, _)| *o);
            if let Ok(mut m) = self.inner.outcomes.lock() {
                m.extend(outcomes);
                if let Some(last) = last {
                    let keep = last.saturating_sub(OUTCOME_WINDOW);
                    *m = m.split_off(&keep);
                }
            }
            if let Some(last) = last {
                self.inner.next.send_replace(last + 1);
            }
            if let Some(e) = failure {
                tracing::error!(error = %e, "global halted: refusing to skip an undecodable record");
                if let Ok(mut h) = self.inner.halted.lock() {
                    *h = Some(e.to_string());
                }
                // Wake waiters so they see the halt.
                self.inner.next.send_modify(|_| {});
                return;
            }
        }
    }

    /// Runs `f` on a consistent view of the current state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        match self.inner.state.read() {
            Ok(s) => f(&s),
            Err(p) => f(&p.into_inner()),
        }
    }

    /// The first log offset not yet applied on this node.
    pub fn next_offset(&self) -> u64 {
        *self.inner.next.borrow()
    }

    /// Why the follower halted, if it did.
    pub fn halted(&self) -> Option<String> {
        self.inner.halted.lock().ok().and_then(|h| h.clone())
    }

    /// Receives the next-offset each time events are applied.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.next.subscribe()
    }

    /// Waits until every offset below `offset` is applied here.
    pub async fn wait_for(&self, offset: u64) -> Result<()> {
        let mut rx = self.subscribe();
        loop {
            if *rx.borrow_and_update() >= offset {
                return Ok(());
            }
            if let Some(h) = self.halted() {
                return Err(GlobalError::Halted(h));
            }
            if rx.changed().await.is_err() {
                return Err(GlobalError::Halted("follower stopped".into()));
            }
        }
    }

    /// Waits until this node has applied everything the log held when called.
    pub async fn catch_up(&self) -> Result<()> {
        let end = self.inner.log.end_offset().await?;
        self.wait_for(end).await
    }

    /// Appends `event` and waits until this node has applied it; returns its outcome.
    pub async fn publish(&self, event: GlobalEvent) -> Result<(u64, Outcome)> {
        if let Some(h) = self.halted() {
            return Err(GlobalError::Halted(h));
        }
        let offset = self.inner.log.append(event::encode(&event)).await?;
        self.wait_for(offset + 1).await?;
        let outcome = self
            .inner
            .outcomes
            .lock()
            .ok()
            .and_then(|m| m.get(&offset).cloned())
            .unwrap_or_else(|| Outcome::Rejected("outcome no longer known".into()));
        Ok((offset, outcome))
    }

    /// Encodes a snapshot of the current state (taken under the read lock).
    pub fn snapshot_bytes(&self) -> Result<(u64, Vec<u8>)> {
        let st = self
            .inner
            .state
            .read()
            .map_err(|_| GlobalError::Halted("state lock poisoned".into()))?;
        let next_offset = self.next_offset();
        // Holding the read lock keeps next_offset and state consistent: apply needs the write lock.
        let snap = Snapshot {
            next_offset,
            state: st.clone(),
        };
        drop(st);
        Ok((next_offset, snapshot::encode(&snap)?))
    }

    /// Writes a snapshot into `dir`; returns the offset it covers.
    pub fn write_snapshot(&self, dir: &Path) -> Result<u64> {
        let (off, bytes) = self.snapshot_bytes()?;
        snapshot::write_bytes(dir, &bytes)?;
        Ok(off)
    }
}
