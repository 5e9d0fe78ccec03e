//! The node's periodic chores, one loop ticking every second: expire query jobs, write (and
//! upload) Global snapshots and collect bucket garbage after them, truncate the ingest queue
//! below the durable offset, enforce retention and sweep unlisted segment files, and keep
//! local disk within its budget.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use strata_global::Global;
use tokio::sync::watch;

use crate::bucket::Bucket;
use crate::ctx::NodeCtx;
use crate::store::Sweeper;

/// Global snapshots kept in the bucket.
const SNAPSHOTS_KEPT: usize = 5;

/// Runs until `shutdown`.
pub async fn run(ctx: Arc<NodeCtx>, bucket: Option<Bucket>, mut shutdown: watch::Receiver<bool>) {
    let cfg = &ctx.cfg;
    let mut sweeper = Sweeper::new(Duration::from_secs(cfg.delete_grace_secs));
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_snapshot = tokio::time::Instant::now();
    let unsupported = AtomicBool::new(false);
    let mut n: u64 = 0;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        n += 1;
        ctx.jobs.expire();
        ctx.wip.live.expire_held(crate::search::jobs::JOB_EXPIRY);
        if last_snapshot.elapsed() >= Duration::from_secs(cfg.snapshot_interval_secs) {
            last_snapshot = tokio::time::Instant::now();
            let uploaded = write_snapshot(&ctx.global, &cfg.data_dir, bucket.as_ref()).await;
            if let (Some(bytes), Some(b)) = (uploaded, &bucket) {
                if crate::retention::is_enforcer(&ctx.global, cfg.node_id) {
                    crate::bucket::sync::collect_garbage(
                        b,
                        &ctx.global,
                        bytes,
                        Duration::from_secs(cfg.limits.bucket_gc_grace_secs),
                    )
                    .await;
                }
            }
        }
        if n.is_multiple_of(2) {
            crate::bucket::sync::truncate_queue(
                &ctx.global,
                &ctx.queue,
                bucket.is_some(),
                cfg.replication_factor,
                &unsupported,
            )
            .await;
        }
        if n.is_multiple_of(cfg.retention_interval_secs) {
            crate::retention::enforce(&ctx.global, cfg.node_id).await;
            sweep(&ctx, &mut sweeper);
        }
        if let (Some(mb), Some(_)) = (cfg.disk_budget_mb, &bucket) {
            let s = ctx.searcher.clone();
            let evicted = tokio::task::spawn_blocking(move || s.evict(mb << 20))
                .await
                .unwrap_or(0);
            if evicted > 0 {
                tracing::info!(evicted, "evicted local segments over the disk budget");
            }
        }
    }
}

/// Deletes local segment files Global has not listed for the grace period.
fn sweep(ctx: &NodeCtx, sweeper: &mut Sweeper) {
    // A halted Global stops listing new segments; nothing it omits can be trusted.
    if ctx.global.halted().is_some() {
        return;
    }
    let swept = sweeper.sweep(&ctx.store, |ids| {
        ctx.global
            .read(|s| ids.iter().map(|id| s.segments.contains_key(id)).collect())
    });
    if swept > 0 {
        tracing::info!(
            files = swept,
            "deleted segment files Global no longer lists"
        );
    }
}

/// Writes a Global snapshot locally and uploads it; returns the bytes when uploaded.
pub async fn write_snapshot(
    global: &Global,
    dir: &std::path::Path,
    bucket: Option<&Bucket>,
) -> Option<Vec<u8>> {
    let g = global.clone();
    let dir = dir.to_path_buf();
    let r = tokio::task::spawn_blocking(move || {
        let (off, bytes) = g.snapshot_bytes()?;
        strata_global::snapshot::write_bytes(&dir, &bytes)?;
        Ok::<_, strata_global::GlobalError>((off, bytes))
    })
    .await;
    match r {
        Ok(Ok((off, bytes))) => {
            tracing::info!(offset = off, "wrote global snapshot");
            if let Some(b) = bucket {
                match b.put_snapshot(off, bytes.clone()).await {
                    Ok(()) => {
                        tracing::info!(offset = off, "uploaded global snapshot");
                        // Older snapshots are only a fallback; keep a few.
                        if let Err(e) = b.prune_snapshots(SNAPSHOTS_KEPT).await {
                            tracing::warn!(error = %e, "pruning old snapshots in the bucket failed");
                        }
                        return Some(bytes);
                    }
                    Err(e) => {
                        crate::metrics::BUCKET_UPLOAD_FAILURES.inc();
                        tracing::warn!(error = %e, "uploading the global snapshot failed")
                    }
                }
            }
        }
        Ok(Err(e)) => tracing::warn!(error = %e, "writing global snapshot failed"),
        Err(e) => tracing::warn!(error = %e, "snapshot task failed"),
    }
    None
}
