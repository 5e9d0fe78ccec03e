//! Node configuration: command-line flags, each also settable as `STRATA_<FLAG>` in the
//! environment and in an optional TOML config file (`--config`). Precedence: flag, then
//! environment, then file, then default. Unknown keys in the file are errors naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// `strata serve` flags. Every field is optional here so a config file can fill it in.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (snake_case keys).
    #[arg(long, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where segments, the embedded queue and Global snapshots live [default: ./strata-data].
    #[arg(long, env = "STRATA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the HTTP API and UI [default: 127.0.0.1:8080].
    #[arg(long, env = "STRATA_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// Kafka bootstrap servers; absent means the embedded queue.
    #[arg(long, env = "STRATA_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// This node's id in the cluster [default: 1].
    #[arg(long, env = "STRATA_NODE_ID")]
    pub node_id: Option<u32>,
    /// Shared secret of the internal API.
    #[arg(long, env = "STRATA_CLUSTER_SECRET")]
    pub cluster_secret: Option<String>,
    /// Bucket URL (file:///path, s3://bucket/prefix, gs://, az://).
    #[arg(long, env = "STRATA_BUCKET")]
    pub bucket: Option<String>,
    /// Endpoint of an S3-compatible server.
    #[arg(long, env = "STRATA_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// URL other nodes use to reach this one [default: http://<http-addr>].
    #[arg(long, env = "STRATA_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Partitions of humio-ingest [default: kafka-topics.yaml's, 24; embedded queue: 4].
    #[arg(long, env = "STRATA_INGEST_PARTITIONS")]
    pub ingest_partitions: Option<u32>,
    /// Close a work-in-progress buffer into a mini segment at this age [default: 1800].
    #[arg(long, env = "STRATA_MINI_MAX_AGE_SECS")]
    pub mini_max_age_secs: Option<u64>,
    /// Close a work-in-progress buffer at this many raw bytes [default: 8 MiB].
    #[arg(long, env = "STRATA_MINI_MAX_BYTES")]
    pub mini_max_bytes: Option<u64>,
    /// Merge a target's minis once it has this many [default: 8].
    #[arg(long, env = "STRATA_MINIS_PER_MERGE")]
    pub minis_per_merge: Option<u32>,
    /// Merge a target's minis once its newest is this old [default: 3600].
    #[arg(long, env = "STRATA_MERGE_AFTER_SECS")]
    pub merge_after_secs: Option<u64>,
    /// Largest accepted request body [default: 32 MiB].
    #[arg(long, env = "STRATA_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Close a partition's oldest work-in-progress buffer once it keeps this many ingest queue
    /// bytes from being truncated [default: 256 MiB].
    #[arg(long, env = "STRATA_MAX_PINNED_QUEUE_BYTES")]
    pub max_pinned_queue_bytes: Option<u64>,
    /// Close a partition's oldest work-in-progress buffer once it has kept other datasources'
    /// events in the ingest queue this long [default: 300].
    #[arg(long, env = "STRATA_MAX_PINNED_QUEUE_SECS")]
    pub max_pinned_queue_secs: Option<u64>,
    /// Events accepted in one ingest request; more is a 413 [default: 1000000].
    #[arg(long, env = "STRATA_MAX_EVENTS_PER_REQUEST")]
    pub max_events_per_request: Option<usize>,
    /// Datasources (distinct tag combinations) of one repository; a request adding more is a
    /// 400 [default: 10000, LogScale's limit].
    #[arg(long, env = "STRATA_MAX_DATASOURCES_PER_REPO")]
    pub max_datasources_per_repo: Option<usize>,
    /// Bytes of one event (raw string and fields); larger events are truncated and flagged
    /// in `@error`, as LogScale's MAX_EVENT_SIZE [default: 1000000].
    #[arg(long, env = "STRATA_MAX_EVENT_BYTES")]
    pub max_event_bytes: Option<usize>,
    /// Fields of one event; the rest are dropped and the event flagged [default: 1000].
    #[arg(long, env = "STRATA_MAX_EVENT_FIELDS")]
    pub max_event_fields: Option<usize>,
    /// Ingest request bytes handled at once; past it requests are answered 429
    /// [default: 256 MiB, at least --max-body-bytes].
    #[arg(long, env = "STRATA_MAX_INGEST_BYTES_IN_FLIGHT")]
    pub max_ingest_bytes_in_flight: Option<usize>,
    /// Bucket garbage collection never deletes an object younger than this: its segment's
    /// announcement may still be on its way [default: 3600].
    #[arg(long, env = "STRATA_BUCKET_GC_GRACE_SECS")]
    pub bucket_gc_grace_secs: Option<u64>,
    /// Query jobs one user may hold on a node at once (running, finished and not yet
    /// expired, live); past it creating one is a 429 [default: 100].
    #[arg(long, env = "STRATA_MAX_QUERY_JOBS_PER_USER")]
    pub max_query_jobs_per_user: Option<usize>,
    /// Live queries (live query jobs and live streams) a node runs at once; past it a new one
    /// is a 429 [default: 500].
    #[arg(long, env = "STRATA_MAX_LIVE_QUERIES")]
    pub max_live_queries: Option<usize>,
    /// Create missing Kafka topics at start [default: true].
    #[arg(long, env = "STRATA_CREATE_TOPICS")]
    pub create_topics: Option<bool>,
    /// Write a Global snapshot this often [default: 300].
    #[arg(long, env = "STRATA_SNAPSHOT_INTERVAL_SECS")]
    pub snapshot_interval_secs: Option<u64>,
    /// Memory for decoded segment columns kept between queries, MiB [default: 1024; 0 = off].
    #[arg(long, env = "STRATA_QUERY_CACHE_MB")]
    pub query_cache_mb: Option<usize>,
    /// With a bucket: keep local segment files within this many MiB, evicting the least
    /// recently searched ones that are safely in the bucket [default: unlimited].
    #[arg(long, env = "STRATA_DISK_BUDGET_MB")]
    pub disk_budget_mb: Option<u64>,
    /// The built web UI (`ui/dist`) served at `/` [default: ./ui/dist, else the one beside
    /// the source tree the binary was built from].
    #[arg(long, env = "STRATA_UI_DIR")]
    pub ui_dir: Option<PathBuf>,
    /// Delete a segment file this long after Global stopped listing it (merged, expired by
    /// retention, repository deleted), so running searches finish reading it [default: 60].
    #[arg(long, env = "STRATA_DELETE_GRACE_SECS")]
    pub delete_grace_secs: Option<u64>,
    /// Check repository retention this often [default: 30].
    #[arg(long, env = "STRATA_RETENTION_INTERVAL_SECS")]
    pub retention_interval_secs: Option<u64>,
    /// Write every change, search and sign-in to the `humio-audit` repository [default: true].
    /// Off only where its events would get in the way, e.g. tests that count segment files.
    #[arg(long, env = "STRATA_AUDIT_LOG")]
    pub audit_log: Option<bool>,
    /// Serve `/metrics` and `/api/v1/status` without a token (for scrapers and load balancer
    /// health checks that cannot send one); otherwise they need `ReadHealthCheck`
    /// [default: false].
    #[arg(long, env = "STRATA_OPEN_MONITORING_ENDPOINTS", num_args = 0..=1, default_missing_value = "true")]
    pub open_monitoring_endpoints: Option<bool>,
    /// A node not heard from (heartbeats) for this long is offline and loses its digest
    /// partitions [default: 10000].
    #[arg(long, env = "STRATA_NODE_TIMEOUT_MS")]
    pub node_timeout_ms: Option<u64>,
    /// Nodes that keep a copy of each segment [default: 2 without a bucket, 1 with one].
    #[arg(long, env = "STRATA_REPLICATION_FACTOR")]
    pub replication_factor: Option<u32>,
    /// SMTP server for email actions (LogScale: SMTP_HOST); unset, email actions fail saying so.
    #[arg(long, env = "STRATA_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port [default: 25].
    #[arg(long, env = "STRATA_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    /// From address of alert emails [default: strata@localhost].
    #[arg(long, env = "STRATA_SMTP_SENDER_ADDRESS")]
    pub smtp_sender_address: Option<String>,
    /// SMTP user name (with --smtp-password).
    #[arg(long, env = "STRATA_SMTP_USERNAME")]
    pub smtp_username: Option<String>,
    /// SMTP password (prefer the environment variable).
    #[arg(long, env = "STRATA_SMTP_PASSWORD")]
    pub smtp_password: Option<String>,
    /// Upgrade the SMTP connection with STARTTLS [default: false].
    #[arg(long, env = "STRATA_SMTP_USE_STARTTLS")]
    pub smtp_use_starttls: Option<bool>,
    /// How often aggregate and filter alerts run their query, ms [default: 10000].
    #[arg(long, env = "STRATA_ALERT_POLL_INTERVAL_MS")]
    pub alert_poll_interval_ms: Option<u64>,
    /// Filter alerts and scheduled searches wait this long for an acknowledged event to become
    /// searchable before evaluating past it, ms [default: 5000].
    #[arg(long, env = "STRATA_ALERT_INGEST_DELAY_MS")]
    pub alert_ingest_delay_ms: Option<u64>,
    /// The raft queue (a cluster without Kafka): every voter as `ID=URL,…`, e.g.
    /// `1=http://127.0.0.1:8081,2=http://127.0.0.1:8082,3=http://127.0.0.1:8083`.
    #[arg(long, env = "STRATA_RAFT_PEERS")]
    pub raft_peers: Option<String>,
    /// This node's id in --raft-peers [default: --node-id].
    #[arg(long, env = "STRATA_RAFT_ID")]
    pub raft_id: Option<u64>,
    /// Where PagerDuty actions send their events (PagerDuty's Events API v2)
    /// [default: https://events.pagerduty.com/v2/enqueue].
    #[arg(long, env = "STRATA_PAGERDUTY_EVENTS_URL")]
    pub pagerduty_events_url: Option<String>,
}

/// The config file: same keys as the flags, nothing else.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data_dir: Option<PathBuf>,
    http_addr: Option<String>,
    kafka_brokers: Option<String>,
    node_id: Option<u32>,
    cluster_secret: Option<String>,
    bucket: Option<String>,
    s3_endpoint: Option<String>,
    advertise_url: Option<String>,
    ingest_partitions: Option<u32>,
    mini_max_age_secs: Option<u64>,
    mini_max_bytes: Option<u64>,
    minis_per_merge: Option<u32>,
    merge_after_secs: Option<u64>,
    max_body_bytes: Option<usize>,
    max_pinned_queue_bytes: Option<u64>,
    max_pinned_queue_secs: Option<u64>,
    max_events_per_request: Option<usize>,
    max_datasources_per_repo: Option<usize>,
    max_event_bytes: Option<usize>,
    max_event_fields: Option<usize>,
    max_ingest_bytes_in_flight: Option<usize>,
    bucket_gc_grace_secs: Option<u64>,
    max_query_jobs_per_user: Option<usize>,
    max_live_queries: Option<usize>,
    create_topics: Option<bool>,
    snapshot_interval_secs: Option<u64>,
    query_cache_mb: Option<usize>,
    disk_budget_mb: Option<u64>,
    ui_dir: Option<PathBuf>,
    delete_grace_secs: Option<u64>,
    retention_interval_secs: Option<u64>,
    audit_log: Option<bool>,
    open_monitoring_endpoints: Option<bool>,
    node_timeout_ms: Option<u64>,
    replication_factor: Option<u32>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_sender_address: Option<String>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    smtp_use_starttls: Option<bool>,
    alert_poll_interval_ms: Option<u64>,
    alert_ingest_delay_ms: Option<u64>,
    raft_peers: Option<String>,
    raft_id: Option<u64>,
    pagerduty_events_url: Option<String>,
}

/// Fully resolved settings of a node.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub kafka_brokers: Option<String>,
    pub node_id: u32,
    pub cluster_secret: Option<String>,
    pub bucket: Option<String>,
    pub s3_endpoint: Option<String>,
    pub advertise_url: String,
    pub ingest_partitions: u32,
    pub mini_max_age_secs: u64,
    pub mini_max_bytes: u64,
    pub minis_per_merge: u32,
    pub merge_after_secs: u64,
    pub max_body_bytes: usize,
    pub create_topics: bool,
    pub snapshot_interval_secs: u64,
    pub query_cache_mb: usize,
    pub disk_budget_mb: Option<u64>,
    pub ui_dir: PathBuf,
    pub delete_grace_secs: u64,
    pub retention_interval_secs: u64,
    pub audit_log: bool,
    pub open_monitoring_endpoints: bool,
    pub node_timeout_ms: u64,
    pub replication_factor: u32,
    pub smtp_host: Option<String>,
    pub smtp_port: u16,
    pub smtp_sender_address: String,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<String>,
    pub smtp_use_starttls: bool,
    pub alert_poll_interval_ms: u64,
    pub alert_ingest_delay_ms: u64,
    /// The raft queue's voters (id → URL); `None` unless `--raft-peers` is set.
    pub raft_peers: Option<std::collections::BTreeMap<u64, String>>,
    /// This node's raft id.
    pub raft_id: u64,
    pub pagerduty_events_url: String,
    /// `STRATA_ROOT_TOKEN`: an API token with every permission.
    pub root_token: Option<String>,
    pub limits: Limits,
}

/// The resource limits a node enforces, in one place. Request-level limits that predate this
/// struct (`max_body_bytes`) stay on [`Config`]; the per-event limits LogScale defines (field
/// count, key length) are fixed in `text/json.rs` (`MAX_FIELDS`, `MAX_KEY_BYTES`) and the
/// segment writer bounds its blocks itself (`WriterOptions::max_block_cells`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// See `--max-pinned-queue-bytes`.
    pub max_pinned_queue_bytes: u64,
    /// See `--max-pinned-queue-secs`.
    pub max_pinned_queue_secs: u64,
    /// See `--max-events-per-request`.
    pub max_events_per_request: usize,
    /// See `--max-datasources-per-repo`.
    pub max_datasources_per_repo: usize,
    /// See `--max-event-bytes`.
    pub max_event_bytes: usize,
    /// See `--max-event-fields`.
    pub max_event_fields: usize,
    /// See `--max-ingest-bytes-in-flight`.
    pub max_ingest_bytes_in_flight: usize,
    /// See `--bucket-gc-grace-secs`.
    pub bucket_gc_grace_secs: u64,
    /// See `--max-query-jobs-per-user`.
    pub max_query_jobs_per_user: usize,
    /// See `--max-live-queries`.
    pub max_live_queries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pinned_queue_bytes: 256 << 20,
            max_pinned_queue_secs: 300,
            max_events_per_request: 1_000_000,
            max_datasources_per_repo: 10_000,
            max_event_bytes: 1_000_000,
            max_event_fields: 1_000,
            max_ingest_bytes_in_flight: 256 << 20,
            bucket_gc_grace_secs: 3600,
            max_query_jobs_per_user: 100,
            max_live_queries: 500,
        }
    }
}

impl Config {
    /// Resolves flags/env over the config file over defaults.
    pub fn resolve(args: ServeArgs) -> Result<Config> {
        let file: FileConfig = match &args.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!("config file {}: {}", p.display(), e.message()))?
            }
            None => FileConfig::default(),
        };
        let http_addr_s = args
            .http_addr
            .or(file.http_addr)
            .unwrap_or_else(|| "127.0.0.1:8080".into());
        let http_addr: SocketAddr = http_addr_s
            .parse()
            .with_context(|| format!("http_addr {http_addr_s:?} is not HOST:PORT"))?;
        let kafka_brokers = args
            .kafka_brokers
            .or(file.kafka_brokers)
            .filter(|s| !s.is_empty());
        let default_partitions = if kafka_brokers.is_some() {
            kafka_topics_partitions().unwrap_or(24)
        } else {
            4
        };
        let bucket_set = args.bucket.is_some() || file.bucket.is_some();
        let ingest_partitions = args
            .ingest_partitions
            .or(file.ingest_partitions)
            .unwrap_or(default_partitions);
        if ingest_partitions == 0 || ingest_partitions > 1024 {
            anyhow::bail!("ingest_partitions must be between 1 and 1024, got {ingest_partitions}");
        }
        let d = Limits::default();
        let limits = Limits {
            // A zero byte limit would close every buffer at each batch: at least 1 MiB.
            max_pinned_queue_bytes: args
                .max_pinned_queue_bytes
                .or(file.max_pinned_queue_bytes)
                .unwrap_or(d.max_pinned_queue_bytes)
                .max(1 << 20),
            max_pinned_queue_secs: args
                .max_pinned_queue_secs
                .or(file.max_pinned_queue_secs)
                .unwrap_or(d.max_pinned_queue_secs)
                .max(1),
            max_events_per_request: args
                .max_events_per_request
                .or(file.max_events_per_request)
                .unwrap_or(d.max_events_per_request)
                .max(1),
            max_datasources_per_repo: args
                .max_datasources_per_repo
                .or(file.max_datasources_per_repo)
                .unwrap_or(d.max_datasources_per_repo)
                .max(1),
            // Room for the truncation marker and a few fields.
            max_event_bytes: args
                .max_event_bytes
                .or(file.max_event_bytes)
                .unwrap_or(d.max_event_bytes)
                .max(1024),
            max_event_fields: args
                .max_event_fields
                .or(file.max_event_fields)
                .unwrap_or(d.max_event_fields)
                .max(1),
            max_ingest_bytes_in_flight: args
                .max_ingest_bytes_in_flight
                .or(file.max_ingest_bytes_in_flight)
                .unwrap_or(d.max_ingest_bytes_in_flight)
                .max(1),
            bucket_gc_grace_secs: args
                .bucket_gc_grace_secs
                .or(file.bucket_gc_grace_secs)
                .unwrap_or(d.bucket_gc_grace_secs),
            max_query_jobs_per_user: args
                .max_query_jobs_per_user
                .or(file.max_query_jobs_per_user)
                .unwrap_or(d.max_query_jobs_per_user)
                .max(1),
            max_live_queries: args
                .max_live_queries
                .or(file.max_live_queries)
                .unwrap_or(d.max_live_queries)
                .max(1),
        };
        let cluster_secret = args.cluster_secret.or(file.cluster_secret);
        if cluster_secret
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            anyhow::bail!(
                "cluster_secret is empty: give every node the same non-empty secret, or leave it unset for a single node"
            );
        }
        let raft_peers = match args
            .raft_peers
            .or(file.raft_peers)
            .filter(|s| !s.is_empty())
        {
            None => None,
            Some(s) => Some(crate::queue::raft::parse_peers(&s).map_err(anyhow::Error::msg)?),
        };
        let raft_id = args
            .raft_id
            .or(file.raft_id)
            .unwrap_or_else(|| args.node_id.or(file.node_id).unwrap_or(1) as u64);
        if let Some(peers) = &raft_peers {
            if kafka_brokers.is_some() {
                anyhow::bail!("raft_peers and kafka_brokers both set: choose one queue");
            }
            if cluster_secret.is_none() {
                anyhow::bail!("raft_peers needs cluster_secret: raft RPCs use the internal API");
            }
            if !peers.contains_key(&raft_id) {
                anyhow::bail!("raft_id {raft_id} is not one of raft_peers");
            }
        }
        let advertise_url = args
            .advertise_url
            .or(file.advertise_url)
            .unwrap_or_else(|| format!("http://{http_addr}"));
        Ok(Config {
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./strata-data")),
            http_addr,
            kafka_brokers,
            node_id: args.node_id.or(file.node_id).unwrap_or(1),
            cluster_secret,
            bucket: args.bucket.or(file.bucket),
            s3_endpoint: args.s3_endpoint.or(file.s3_endpoint),
            advertise_url,
            ingest_partitions,
            mini_max_age_secs: args
                .mini_max_age_secs
                .or(file.mini_max_age_secs)
                .unwrap_or(1800),
            mini_max_bytes: args
                .mini_max_bytes
                .or(file.mini_max_bytes)
                .unwrap_or(8 << 20),
            minis_per_merge: args
                .minis_per_merge
                .or(file.minis_per_merge)
                .unwrap_or(8)
                .max(1),
            merge_after_secs: args
                .merge_after_secs
                .or(file.merge_after_secs)
                .unwrap_or(3600),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(32 << 20),
            create_topics: args.create_topics.or(file.create_topics).unwrap_or(true),
            snapshot_interval_secs: args
                .snapshot_interval_secs
                .or(file.snapshot_interval_secs)
                .unwrap_or(300)
                .max(1),
            query_cache_mb: args.query_cache_mb.or(file.query_cache_mb).unwrap_or(1024),
            disk_budget_mb: args.disk_budget_mb.or(file.disk_budget_mb),
            ui_dir: args.ui_dir.or(file.ui_dir).unwrap_or_else(default_ui_dir),
            audit_log: args.audit_log.or(file.audit_log).unwrap_or(true),
            open_monitoring_endpoints: args
                .open_monitoring_endpoints
                .or(file.open_monitoring_endpoints)
                .unwrap_or(false),
            delete_grace_secs: args
                .delete_grace_secs
                .or(file.delete_grace_secs)
                .unwrap_or(60),
            retention_interval_secs: args
                .retention_interval_secs
                .or(file.retention_interval_secs)
                .unwrap_or(30)
                .max(1),
            node_timeout_ms: args
                .node_timeout_ms
                .or(file.node_timeout_ms)
                .unwrap_or(10_000)
                .max(500),
            replication_factor: args
                .replication_factor
                .or(file.replication_factor)
                .unwrap_or(if bucket_set { 1 } else { 2 })
                .max(1),
            smtp_host: args.smtp_host.or(file.smtp_host).filter(|h| !h.is_empty()),
            smtp_port: args.smtp_port.or(file.smtp_port).unwrap_or(25),
            smtp_sender_address: args
                .smtp_sender_address
                .or(file.smtp_sender_address)
                .unwrap_or_else(|| "strata@localhost".into()),
            smtp_username: args.smtp_username.or(file.smtp_username),
            smtp_password: args.smtp_password.or(file.smtp_password),
            smtp_use_starttls: args
                .smtp_use_starttls
                .or(file.smtp_use_starttls)
                .unwrap_or(false),
            alert_poll_interval_ms: args
                .alert_poll_interval_ms
                .or(file.alert_poll_interval_ms)
                .unwrap_or(10_000)
                .max(100),
            alert_ingest_delay_ms: args
                .alert_ingest_delay_ms
                .or(file.alert_ingest_delay_ms)
                .unwrap_or(5_000),
            raft_peers,
            raft_id,
            pagerduty_events_url: args
                .pagerduty_events_url
                .or(file.pagerduty_events_url)
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| crate::alerts::actions::PAGERDUTY_URL.to_string()),
            root_token: std::env::var("STRATA_ROOT_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            limits,
        })
    }
}

/// `./ui/dist` when it exists (running from a checkout), else the tree the binary was built in.
fn default_ui_dir() -> PathBuf {
    let here = PathBuf::from("ui/dist");
    if here.join("index.html").exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist")
}

/// `humio-ingest` partitions from `kafka-topics.yaml` next to the binary's working dir.
fn kafka_topics_partitions() -> Option<u32> {
    let topics = crate::queue::kafka::TopicsFile::load(Path::new("kafka-topics.yaml")).ok()?;
    topics.topic("humio-ingest").map(|t| t.partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("strata.toml");
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[test]
    fn file_fills_in_and_flags_win() {
        let (_d, p) = file("node_id = 7\nhttp_addr = \"127.0.0.1:9999\"\nmini_max_age_secs = 5\n");
        let args = ServeArgs {
            config: Some(p),
            node_id: Some(3),
            ..Default::default()
        };
        let c = Config::resolve(args).unwrap();
        assert_eq!(c.node_id, 3, "the flag wins over the file");
        assert_eq!(c.http_addr.port(), 9999);
        assert_eq!(c.mini_max_age_secs, 5);
        assert_eq!(c.ingest_partitions, 4, "embedded default");
        assert_eq!(c.advertise_url, "http://127.0.0.1:9999");
        assert_eq!(c.limits, Limits::default(), "limits default");
    }

    #[test]
    fn limits_come_from_flags_and_file() {
        let (_d, p) = file("max_pinned_queue_bytes = 5000000\nmax_pinned_queue_secs = 7\n");
        let c = Config::resolve(ServeArgs {
            config: Some(p),
            max_pinned_queue_secs: Some(9),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.limits.max_pinned_queue_bytes, 5_000_000);
        assert_eq!(c.limits.max_pinned_queue_secs, 9, "the flag wins");
        let c = Config::resolve(ServeArgs {
            max_pinned_queue_bytes: Some(0),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            c.limits.max_pinned_queue_bytes,
            1 << 20,
            "raised to the floor"
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_them() {
        let (_d, p) = file("node_id = 1\nmini_max_agee_secs = 5\n");
        let e = Config::resolve(ServeArgs {
            config: Some(p),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("mini_max_agee_secs"), "{e}");
        let (_d, p) = file("node_id = \"one\"\n");
        let e = Config::resolve(ServeArgs {
            config: Some(p),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("node_id") || e.contains("invalid type"), "{e}");
        let e = Config::resolve(ServeArgs {
            http_addr: Some("nope".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("http_addr") && e.contains("nope"), "{e}");
        let e = Config::resolve(ServeArgs {
            ingest_partitions: Some(0),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("ingest_partitions"), "{e}");
    }
}
