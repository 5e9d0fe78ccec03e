//! Retention.
//!
//! Retention (LogScale's time-, ingest-size- and storage-size-based retention) deletes a
//! repository's oldest whole segments: those whose newest event is older than the age limit,
//! and, newest first, those past the ingested (raw) or stored (compressed) byte limits. Work in
//! progress is never cut. One node publishes the deletion — the lowest-id running node, which
//! every node derives from Global alike — so a cluster does not publish it N times.
//! The files of deleted segments are swept from local disk by `store::Sweeper`.

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
