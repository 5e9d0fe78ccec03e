//! Wires one node together: queue, Global, digest, merger, mover, uploader, housekeeping,
//! HTTP API, and graceful shutdown.
//! SIGTERM/SIGINT: stop accepting requests, close every WIP buffer into segments, write a
//! Global snapshot, exit 0. SIGKILL at any moment loses nothing acknowledged (see ingest and
//! digest).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use strata_global::{Global, GlobalEvent};
use tokio::sync::watch;

use crate::api;
use crate::config::Config;
use crate::ctx::NodeCtx;
use crate::digest::{DigestConfig, WipRegistry};
use crate::housekeeping::write_snapshot;
use crate::ingest::Ingester;
use crate::merge::{self, MergeConfig};
use crate::queue::embedded::EmbeddedQueue;
use crate::queue::kafka::{KafkaQueue, TopicsFile};
use crate::queue::{Queue, QueueGlobalLog, CHATTER_TOPIC, GLOBAL_TOPIC, INGEST_TOPIC};
use crate::search::Searcher;
use crate::store::SegmentStore;

/// Offsets an empty embedded queue must start at after a restore from the bucket.
type Seeds = Vec<(&'static str, u32, u64)>;

/// Opens the raft queue and starts answering its RPCs (see `api::internal_raft::EarlyServer`).
async fn open_raft_queue(
    cfg: &Config,
    peers: &std::collections::BTreeMap<u64, String>,
) -> Result<(Arc<dyn Queue>, api::internal_raft::EarlyServer)> {
    let mut opts = crate::queue::raft::RaftOptions::new(
        cfg.raft_id,
        peers.clone(),
        cfg.cluster_secret.clone().unwrap_or_default(),
    );
    opts.layout = vec![
        (GLOBAL_TOPIC.to_string(), 1),
        (INGEST_TOPIC.to_string(), cfg.ingest_partitions),
        (CHATTER_TOPIC.to_string(), 1),
    ];
    // Entries between snapshots; tests lower it so a wiped node rejoins by InstallSnapshot.
    if let Some(n) = std::env::var("STRATA_RAFT_SNAPSHOT_EVERY")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        opts.snapshot_every = n;
    }
    let dir = cfg.data_dir.join("raft");
    let q = Arc::new(
        crate::queue::raft::RaftQueue::open(&dir, opts)
            .await
            .with_context(|| format!("opening the raft queue in {}", dir.display()))?,
    );
    let early = api::internal_raft::EarlyServer::bind(cfg.http_addr, q.clone(), shutdown_signal())
        .await
        .with_context(|| format!("binding {}", cfg.http_addr))?;
    if q.joining() {
        q.wait_until_replicated().await;
    }
    Ok((q, early))
}

async fn open_queue(cfg: &Config, seeds: &Seeds) -> Result<Arc<dyn Queue>> {
    match &cfg.kafka_brokers {
        None => {
            let dir = cfg.data_dir.join("queue");
            let q = EmbeddedQueue::open(
                &dir,
                &[
                    (GLOBAL_TOPIC, 1),
                    (INGEST_TOPIC, cfg.ingest_partitions),
                    (CHATTER_TOPIC, 1),
                ],
            )
            .with_context(|| format!("opening the embedded queue in {}", dir.display()))?;
            for (topic, p, offset) in seeds {
                q.seed(topic, *p, *offset)
                    .with_context(|| format!("seeding {topic}/{p} at {offset}"))?;
            }
            Ok(Arc::new(q))
        }
        Some(brokers) => {
            let file = TopicsFile::load(std::path::Path::new("kafka-topics.yaml"))
                .unwrap_or_else(|_| TopicsFile::builtin());
            let mut topics = file.topics.clone();
            if let Some(t) = topics.iter_mut().find(|t| t.name == INGEST_TOPIC) {
                t.partitions = cfg.ingest_partitions;
            }
            let q = KafkaQueue::connect(brokers, &topics, cfg.create_topics, cfg.node_id).await?;
            Ok(Arc::new(q))
        }
    }
}

/// Runs a node until SIGTERM/SIGINT.
pub async fn run(cfg: Config) -> Result<()> {
    let segments_dir = cfg.data_dir.join("segments");
    let store = Arc::new(
        SegmentStore::open(&segments_dir)
            .with_context(|| format!("opening {}", segments_dir.display()))?,
    );
    let bucket = match &cfg.bucket {
        Some(url) => Some(
            crate::bucket::Bucket::open(url, cfg.s3_endpoint.as_deref())
                .context("opening the bucket")?,
        ),
        None => None,
    };
    let seeds = match &bucket {
        Some(b) => restore_from_bucket(b, &cfg).await?,
        None => Vec::new(),
    };
    let (queue, early) = match &cfg.raft_peers {
        Some(peers) => {
            let (q, e) = open_raft_queue(&cfg, peers).await?;
            (q, Some(e))
        }
        None => (open_queue(&cfg, &seeds).await?, None),
    };
    let global = Global::open(
        Arc::new(QueueGlobalLog {
            queue: queue.clone(),
        }),
        &cfg.data_dir,
    );
    global.catch_up().await.context("replaying global-events")?;
    let partitions = queue.partitions(INGEST_TOPIC);
    tracing::info!(
        node = cfg.node_id,
        partitions,
        offset = global.next_offset(),
        "global replayed"
    );

    // Register this node and take every partition nobody digests yet.
    global
        .publish(GlobalEvent::RegisterNode {
            id: cfg.node_id,
            url: cfg.advertise_url.clone(),
            zone: None,
        })
        .await?;
    for p in 0..partitions {
        let (nodes, version) = global.read(|s| {
            s.partitions
                .get(&p)
                .map(|x| (x.nodes.clone(), x.version))
                .unwrap_or_default()
        });
        if nodes.is_empty() {
            global
                .publish(GlobalEvent::SetPartitionNodes {
                    partition: p,
                    nodes: vec![cfg.node_id],
                    expected_version: version,
                })
                .await?;
        }
    }

    let wip = Arc::new(WipRegistry::new(partitions));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let dcfg = DigestConfig::new(&cfg, store.clone());
    // Digest whatever Global makes this node primary of (it changes as nodes come and go).
    let digests = vec![tokio::spawn(crate::digest::run_digest_manager(
        partitions,
        dcfg.clone(),
        queue.clone(),
        global.clone(),
        wip.clone(),
        shutdown_rx.clone(),
    ))];
    let clustered = cfg.kafka_brokers.is_some() || cfg.raft_peers.is_some();
    let membership = Arc::new(crate::cluster::Membership::new(
        cfg.node_id,
        Duration::from_millis(cfg.node_timeout_ms),
        clustered,
    ));
    let mut cluster_tasks = Vec::new();
    if clustered {
        cluster_tasks.push(tokio::spawn(crate::cluster::run_heartbeats(
            queue.clone(),
            membership.clone(),
            shutdown_rx.clone(),
        )));
        cluster_tasks.push(tokio::spawn(crate::cluster::run_coordinator(
            global.clone(),
            membership.clone(),
            shutdown_rx.clone(),
        )));
    }
    let merger = tokio::spawn(merge::run(
        MergeConfig {
            node_id: cfg.node_id,
            store: store.clone(),
            minis_per_merge: cfg.minis_per_merge,
            merge_after: Duration::from_secs(cfg.merge_after_secs),
            delete_grace: Duration::from_secs(cfg.delete_grace_secs),
            bucket: bucket.clone(),
        },
        global.clone(),
        shutdown_rx.clone(),
    ));

    let peers = crate::cluster::rpc::HttpPeers::new(
        cfg.node_id,
        cfg.cluster_secret.clone(),
        global.clone(),
        membership.clone(),
    )
    .context("building the internal HTTP client")?;
    let ctx = Arc::new(NodeCtx {
        root_token_hash: cfg.root_token.as_deref().map(strata_global::hash_token),
        ingester: Ingester::new(
            queue.clone(),
            crate::ingest::limits::IngestLimits::from_config(&cfg),
            Some(global.clone()),
        ),
        searcher: Arc::new(Searcher::new(
            global.clone(),
            wip.clone(),
            store.clone(),
            cfg.query_cache_mb << 20,
            bucket.clone(),
        )),
        store: store.clone(),
        wip: wip.clone(),
        jobs: Default::default(),
        membership: membership.clone(),
        peers: Arc::new(peers),
        cfg: cfg.clone(),
        global: global.clone(),
        queue: queue.clone(),
    });

    if clustered {
        // Replication between nodes: each node copies the segments it should hold.
        cluster_tasks.push(tokio::spawn(crate::cluster::mover::run(
            ctx.clone(),
            shutdown_rx.clone(),
        )));
    }

    let uploader = bucket.clone().map(|b| {
        tokio::spawn(crate::bucket::sync::run_uploader(
            b,
            global.clone(),
            store.clone(),
            cfg.node_id,
            shutdown_rx.clone(),
        ))
    });

    tokio::spawn(crate::alerts::run(ctx.clone(), shutdown_rx.clone()));
    let housekeeping = tokio::spawn(crate::housekeeping::run(
        ctx.clone(),
        bucket.clone(),
        shutdown_rx.clone(),
    ));

    if let Some(early) = early {
        tracing::info!(addr = %cfg.http_addr, "strata is serving (raft queue)");
        early.serve(api::router(ctx.clone())).await?;
    } else {
        let listener = tokio::net::TcpListener::bind(cfg.http_addr)
            .await
            .with_context(|| format!("binding {}", cfg.http_addr))?;
        tracing::info!(addr = %cfg.http_addr, "strata is serving");
        // With the peer address, so the audit log records who called.
        axum::serve(
            listener,
            api::router(ctx.clone()).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    }

    tracing::info!("shutting down: closing work in progress into segments");
    let _ = shutdown_tx.send(true);
    for d in digests {
        let _ = d.await;
    }
    let _ = merger.await;
    let _ = housekeeping.await;
    for t in cluster_tasks {
        let _ = t.await;
    }
    if let Some(u) = uploader {
        let _ = u.await;
    }
    if let Some(b) = &bucket {
        // Upload what the digests just closed, so a wiped disk loses nothing.
        match tokio::time::timeout(
            Duration::from_secs(60),
            crate::bucket::sync::upload_pending(b, &global, &store, cfg.node_id),
        )
        .await
        {
            Ok(Ok(n)) => tracing::info!(segments = n, "uploaded remaining segments"),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "bucket unreachable at shutdown; segments stay local and upload at the next start")
            }
            Err(_) => tracing::warn!(
                "uploading at shutdown timed out; the rest uploads at the next start"
            ),
        }
    }
    let _ = write_snapshot(&global, &cfg.data_dir, bucket.as_ref()).await;
    tracing::info!("shutdown complete");
    Ok(())
}

/// A node with no Global snapshot of its own and a bucket that holds one restores Global from
/// the newest snapshot there. Returns where the (empty) embedded queue must continue.
async fn restore_from_bucket(bucket: &crate::bucket::Bucket, cfg: &Config) -> Result<Seeds> {
    let dir = &cfg.data_dir;
    if dir.join(strata_global::snapshot::SNAPSHOT_FILE).exists()
        || dir
            .join(strata_global::snapshot::PREVIOUS_SNAPSHOT_FILE)
            .exists()
    {
        return Ok(Vec::new());
    }
    let Some((key, bytes)) = bucket
        .newest_snapshot()
        .await
        .context("reading snapshots from the bucket")?
    else {
        return Ok(Vec::new());
    };
    let snap = strata_global::snapshot::decode(&key, &bytes)
        .with_context(|| format!("bucket snapshot {key} is unusable"))?;
    std::fs::create_dir_all(dir)?;
    strata_global::snapshot::write_bytes(dir, &bytes)?;
    let mut seeds: Seeds = vec![(GLOBAL_TOPIC, 0, snap.next_offset)];
    let mut ends: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
    for (p, info) in &snap.state.partitions {
        let e = ends.entry(*p).or_default();
        *e = (*e).max(info.safe_offset).max(info.truncated_offset);
    }
    let mut lost = 0;
    for seg in snap.state.segments.values() {
        let e = ends.entry(seg.partition).or_default();
        *e = (*e).max(seg.last_offset + 1);
        if seg.bucket_key.is_none() {
            lost += 1;
        }
    }
    for (p, end) in ends {
        seeds.push((INGEST_TOPIC, p, end));
    }
    tracing::warn!(
        snapshot = %key,
        segments = snap.state.segments.len(),
        not_in_bucket = lost,
        "restored Global from the bucket; segments will be fetched on demand"
    );
    Ok(seeds)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
