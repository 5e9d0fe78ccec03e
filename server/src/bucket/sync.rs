//! The node's bucket duties, all off the ingest path: the uploader (segments this node holds
//! that are not yet in the bucket, oldest first, verified, then recorded in Global; failures
//! back off and grow a visible backlog), queue truncation below the durable offset, and disk
//! budget eviction of segments that are safely in the bucket.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strata_global::{Global, GlobalEvent, SegmentInfo};
use tokio::sync::watch;

use super::Bucket;
use crate::queue::{Queue, Truncation, INGEST_TOPIC};

/// Uploads in flight at once (each verified by reading it back).
const UPLOADS_IN_PARALLEL: usize = 4;

/// Segments this node holds that still wait for upload.
pub fn backlog(global: &Global, node_id: u32) -> Vec<SegmentInfo> {
    let mut v: Vec<SegmentInfo> = global.read(|s| {
        s.segments
            .values()
            .filter(|x| x.bucket_key.is_none() && x.nodes.contains(&node_id))
            .cloned()
            .collect()
    });
    v.sort_by_key(|s| (s.created_ms, s.id.clone()));
    v
}

/// Uploads every pending segment once; returns how many were uploaded. Stops at the first
/// failure (the bucket is likely down; the caller backs off).
pub async fn upload_pending(
    bucket: &Bucket,
    global: &Global,
    store: &crate::store::SegmentStore,
    node_id: u32,
) -> Result<usize, super::BucketError> {
    use futures::StreamExt;
    let mut n = 0;
    let pending: Vec<SegmentInfo> = backlog(global, node_id)
        .into_iter()
        .filter(|seg| store.path(&seg.id).exists())
        .collect();
    let mut uploads = futures::stream::iter(pending)
        .map(|seg| async move {
            let path = store.path(&seg.id);
            let key = Bucket::segment_key(&seg.id);
            let r = bucket.put_file(&key, &path).await;
            (seg, key, r)
        })
        .buffer_unordered(UPLOADS_IN_PARALLEL);
    while let Some((seg, key, r)) = uploads.next().await {
        let bytes = r.inspect_err(|_| {
            crate::metrics::BUCKET_UPLOAD_FAILURES.inc();
        })?;
        crate::metrics::BUCKET_UPLOADS.inc();
        crate::metrics::BUCKET_UPLOAD_BYTES.inc_by(bytes);
        // Only now may the queue below this segment's events be truncated.
        if let Err(e) = global
            .publish(GlobalEvent::SetSegmentInBucket {
                id: seg.id.to_string(),
                key,
            })
            .await
        {
            tracing::warn!(error = %e, segment = %seg.id, "recording an upload in Global failed");
        }
        n += 1;
    }
    Ok(n)
}

/// Uploads pending segments until shutdown, backing off while the bucket fails.
pub async fn run_uploader(
    bucket: Bucket,
    global: Global,
    store: std::sync::Arc<crate::store::SegmentStore>,
    node_id: u32,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Duration::from_millis(500);
    let mut failing = false;
    loop {
        let wait = match upload_pending(&bucket, &global, &store, node_id).await {
            Ok(n) => {
                if failing {
                    tracing::info!(
                        uploaded = n,
                        "bucket reachable again; upload backlog drained"
                    );
                    failing = false;
                }
                backoff = Duration::from_millis(500);
                Duration::from_millis(if n > 0 { 10 } else { 500 })
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "bucket upload failed; retrying with backoff (ingest continues)");
                    failing = true;
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                backoff
            }
        };
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Offset below which every event of `partition` is in segments durable by policy: with a
/// bucket, in the bucket; otherwise held by `replication_factor` nodes (at most as many as the
/// cluster has).
pub fn durable_offset(
    global: &Global,
    partition: u32,
    with_bucket: bool,
    replication_factor: u32,
) -> u64 {
    global.read(|s| {
        let safe = s.partitions.get(&partition).map_or(0, |p| p.safe_offset);
        let copies = (replication_factor as usize).clamp(1, s.nodes.len().max(1));
        s.segments
            .values()
            .filter(|x| x.partition == partition)
            .filter(|x| {
                if with_bucket {
                    x.bucket_key.is_none()
                } else {
                    x.nodes.len() < copies
                }
            })
            .map(|x| x.first_offset)
            .min()
            .map_or(safe, |o| o.min(safe))
    })
}

/// Truncates each ingest partition below its durable offset; records the new start in Global.
pub async fn truncate_queue(
    global: &Global,
    queue: &Arc<dyn Queue>,
    with_bucket: bool,
    replication_factor: u32,
    unsupported_logged: &AtomicBool,
) {
    for p in 0..queue.partitions(INGEST_TOPIC) {
        let below = durable_offset(global, p, with_bucket, replication_factor);
        let done = global.read(|s| s.partitions.get(&p).map_or(0, |x| x.truncated_offset));
        if below <= done {
            continue;
        }
        match queue.truncate(INGEST_TOPIC, p, below).await {
            Ok(Truncation::Done { start }) if start > done => {
                crate::metrics::QUEUE_TRUNCATIONS.inc();
                let _ = global
                    .publish(GlobalEvent::SetTruncatedOffset {
                        partition: p,
                        offset: start.min(below),
                    })
                    .await;
            }
            Ok(Truncation::Done { .. }) => {}
            Ok(Truncation::Unsupported) => {
                if !unsupported_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!("the queue cannot delete records (no DeleteRecords); it keeps growing until its own retention removes data");
                }
            }
            Err(e) => tracing::warn!(partition = p, error = %e, "queue truncation failed"),
        }
    }
}

/// Deletes segment objects neither Global nor the newest uploaded snapshot (`snapshot`, its
/// bytes) lists: segments merged away, expired by retention, or of deleted repositories. The
/// snapshot check matters because a node restored from the bucket starts from that snapshot:
/// every object it lists must still be there. Objects of segments Global lists are kept even
/// before `SetSegmentInBucket` (an upload in flight). Returns the number deleted.
///
/// Objects younger than `grace` (`--bucket-gc-grace-secs`) are never garbage: their
/// segment's `AddSegment` or `SetSegmentInBucket` may not have reached this node's Global yet
/// (an upload is verified before it is announced; a merge's object is uploaded before its
/// `ReplaceSegments`). It runs only on a Global caught up with the log's end, so a lagging
/// node never takes a new segment's object for garbage.
pub async fn collect_garbage(
    bucket: &Bucket,
    global: &Global,
    snapshot: Vec<u8>,
    grace: Duration,
) -> usize {
    const GC_CATCH_UP: Duration = Duration::from_secs(10);
    match tokio::time::timeout(GC_CATCH_UP, global.catch_up()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "Global could not catch up; skipping bucket garbage collection");
            return 0;
        }
        Err(_) => {
            tracing::warn!("Global is behind the log; skipping bucket garbage collection");
            return 0;
        }
    }
    let in_snapshot = tokio::task::spawn_blocking(move || {
        strata_global::snapshot::decode("bucket snapshot", &snapshot).map(|s| {
            s.state
                .segments
                .values()
                .map(|s| s.id.to_string())
                .collect::<std::collections::HashSet<String>>()
        })
    })
    .await;
    let in_snapshot = match in_snapshot {
        Ok(Ok(ids)) => ids,
        _ => return 0, // cannot tell what the snapshot needs: delete nothing
    };
    let cutoff = chrono::Utc::now() - chrono::Duration::from_std(grace).unwrap_or_default();
    let objects: Vec<String> = match bucket.list_aged("segments").await {
        Ok(o) => o
            .into_iter()
            .filter(|(_, _, modified)| *modified < cutoff)
            .map(|(key, _, _)| key)
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "listing bucket segments for garbage collection failed");
            return 0;
        }
    };
    let garbage: Vec<String> = global.read(|s| {
        objects
            .into_iter()
            .filter_map(|key| {
                let id = key.strip_prefix("segments/")?.to_string();
                (!in_snapshot.contains(&id) && !s.segments.contains_key(&id)).then_some(key)
            })
            .collect()
    });
    let mut n = 0;
    for key in garbage {
        match bucket.delete(&key).await {
            Ok(()) => n += 1,
            Err(e) => tracing::warn!(key, error = %e, "deleting a garbage segment object failed"),
        }
    }
    if n > 0 {
        crate::metrics::BUCKET_OBJECTS_DELETED.inc_by(n as u64);
        tracing::info!(
            objects = n,
            "deleted bucket objects of segments Global no longer lists"
        );
    }
    n
}
