//! Query jobs: searches that run in the background while a client polls them (LogScale's
//! `/queryjobs` API, the UI's searches). A job not polled for [`JOB_EXPIRY`] is cancelled and
//! removed, so abandoned searches stop using the cores.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::live::LiveSub;
use super::{Progress, SearchResult};
use crate::query::Plan;

/// Jobs not polled for this long are cancelled and removed (LogScale: 30 s for the UI).
pub const JOB_EXPIRY: Duration = Duration::from_secs(30);

/// A running or finished query job.
pub struct Job {
    pub repo: String,
    pub plan: Arc<Plan>,
    /// A live query's state, fed by digest after the historical search.
    pub live_sub: Option<Arc<LiveSub>>,
    last_poll: Mutex<Instant>,
    progress: Arc<Progress>,
    state: Mutex<JobState>,
    /// A live job: the other nodes holding a sub of it.
    live_peers: Mutex<Vec<u32>>,
}

/// Where a job is.
#[derive(Clone)]
pub enum JobState {
    Running,
    Done(SearchResult),
    Failed(crate::search::SearchError),
}

impl Job {
    pub fn new(repo: &str, plan: Arc<Plan>, live_sub: Option<Arc<LiveSub>>) -> Job {
        Job {
            repo: repo.to_string(),
            plan,
            live_sub,
            last_poll: Mutex::new(Instant::now()),
            progress: Arc::new(Progress::default()),
            state: Mutex::new(JobState::Running),
            live_peers: Mutex::new(Vec::new()),
        }
    }

    pub fn set_live_peers(&self, nodes: Vec<u32>) {
        if let Ok(mut p) = self.live_peers.lock() {
            *p = nodes;
        }
    }

    pub fn live_peers(&self) -> Vec<u32> {
        self.live_peers
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    pub fn progress(&self) -> &Arc<Progress> {
        &self.progress
    }

    pub fn cancel(&self) {
        self.progress.cancelled.store(true, Ordering::Relaxed);
    }

    pub fn cancelled(&self) -> bool {
        self.progress.cancelled.load(Ordering::Relaxed)
    }

    /// Notes a poll (keeps the job alive).
    pub fn polled(&self) {
        if let Ok(mut t) = self.last_poll.lock() {
            *t = Instant::now();
        }
    }

    fn alive(&self) -> bool {
        self.last_poll
            .lock()
            .map(|t| t.elapsed() < JOB_EXPIRY)
            .unwrap_or(false)
    }

    pub fn finish(&self, st: JobState) {
        if let Ok(mut s) = self.state.lock() {
            *s = st;
        }
    }

    pub fn state(&self) -> JobState {
        self.state.lock().map(|s| s.clone()).unwrap_or_else(|_| {
            JobState::Failed(super::SearchError::Internal("job state poisoned".into()))
        })
    }
}

/// The node's query jobs.
#[derive(Default)]
pub struct Jobs {
    jobs: Mutex<HashMap<String, Arc<Job>>>,
}

impl Jobs {
    pub fn insert(&self, id: &str, job: Arc<Job>) {
        if let Ok(mut m) = self.jobs.lock() {
            m.insert(id.to_string(), job);
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.lock().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.lock().ok().and_then(|mut m| m.remove(id))
    }

    /// Drops jobs nobody polled recently.
    pub fn expire(&self) {
        if let Ok(mut m) = self.jobs.lock() {
            m.retain(|_, j| {
                let alive = j.alive();
                if !alive {
                    j.cancel();
                }
                alive
            });
        }
    }
}
