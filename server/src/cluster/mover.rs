//! The segment mover: replication between nodes. Each segment should be held by
//! `--replication-factor` live nodes (2 without a bucket, 1 with one, never more than the
//! cluster has). Which nodes is rendezvous hashing of the segment id over the live nodes, so
//! every node computes the same targets without talking; a target that lacks the file fetches
//! it from a live holder through `Peers::fetch_segment`, verifies size and crc32 against Global, writes
//! it (`SegmentStore::install`: `.partial`, fsync, rename) and records the copy with `AddSegmentHolder`.

use std::sync::Arc;
use std::time::Duration;

use strata_global::{GlobalEvent, SegmentInfo};
use tokio::sync::watch;

use crate::ctx::NodeCtx;

/// Segments fetched per pass (each pass re-reads Global).
const PER_PASS: usize = 16;

fn rank(id: &str, node: u32) -> u64 {
    strata_segment::hash64(format!("{id}/{node}").as_bytes())
}

/// The segments this node should copy now, with the live holders to copy them from.
pub fn wanted(
    segments: impl Iterator<Item = SegmentInfo>,
    live: &[u32],
    me: u32,
    factor: u32,
) -> Vec<(SegmentInfo, Vec<u32>)> {
    let copies = (factor as usize).min(live.len());
    let mut out = Vec::new();
    for seg in segments {
        if seg.nodes.contains(&me) {
            continue;
        }
        let holders: Vec<u32> = live
            .iter()
            .copied()
            .filter(|n| seg.nodes.contains(n))
            .collect();
        if holders.is_empty() || holders.len() >= copies {
            continue; // no source to copy from, or enough copies
        }
        let mut candidates: Vec<u32> = live
            .iter()
            .copied()
            .filter(|n| !seg.nodes.contains(n))
            .collect();
        candidates.sort_by_key(|n| std::cmp::Reverse(rank(&seg.id, *n)));
        if candidates[..copies - holders.len()].contains(&me) {
            out.push((seg, holders));
        }
    }
    out
}

/// Copies a segment from node `from`, verified against Global's size and crc32.
async fn fetch(ctx: &NodeCtx, seg: &SegmentInfo, from: u32) -> Result<(), String> {
    let bytes = ctx
        .peers
        .fetch_segment(from, &seg.id)
        .await
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 != seg.file_bytes || crc32fast::hash(&bytes) != seg.file_crc {
        return Err(format!(
            "copy of {} from node {from} does not match Global's size and crc32",
            seg.id
        ));
    }
    ctx.store
        .install(&seg.id, bytes)
        .await
        .map_err(|e| e.to_string())
}

/// Copies under-replicated segments to this node until shutdown.
pub async fn run(ctx: Arc<NodeCtx>, mut shutdown: watch::Receiver<bool>) {
    if ctx.cfg.cluster_secret.is_none() {
        return; // the internal API is closed without a secret: nothing to copy from
    }
    let me = ctx.cfg.node_id;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        if !ctx.membership.settled() {
            continue;
        }
        let live = ctx.membership.live_nodes(&ctx.global);
        let todo = ctx.global.read(|s| {
            wanted(
                s.segments.values().cloned(),
                &live,
                me,
                ctx.cfg.replication_factor,
            )
        });
        for (seg, holders) in todo.into_iter().take(PER_PASS) {
            if *shutdown.borrow() {
                return;
            }
            let mut done = false;
            for h in holders {
                match fetch(&ctx, &seg, h).await {
                    Ok(()) => {
                        done = true;
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(segment = %seg.id, from = h, error = %e, "replicating a segment failed")
                    }
                }
            }
            if done {
                let ev = GlobalEvent::AddSegmentHolder {
                    id: seg.id.to_string(),
                    node: me,
                };
                match ctx.global.publish(ev).await {
                    Ok((_, o)) if o.is_applied() => {
                        crate::metrics::CLUSTER_SEGMENTS_REPLICATED.inc()
                    }
                    // Deleted or merged away meanwhile: the copy is now unlisted and swept.
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: &str, nodes: &[u32]) -> SegmentInfo {
        SegmentInfo {
            id: id.into(),
            repo: "r".into(),
            tags: Default::default(),
            min_ts: 0,
            max_ts: 0,
            event_count: 1,
            raw_bytes: 1,
            file_bytes: 1,
            file_crc: 0,
            codec: "lz4".into(),
            partition: 0,
            first_offset: 0,
            last_offset: 0,
            nodes: nodes.iter().copied().collect(),
            bucket_key: None,
            merged: false,
            merge_target: None,
            created_ms: 0,
            version: 0,
        }
    }

    #[test]
    fn exactly_the_missing_copies_are_made_by_agreed_nodes() {
        let live = [1, 2, 3];
        for i in 0..50 {
            let s = seg(&format!("s{i}"), &[1]);
            let takers: Vec<u32> = live
                .iter()
                .copied()
                .filter(|me| !wanted(std::iter::once(s.clone()), &live, *me, 2).is_empty())
                .collect();
            assert_eq!(takers.len(), 1, "one node copies s{i}: {takers:?}");
            assert_ne!(takers[0], 1);
            let all = wanted(std::iter::once(s.clone()), &live, takers[0], 3);
            assert_eq!(all.len(), 1);
        }
        // Enough copies, or no live source: nothing to do.
        assert!(wanted(std::iter::once(seg("a", &[1, 2])), &live, 3, 2).is_empty());
        assert!(wanted(std::iter::once(seg("a", &[9])), &live, 3, 2).is_empty());
        // Never more copies than live nodes.
        assert!(wanted(std::iter::once(seg("a", &[1])), &[1], 2, 2).is_empty());
    }
}
