//! The cluster over GraphQL (LogScale: `cluster { nodes … ingestPartitions … }`): nodes and
//! their state, digest partitions with their node lists and ingest lag, segment counts and
//! sizes, the bucket upload backlog, and the queue bytes each partition's open buffers pin.

use async_graphql::{Context, Error, Object, SimpleObject};
use strata_global::NodeState;

use super::{node, require_system};
use crate::auth::SystemPermission;
use crate::queue::INGEST_TOPIC;

#[derive(SimpleObject)]
pub struct ClusterNode {
    id: u32,
    /// Internal URL the node registered.
    uri: String,
    zone: Option<String>,
    /// `Running`, `Offline` or `Draining`.
    state: String,
    is_available: bool,
    /// True for the node answering this request.
    is_this_node: bool,
    segment_count: usize,
    segment_bytes: u64,
    /// Partitions this node is the digest primary of.
    primary_partitions: Vec<u32>,
}

#[derive(SimpleObject)]
pub struct IngestPartition {
    id: u32,
    /// Digest nodes, primary first.
    node_ids: Vec<u32>,
    /// Every event below this offset is in a segment.
    safe_offset: u64,
    /// Next offset the queue will assign (null when the queue did not answer).
    end_offset: Option<u64>,
    /// Events acknowledged but not yet in a segment (end − safe).
    lag: Option<u64>,
    truncated_offset: u64,
    /// Ingest queue bytes the partition's open work-in-progress buffers hold back from
    /// truncation (`strata_digest_pinned_queue_bytes`); known only to the partition's digest
    /// primary, so null when another node is.
    pinned_queue_bytes: Option<u64>,
}

#[derive(SimpleObject)]
pub struct UploadBacklog {
    segments: usize,
    bytes: u64,
}

pub struct Cluster;

#[Object]
impl Cluster {
    async fn nodes(&self, ctx: &Context<'_>) -> Result<Vec<ClusterNode>, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        let n = node(ctx);
        let me = n.cfg.node_id;
        Ok(n.global.read(|s| {
            // One pass over the segments for every node's figures.
            let mut held: std::collections::HashMap<u32, (usize, u64)> = Default::default();
            for seg in s.segments.values() {
                for id in &seg.nodes {
                    let e = held.entry(*id).or_default();
                    e.0 += 1;
                    e.1 += seg.file_bytes;
                }
            }
            s.nodes
                .values()
                .map(|x| {
                    let (count, bytes) = held.get(&x.id).copied().unwrap_or_default();
                    ClusterNode {
                        id: x.id,
                        uri: x.url.clone(),
                        zone: x.zone.clone(),
                        state: format!("{:?}", x.state),
                        is_available: x.id == me || x.state == NodeState::Running,
                        is_this_node: x.id == me,
                        segment_count: count,
                        segment_bytes: bytes,
                        primary_partitions: s
                            .partitions
                            .iter()
                            .filter(|(_, p)| p.nodes.first() == Some(&x.id))
                            .map(|(id, _)| *id)
                            .collect(),
                    }
                })
                .collect()
        }))
    }

    async fn ingest_partitions(&self, ctx: &Context<'_>) -> Result<Vec<IngestPartition>, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        let n = node(ctx);
        let parts: Vec<(u32, Vec<u32>, u64, u64)> = n.global.read(|s| {
            s.partitions
                .iter()
                .map(|(id, p)| (*id, p.nodes.clone(), p.safe_offset, p.truncated_offset))
                .collect()
        });
        let mut out = Vec::with_capacity(parts.len());
        for (id, node_ids, safe_offset, truncated_offset) in parts {
            let end_offset = n.queue.end_offset(INGEST_TOPIC, id).await.ok();
            out.push(IngestPartition {
                id,
                safe_offset,
                end_offset,
                lag: end_offset.map(|e| e.saturating_sub(safe_offset)),
                truncated_offset,
                pinned_queue_bytes: (node_ids.first() == Some(&n.cfg.node_id))
                    .then(|| crate::metrics::PINNED_QUEUE_BYTES.get(id)),
                node_ids,
            });
        }
        Ok(out)
    }

    async fn segment_count(&self, ctx: &Context<'_>) -> Result<usize, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        Ok(node(ctx).global.read(|s| s.segments.len()))
    }

    async fn segment_bytes(&self, ctx: &Context<'_>) -> Result<u64, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        Ok(node(ctx)
            .global
            .read(|s| s.segments.values().map(|x| x.file_bytes).sum()))
    }

    /// The bucket URL, when one is configured.
    async fn bucket(&self, ctx: &Context<'_>) -> Result<Option<String>, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        Ok(node(ctx).cfg.bucket.clone())
    }

    /// Segments on this node not yet uploaded to the bucket.
    async fn bucket_upload_backlog(&self, ctx: &Context<'_>) -> Result<UploadBacklog, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        let n = node(ctx);
        let backlog = if n.cfg.bucket.is_some() {
            crate::bucket::sync::backlog(&n.global, n.cfg.node_id)
        } else {
            Vec::new()
        };
        Ok(UploadBacklog {
            segments: backlog.len(),
            bytes: backlog.iter().map(|s| s.file_bytes).sum(),
        })
    }

    async fn replication_factor(&self, ctx: &Context<'_>) -> Result<u32, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        Ok(node(ctx).global.read(|s| s.replication_factor))
    }
}

#[derive(Default)]
pub struct ClusterQuery;

#[Object]
impl ClusterQuery {
    async fn cluster(&self, ctx: &Context<'_>) -> Result<Cluster, Error> {
        require_system(ctx, SystemPermission::ReadHealthCheck)?;
        Ok(Cluster)
    }
}
