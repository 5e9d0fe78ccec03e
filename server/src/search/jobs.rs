//! Query jobs: searches that run in the background while a client polls them (LogScale's
//! `/queryjobs` API, the UI's searches). Jobs live as long as LogScale keeps them: a static
//! job [`STATIC_JOB_TTL`] after its last poll, a live job [`LIVE_JOB_TTL`]; then it is
//! cancelled and removed, so abandoned searches stop using the cores. A job belongs to the
//! caller that created it: nobody else can see, poll or delete it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::live::LiveSub;
use super::{Progress, SearchRange, SearchResult};
use crate::query::Plan;

/// A static job not polled for this long is cancelled and removed (LogScale: 90 s).
pub const STATIC_JOB_TTL: Duration = Duration::from_secs(90);
/// A live job not polled for this long is cancelled and removed (LogScale: an hour).
pub const LIVE_JOB_TTL: Duration = Duration::from_secs(3600);
/// The longest any job lives without a poll; the subs other nodes hold for a live job are
/// dropped after it too (the root polls them only when its client polls).
pub const JOB_EXPIRY: Duration = LIVE_JOB_TTL;

/// Test-only overrides (milliseconds), so expiry tests need not wait 90 s: read once.
const STATIC_TTL_ENV: &str = "STRATA_TEST_STATIC_JOB_TTL_MS";
const LIVE_TTL_ENV: &str = "STRATA_TEST_LIVE_JOB_TTL_MS";

fn ttl_from_env(name: &str, default: Duration) -> Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(default, Duration::from_millis)
}

/// How long a job lives after its last poll (`live`: a live job).
pub fn ttl(live: bool) -> Duration {
    static TTLS: OnceLock<(Duration, Duration)> = OnceLock::new();
    let (s, l) = *TTLS.get_or_init(|| {
        (
            ttl_from_env(STATIC_TTL_ENV, STATIC_JOB_TTL),
            ttl_from_env(LIVE_TTL_ENV, LIVE_JOB_TTL),
        )
    });
    if live {
        l
    } else {
        s
    }
}

/// A running or finished query job.
pub struct Job {
    pub repo: String,
    /// Who created it (the authenticated caller's name): only they may poll or delete it.
    pub owner: String,
    pub plan: Arc<Plan>,
    /// The time range searched (end exclusive), for `metaData.queryStart`/`queryEnd`.
    pub range: SearchRange,
    /// A live query's feeds (one per repository searched: a view has several), fed by
    /// digest after the historical search; empty for a static job.
    pub live: Vec<Arc<LiveSub>>,
    /// When the job was created (`metaData.timeMillis` counts from here).
    pub created: Instant,
    finished: Mutex<Option<Instant>>,
    last_poll: Mutex<Instant>,
    progress: Arc<Progress>,
    state: Mutex<JobState>,
    /// A live job: per feed, the other nodes holding a sub of it.
    live_peers: Mutex<Vec<Vec<u32>>>,
}

/// Where a job is.
#[derive(Clone)]
pub enum JobState {
    Running,
    Done(SearchResult),
    Failed(crate::search::SearchError),
}

impl Job {
    pub fn new(
        repo: &str,
        owner: &str,
        plan: Arc<Plan>,
        range: SearchRange,
        live: Vec<Arc<LiveSub>>,
    ) -> Job {
        let now = Instant::now();
        Job {
            repo: repo.to_string(),
            owner: owner.to_string(),
            plan,
            range,
            live,
            created: now,
            finished: Mutex::new(None),
            last_poll: Mutex::new(now),
            progress: Arc::new(Progress::default()),
            state: Mutex::new(JobState::Running),
            live_peers: Mutex::new(Vec::new()),
        }
    }

    /// A live job.
    pub fn is_live(&self) -> bool {
        !self.live.is_empty()
    }

    /// Per feed (in [`Job::live`]'s order), the other nodes holding a sub of it.
    pub fn set_live_peers(&self, nodes: Vec<Vec<u32>>) {
        if let Ok(mut p) = self.live_peers.lock() {
            *p = nodes;
        }
    }

    pub fn live_peers(&self) -> Vec<Vec<u32>> {
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

    /// How long this job lives after its last poll.
    pub fn ttl(&self) -> Duration {
        ttl(self.is_live())
    }

    /// True when the job was polled within its lifetime before `now`.
    fn alive_at(&self, now: Instant, ttl: Duration) -> bool {
        self.last_poll
            .lock()
            .map(|t| now.saturating_duration_since(*t) < ttl)
            .unwrap_or(false)
    }

    pub fn finish(&self, st: JobState) {
        if let Ok(mut f) = self.finished.lock() {
            f.get_or_insert_with(Instant::now);
        }
        if let Ok(mut s) = self.state.lock() {
            *s = st;
        }
    }

    /// How long the search ran (so far, while it runs).
    pub fn elapsed(&self) -> Duration {
        let end = self
            .finished
            .lock()
            .ok()
            .and_then(|f| *f)
            .unwrap_or_else(Instant::now);
        end.saturating_duration_since(self.created)
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

    /// Jobs `owner` holds on this node (running, done but not expired, live).
    pub fn count_owned(&self, owner: &str) -> usize {
        self.jobs
            .lock()
            .map(|m| m.values().filter(|j| j.owner == owner).count())
            .unwrap_or(0)
    }

    /// Live jobs on this node.
    pub fn live_count(&self) -> usize {
        self.jobs
            .lock()
            .map(|m| m.values().filter(|j| j.is_live()).count())
            .unwrap_or(0)
    }

    /// The job `id` of `repo` if `owner` created it. Another caller's job is as absent as one
    /// that never existed (its id tells them nothing).
    pub fn get_owned(&self, id: &str, repo: &str, owner: &str) -> Option<Arc<Job>> {
        self.jobs
            .lock()
            .ok()
            .and_then(|m| m.get(id).cloned())
            .filter(|j| j.repo == repo && j.owner == owner)
    }

    pub fn remove(&self, id: &str) -> Option<Arc<Job>> {
        self.jobs.lock().ok().and_then(|mut m| m.remove(id))
    }

    /// Drops jobs nobody polled within their lifetime.
    pub fn expire(&self) {
        self.expire_at(Instant::now(), ttl);
    }

    fn expire_at(&self, now: Instant, ttl: impl Fn(bool) -> Duration) {
        if let Ok(mut m) = self.jobs.lock() {
            m.retain(|_, j| {
                let alive = j.alive_at(now, ttl(j.is_live()));
                if !alive {
                    j.cancel();
                }
                alive
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{self, PlanOptions};

    const RANGE: SearchRange = SearchRange { start: 0, end: 10 };

    fn plan() -> Arc<Plan> {
        let opts = PlanOptions {
            start: 0,
            end: 10,
            default_limit: 200,
            zone: query::Zone::UTC,
        };
        Arc::new(query::compile(&query::parse("x").unwrap(), opts).unwrap())
    }

    #[test]
    fn static_jobs_expire_after_90s_live_jobs_after_an_hour() {
        let jobs = Jobs::default();
        let p = plan();
        let st = Arc::new(Job::new("r", "alice", p.clone(), RANGE, vec![]));
        let spec = crate::search::live::LiveSpec::new("l", 1000);
        let sub = Arc::new(LiveSub::new(&spec, "r", p.clone()));
        let live = Arc::new(Job::new("r", "alice", p, RANGE, vec![sub]));
        jobs.insert("s", st.clone());
        jobs.insert("l", live.clone());
        let t0 = Instant::now();
        let defaults = |l: bool| if l { LIVE_JOB_TTL } else { STATIC_JOB_TTL };
        jobs.expire_at(t0 + Duration::from_secs(89), defaults);
        assert!(jobs.get_owned("s", "r", "alice").is_some());
        jobs.expire_at(t0 + Duration::from_secs(91), defaults);
        assert!(
            jobs.get_owned("s", "r", "alice").is_none(),
            "static job gone"
        );
        assert!(st.cancelled(), "an expired job stops searching");
        jobs.expire_at(t0 + Duration::from_secs(3599), defaults);
        assert!(jobs.get_owned("l", "r", "alice").is_some());
        jobs.expire_at(t0 + Duration::from_secs(3601), defaults);
        assert!(jobs.get_owned("l", "r", "alice").is_none(), "live job gone");
    }

    #[test]
    fn a_job_is_only_its_owners() {
        let jobs = Jobs::default();
        jobs.insert("j", Arc::new(Job::new("r", "alice", plan(), RANGE, vec![])));
        assert!(jobs.get_owned("j", "r", "alice").is_some());
        assert!(jobs.get_owned("j", "r", "bob").is_none());
        assert!(jobs.get_owned("j", "other", "alice").is_none());
    }
}
