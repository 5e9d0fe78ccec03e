//! Merger: once a merge target has enough mini segments (or its newest is old enough), merges
//! them into one zstd segment, swaps them in Global (`ReplaceSegments`, which fails if any mini
//! vanished meanwhile), and deletes the minis' files after a grace period so searches that
//! planned with them can finish.
//!
//! With a bucket, the merged file is uploaded (verified) before the swap and announced with
//! its bucket key: the minis were in the bucket and the queue may already be truncated past
//! them, so retiring them for a segment on one disk only would let that disk's loss (or bucket
//! garbage collection of the minis' objects) lose acknowledged events. A failed upload leaves
//! the minis in place and the merge is retried. The merged file itself is fsynced with its
//! directory by the segment writer before any of this.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use strata_global::{Global, GlobalEvent, SegmentInfo};
use strata_segment::{merge_segments, SegmentReader, WriterOptions};
use tokio::sync::watch;

/// Settings of the merger.
#[derive(Clone)]
pub struct MergeConfig {
    pub node_id: u32,
    pub store: Arc<crate::store::SegmentStore>,
    pub minis_per_merge: u32,
    pub merge_after: Duration,
    /// How long replaced minis stay on disk for searches already running.
    pub delete_grace: Duration,
    /// Where merged segments are uploaded before they replace their minis.
    pub bucket: Option<crate::bucket::Bucket>,
}

/// What a segment writer knows besides the file summary, to announce the segment in Global.
pub struct NewSegment {
    pub id: String,
    pub repo: String,
    pub tags: std::collections::BTreeMap<String, String>,
    pub partition: u32,
    pub first_offset: u64,
    pub last_offset: u64,
    pub node: u32,
    pub merged: bool,
    pub merge_target: Option<String>,
}

impl NewSegment {
    /// Global's record of the segment just written.
    pub fn info(self, summary: &strata_segment::SegmentSummary) -> SegmentInfo {
        SegmentInfo {
            id: self.id.into(),
            repo: self.repo.into(),
            tags: self.tags.into(),
            min_ts: summary.min_ts,
            max_ts: summary.max_ts,
            event_count: summary.event_count,
            raw_bytes: summary.raw_bytes,
            file_bytes: summary.file_bytes,
            file_crc: summary.file_crc,
            codec: summary.codec.name().into(),
            partition: self.partition,
            first_offset: self.first_offset,
            last_offset: self.last_offset,
            nodes: [self.node].into(),
            bucket_key: None,
            merged: self.merged,
            merge_target: self.merge_target.map(Into::into),
            created_ms: crate::text::now_ms(),
            version: 0,
        }
    }
}

/// Runs until `shutdown`.
pub async fn run(cfg: MergeConfig, global: Global, mut shutdown: watch::Receiver<bool>) {
    let mut pending_deletes: Vec<(tokio::time::Instant, Vec<String>)> = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        let now = tokio::time::Instant::now();
        pending_deletes.retain(|(at, ids)| {
            if *at > now {
                return true;
            }
            for id in ids {
                let _ = cfg.store.delete(id);
            }
            false
        });
        let now_ms = crate::text::now_ms();
        let groups: Vec<Vec<SegmentInfo>> = global.read(|s| {
            let mut by_target: BTreeMap<&str, Vec<&SegmentInfo>> = BTreeMap::new();
            for seg in s.segments.values() {
                if !seg.merged && seg.nodes.contains(&cfg.node_id) {
                    if let Some(t) = &seg.merge_target {
                        by_target.entry(t.as_str()).or_default().push(seg);
                    }
                }
            }
            by_target
                .into_values()
                .filter(|g| {
                    let newest = g.iter().map(|s| s.created_ms).max().unwrap_or(0);
                    g.len() >= cfg.minis_per_merge as usize
                        || now_ms - newest >= cfg.merge_after.as_millis() as i64
                })
                .map(|g| g.into_iter().cloned().collect())
                .collect()
        });
        for group in groups {
            if *shutdown.borrow() {
                return;
            }
            match merge_group(&cfg, &global, group).await {
                Ok(Some(removed)) => {
                    pending_deletes.push((tokio::time::Instant::now() + cfg.delete_grace, removed))
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "merge failed; will retry"),
            }
        }
    }
}

async fn merge_group(
    cfg: &MergeConfig,
    global: &Global,
    mut group: Vec<SegmentInfo>,
) -> anyhow::Result<Option<Vec<String>>> {
    group.sort_by(|a, b| a.id.cmp(&b.id));
    let id = crate::store::SegmentStore::new_merged_id(cfg.node_id);
    // Until ReplaceSegments is answered, the file is ours alone: keep the sweeper off it.
    let _announcing = cfg.store.announcing(&id);
    let out = cfg.store.path(&id);
    let paths: Vec<PathBuf> = group.iter().map(|s| cfg.store.path(&s.id)).collect();
    let out2 = out.clone();
    let summary =
        tokio::task::spawn_blocking(move || -> anyhow::Result<strata_segment::SegmentSummary> {
            let readers = paths
                .iter()
                .map(SegmentReader::open)
                .collect::<Result<Vec<_>, _>>()?;
            let refs: Vec<&SegmentReader> = readers.iter().collect();
            Ok(merge_segments(&refs, &out2, WriterOptions::merged())?)
        })
        .await??;
    let bucket_key = match &cfg.bucket {
        Some(bucket) => {
            let key = crate::bucket::Bucket::segment_key(&id);
            match bucket.put_file(&key, &out).await {
                Ok(bytes) => {
                    crate::metrics::BUCKET_UPLOADS.inc();
                    crate::metrics::BUCKET_UPLOAD_BYTES.inc_by(bytes);
                    Some(key)
                }
                Err(e) => {
                    crate::metrics::MERGE_UPLOAD_FAILURES.inc();
                    let _ = cfg.store.delete(&id);
                    anyhow::bail!("uploading merged segment {id} failed, minis kept: {e}");
                }
            }
        }
        None => None,
    };
    let first = &group[0];
    let mut info = NewSegment {
        id: id.clone(),
        repo: first.repo.to_string(),
        tags: (*first.tags).clone(),
        partition: first.partition,
        first_offset: group.iter().map(|s| s.first_offset).min().unwrap_or(0),
        last_offset: group.iter().map(|s| s.last_offset).max().unwrap_or(0),
        node: cfg.node_id,
        merged: true,
        merge_target: None,
    }
    .info(&summary);
    info.bucket_key = bucket_key;
    let removed: Vec<String> = group.iter().map(|s| s.id.to_string()).collect();
    let (_, outcome) = global
        .publish(GlobalEvent::ReplaceSegments {
            remove: removed.clone(),
            add: info,
        })
        .await?;
    if outcome.is_applied() {
        crate::metrics::MERGE_SEGMENTS.inc();
        tracing::info!(merged = %id, minis = removed.len(), events = summary.event_count, "merged mini segments");
        Ok(Some(removed))
    } else {
        let _ = cfg.store.delete(&id);
        tracing::info!(?outcome, "merge swap rejected; discarding merged file");
        Ok(None)
    }
}
