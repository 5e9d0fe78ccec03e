//! Retention and segment-file garbage collection.
//!
//! Retention (LogScale's time-, ingest-size- and storage-size-based retention) deletes a
//! repository's oldest whole segments: those whose newest event is older than the age limit,
//! and, newest first, those past the ingested (raw) or stored (compressed) byte limits. Work in
//! progress is never cut. One node publishes the deletion — the lowest-id running node, which
//! every node derives from Global alike — so a cluster does not publish it N times.
//!
//! The sweep removes local segment files that Global no longer lists (retention, merges,
//! deleted repositories), once they have stayed unlisted for a grace period: digest and merge
//! write a file before Global lists it, and searches may still be reading a replaced one.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use strata_global::{Global, GlobalEvent, NodeState, Outcome, State};

const DAY_MS: i64 = 86_400_000;

/// Segments retention deletes now, oldest first per repository.
pub fn expired(state: &State, now_ms: i64) -> Vec<String> {
    let mut out = Vec::new();
    for (name, repo) in &state.repositories {
        let r = &repo.retention;
        if r.max_age_days.is_none()
            && r.max_compressed_bytes.is_none()
            && r.max_uncompressed_bytes.is_none()
        {
            continue;
        }
        let mut segs: Vec<_> = state.segments.values().filter(|s| s.repo == name).collect();
        // Newest first; the id breaks ties so every node picks the same segments.
        segs.sort_by(|a, b| b.max_ts.cmp(&a.max_ts).then_with(|| b.id.cmp(&a.id)));
        let cutoff = r
            .max_age_days
            .map(|d| now_ms.saturating_sub((d as i64).saturating_mul(DAY_MS)));
        let (mut raw, mut stored) = (0u64, 0u64);
        for s in segs {
            raw = raw.saturating_add(s.raw_bytes);
            stored = stored.saturating_add(s.file_bytes);
            let too_old = cutoff.is_some_and(|c| s.max_ts < c);
            let too_big = r.max_uncompressed_bytes.is_some_and(|m| raw > m)
                || r.max_compressed_bytes.is_some_and(|m| stored > m);
            if too_old || too_big {
                out.push(s.id.to_string());
            }
        }
    }
    out
}

/// True when this node publishes retention deletions and collects bucket garbage.
pub fn is_enforcer(global: &Global, me: u32) -> bool {
    global.read(|s| enforcer_in(s, me))
}

fn enforcer_in(state: &State, me: u32) -> bool {
    state
        .nodes
        .values()
        .filter(|n| n.state == NodeState::Running)
        .map(|n| n.id)
        .min()
        .is_none_or(|id| id == me)
}

/// Publishes the deletion of expired segments (when this node enforces); returns how many.
pub async fn enforce(global: &Global, me: u32) -> usize {
    let ids = global.read(|s| {
        if enforcer_in(s, me) {
            expired(s, crate::text::now_ms())
        } else {
            Vec::new()
        }
    });
    if ids.is_empty() {
        return 0;
    }
    let n = ids.len();
    match global.publish(GlobalEvent::DeleteSegments { ids }).await {
        Ok((_, Outcome::Applied)) => {
            tracing::info!(segments = n, "retention deleted expired segments");
            crate::metrics::RETENTION_DELETED.inc_by(n as u64);
            n
        }
        Ok((_, Outcome::Rejected(r))) => {
            tracing::warn!(reason = %r, "retention deletion rejected");
            0
        }
        Err(e) => {
            tracing::warn!(error = %e, "retention could not publish; retrying later");
            0
        }
    }
}

/// Deletes local segment files Global has not listed for `grace`.
pub struct Sweeper {
    dir: PathBuf,
    grace: Duration,
    unlisted_since: HashMap<String, Instant>,
}

impl Sweeper {
    pub fn new(dir: &Path, grace: Duration) -> Sweeper {
        Sweeper {
            dir: dir.to_path_buf(),
            grace,
            unlisted_since: HashMap::new(),
        }
    }

    /// One pass; returns the number of files deleted.
    pub fn sweep(&mut self, global: &Global) -> usize {
        // A halted Global stops listing new segments; nothing it omits can be trusted.
        if global.halted().is_some() {
            return 0;
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return 0;
        };
        let files: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".seg").map(str::to_string)
            })
            .collect();
        let unlisted: Vec<String> = global.read(|s| {
            files
                .into_iter()
                .filter(|id| !s.segments.contains_key(id))
                .collect()
        });
        let now = Instant::now();
        let mut seen = HashMap::with_capacity(unlisted.len());
        let mut deleted = 0;
        for id in unlisted {
            let since = self.unlisted_since.get(&id).copied().unwrap_or(now);
            if now.duration_since(since) >= self.grace {
                let path = crate::merge::segment_path(&self.dir, &id);
                match std::fs::remove_file(&path) {
                    Ok(()) => {
                        deleted += 1;
                        crate::metrics::SEGMENT_FILES_SWEPT.inc();
                    }
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "could not delete an unlisted segment file")
                    }
                }
            } else {
                seen.insert(id, since);
            }
        }
        self.unlisted_since = seen;
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_global::{Retention, SegmentInfo};

    fn seg(id: &str, repo: &str, max_ts: i64, raw: u64) -> SegmentInfo {
        SegmentInfo {
            id: id.into(),
            repo: repo.into(),
            tags: Default::default(),
            min_ts: max_ts - 10,
            max_ts,
            event_count: 1,
            raw_bytes: raw,
            file_bytes: raw / 10,
            file_crc: 0,
            codec: "lz4".into(),
            partition: 0,
            first_offset: 0,
            last_offset: 0,
            nodes: Default::default(),
            bucket_key: None,
            merged: false,
            merge_target: None,
            created_ms: 0,
            version: 0,
        }
    }

    fn state(retention: Retention) -> State {
        let mut st = State::default();
        st.apply(
            0,
            &GlobalEvent::CreateRepository {
                name: "web".into(),
                description: String::new(),
            },
        );
        st.apply(
            1,
            &GlobalEvent::UpdateRepository {
                name: "web".into(),
                expected_version: 0,
                description: String::new(),
                retention,
            },
        );
        st.apply(
            2,
            &GlobalEvent::CreateRepository {
                name: "keep".into(),
                description: String::new(),
            },
        );
        let now = 100 * DAY_MS;
        for (i, age_days) in [1i64, 5, 9, 20].iter().enumerate() {
            for repo in ["web", "keep"] {
                st.segments.insert(seg(
                    &format!("{repo}{i}"),
                    repo,
                    now - age_days * DAY_MS,
                    1000,
                ));
            }
        }
        st
    }

    #[test]
    fn age_limit_deletes_only_whole_old_segments_of_that_repository() {
        let st = state(Retention {
            max_age_days: Some(7),
            ..Default::default()
        });
        let mut ids = expired(&st, 100 * DAY_MS);
        ids.sort();
        assert_eq!(ids, vec!["web2", "web3"]);
    }

    #[test]
    fn size_limits_keep_the_newest_segments() {
        let st = state(Retention {
            max_uncompressed_bytes: Some(2500),
            ..Default::default()
        });
        assert_eq!(expired(&st, 100 * DAY_MS), vec!["web2", "web3"]);
        let st = state(Retention {
            max_compressed_bytes: Some(100),
            ..Default::default()
        });
        assert_eq!(expired(&st, 100 * DAY_MS), vec!["web1", "web2", "web3"]);
        let st = state(Retention::default());
        assert!(expired(&st, 100 * DAY_MS).is_empty());
    }
}
