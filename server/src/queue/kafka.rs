//! The Kafka queue (rdkafka). Guarantee: `append` resolves only when the broker acknowledged
//! the record with `acks=all` (idempotent producer), so an acknowledged event survives a node
//! crash and, with broker replication, a broker restart. Reading uses one manually assigned
//! consumer per topic-partition (no group rebalancing: digest ownership comes from Global).
//! Topics come from `kafka-topics.yaml`; missing ones are created when allowed, otherwise a
//! clear error names them. A failed DeleteRecords (a broker without it, e.g. Tansu, or a
//! passing fault) is logged once and retried with exponential backoff up to 10 minutes, so
//! one error never disables truncation for good.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use strata_global::BoxFuture;

use super::{Queue, QueueError, QueueResult, Records, Truncation};

/// `kafka-topics.yaml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicsFile {
    pub topics: Vec<TopicSpec>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: u32,
    #[serde(default = "one")]
    pub replication_factor: i32,
    #[serde(default)]
    pub config: HashMap<String, String>,
}

fn one() -> i32 {
    1
}

impl TopicsFile {
    pub fn load(path: &Path) -> anyhow::Result<TopicsFile> {
        let text = std::fs::read_to_string(path)?;
        let file: TopicsFile = serde_yaml::from_str(&text)?;
        file.check()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(file)
    }

    /// A `min.insync.replicas` above the replication factor makes every acks=all write fail.
    fn check(&self) -> Result<(), String> {
        for t in &self.topics {
            if let Some(v) = t.config.get("min.insync.replicas") {
                let n: i32 = v.parse().map_err(|_| {
                    format!(
                        "topic {}: min.insync.replicas {v:?} is not a number",
                        t.name
                    )
                })?;
                if n < 1 || n > t.replication_factor {
                    return Err(format!(
                        "topic {}: min.insync.replicas {n} must be between 1 and its replication_factor {}",
                        t.name, t.replication_factor
                    ));
                }
            }
        }
        Ok(())
    }

    /// The built-in defaults, identical to the repository's `kafka-topics.yaml`.
    pub fn builtin() -> TopicsFile {
        serde_yaml::from_str(include_str!("../../../kafka-topics.yaml"))
            .unwrap_or(TopicsFile { topics: Vec::new() })
    }

    pub fn topic(&self, name: &str) -> Option<&TopicSpec> {
        self.topics.iter().find(|t| t.name == name)
    }
}

/// One manually assigned consumer per topic-partition.
type ReaderMap = HashMap<(String, u32), Arc<Mutex<Reader>>>;

struct Reader {
    consumer: BaseConsumer,
    next: Option<u64>,
}

pub struct KafkaQueue {
    producer: FutureProducer,
    client_config: ClientConfig,
    partitions: HashMap<String, u32>,
    readers: Mutex<ReaderMap>,
    admin: AdminClient<DefaultClientContext>,
    delete_backoff: Mutex<Backoff>,
    watermark_lag_logged: AtomicBool,
}

fn unavailable(e: impl std::fmt::Display) -> QueueError {
    QueueError::Unavailable(e.to_string())
}

impl KafkaQueue {
    /// Connects, creates or verifies the topics, and returns the queue.
    pub async fn connect(
        brokers: &str,
        topics: &[TopicSpec],
        create: bool,
        node_id: u32,
    ) -> anyhow::Result<KafkaQueue> {
        let mut base = ClientConfig::new();
        base.set("bootstrap.servers", brokers)
            .set("client.id", format!("strata-node-{node_id}"));
        let producer: FutureProducer = base
            .clone()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "2")
            .set("message.timeout.ms", "30000")
            .create()?;
        let admin: AdminClient<DefaultClientContext> = base.create()?;
        if create {
            let new: Vec<NewTopic<'_>> = topics
                .iter()
                .map(|t| {
                    let mut n = NewTopic::new(
                        &t.name,
                        t.partitions as i32,
                        TopicReplication::Fixed(t.replication_factor),
                    );
                    for (k, v) in &t.config {
                        n = n.set(k, v);
                    }
                    n
                })
                .collect();
            let results = admin
                .create_topics(
                    new.iter(),
                    &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
                )
                .await?;
            for r in results {
                match r {
                    Ok(t) => tracing::info!(topic = %t, "created kafka topic"),
                    Err((t, RDKafkaErrorCode::TopicAlreadyExists)) => {
                        tracing::debug!(topic = %t, "kafka topic exists")
                    }
                    Err((t, code)) => {
                        tracing::warn!(topic = %t, ?code, "creating kafka topic failed; verifying it exists")
                    }
                }
            }
        }
        let mut consumer_cfg = base.clone();
        consumer_cfg
            .set("group.id", format!("strata-node-{node_id}"))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "error")
            .set("fetch.wait.max.ms", "50");
        let probe: BaseConsumer = consumer_cfg.create()?;
        let mut partitions = HashMap::new();
        let mut missing = Vec::new();
        for t in topics {
            let found = tokio::task::block_in_place(|| {
                probe.fetch_metadata(Some(&t.name), Duration::from_secs(10))
            });
            let n = found
                .ok()
                .and_then(|md| {
                    md.topics()
                        .first()
                        .filter(|mt| mt.error().is_none())
                        .map(|mt| mt.partitions().len() as u32)
                })
                .unwrap_or(0);
            if n == 0 {
                missing.push(t.name.clone());
            } else {
                partitions.insert(t.name.clone(), n);
            }
        }
        if !missing.is_empty() {
            anyhow::bail!(
                "kafka at {brokers} lacks topic(s) {} (see kafka-topics.yaml; start with --create-topics=true or create them)",
                missing.join(", ")
            );
        }
        Ok(KafkaQueue {
            producer,
            client_config: consumer_cfg,
            partitions,
            readers: Mutex::new(HashMap::new()),
            admin,
            delete_backoff: Mutex::new(Backoff::default()),
            watermark_lag_logged: AtomicBool::new(false),
        })
    }

    fn reader(&self, topic: &str, partition: u32) -> QueueResult<Arc<Mutex<Reader>>> {
        let mut map = self
            .readers
            .lock()
            .map_err(|_| unavailable("reader map poisoned"))?;
        if let Some(r) = map.get(&(topic.to_string(), partition)) {
            return Ok(r.clone());
        }
        let consumer: BaseConsumer = self.client_config.create().map_err(unavailable)?;
        let r = Arc::new(Mutex::new(Reader {
            consumer,
            next: None,
        }));
        map.insert((topic.to_string(), partition), r.clone());
        Ok(r)
    }

    /// (low, high) watermarks as the broker reports them.
    async fn watermarks(&self, topic: &str, partition: u32) -> QueueResult<(u64, u64)> {
        let reader = self.reader(topic, partition)?;
        let topic = topic.to_string();
        tokio::task::spawn_blocking(move || {
            let r = reader.lock().map_err(|_| unavailable("reader poisoned"))?;
            let (low, high) = r
                .consumer
                .fetch_watermarks(&topic, partition as i32, Duration::from_secs(10))
                .map_err(unavailable)?;
            Ok((low.max(0) as u64, high.max(0) as u64))
        })
        .await
        .map_err(unavailable)?
    }

    fn check(&self, topic: &str, partition: u32) -> QueueResult<()> {
        match self.partitions.get(topic) {
            Some(n) if partition < *n => Ok(()),
            _ => Err(QueueError::UnknownPartition {
                topic: topic.into(),
                partition,
            }),
        }
    }
}

impl Queue for KafkaQueue {
    fn partitions(&self, topic: &str) -> u32 {
        self.partitions.get(topic).copied().unwrap_or(0)
    }

    fn append(
        &self,
        topic: &str,
        partition: u32,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, QueueResult<u64>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            let sends = records.iter().map(|r| {
                self.producer.send(
                    FutureRecord::<(), [u8]>::to(&topic)
                        .partition(partition as i32)
                        .payload(r.as_slice()),
                    Duration::from_secs(30),
                )
            });
            let results = futures::future::join_all(sends).await;
            let mut first = None;
            for r in results {
                let d = r.map_err(|(e, _)| {
                    unavailable(format!("kafka produce to {topic}/{partition}: {e}"))
                })?;
                first = Some(first.map_or(d.offset as u64, |f: u64| f.min(d.offset as u64)));
            }
            first.ok_or_else(|| unavailable("empty append"))
        })
    }

    fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> BoxFuture<'_, QueueResult<Records>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            let reader = self.reader(&topic, partition)?;
            tokio::task::spawn_blocking(move || {
                let mut r = reader.lock().map_err(|_| unavailable("reader poisoned"))?;
                if r.next != Some(from) {
                    let mut tpl = TopicPartitionList::new();
                    tpl.add_partition_offset(&topic, partition as i32, Offset::Offset(from as i64))
                        .map_err(unavailable)?;
                    r.consumer.assign(&tpl).map_err(unavailable)?;
                    r.next = Some(from);
                }
                let mut out: Records = Vec::new();
                let deadline = std::time::Instant::now() + Duration::from_millis(100);
                while out.len() < max {
                    let wait = if out.is_empty() {
                        deadline.saturating_duration_since(std::time::Instant::now())
                    } else {
                        Duration::ZERO
                    };
                    match r.consumer.poll(wait) {
                        None => break,
                        Some(Ok(m)) => {
                            let off = m.offset() as u64;
                            if off < from {
                                continue;
                            }
                            out.push((off, m.payload().unwrap_or_default().to_vec()));
                        }
                        Some(Err(KafkaError::PartitionEOF(_))) => break,
                        Some(Err(e)) => {
                            r.next = None;
                            if let KafkaError::MessageConsumption(
                                RDKafkaErrorCode::OffsetOutOfRange,
                            ) = e
                            {
                                return Err(QueueError::Truncated {
                                    topic: topic.clone(),
                                    partition,
                                    offset: from,
                                    start: 0,
                                });
                            }
                            return Err(unavailable(format!(
                                "kafka read {topic}/{partition}: {e}"
                            )));
                        }
                    }
                }
                if let Some((last, _)) = out.last() {
                    r.next = Some(last + 1);
                }
                Ok(out)
            })
            .await
            .map_err(unavailable)?
        })
    }

    fn end_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            let (_, high) = self.watermarks(&topic, partition).await?;
            // Some brokers (Tansu) report the base offset of the last batch as the high
            // watermark. Records at or past it are acknowledged data: read on to the true end.
            let mut end = high;
            loop {
                let more = self.read(&topic, partition, end, 10_000).await?;
                match more.last() {
                    Some((off, _)) => end = off + 1,
                    None => break,
                }
            }
            if end != high && !self.watermark_lag_logged.swap(true, Ordering::Relaxed) {
                tracing::warn!(topic, partition, reported = high, actual = end, "kafka broker reports a high watermark below its last record; reading to the true end instead");
            }
            Ok(end)
        })
    }

    fn start_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            Ok(self.watermarks(&topic, partition).await?.0)
        })
    }

    fn truncate(
        &self,
        topic: &str,
        partition: u32,
        below: u64,
    ) -> BoxFuture<'_, QueueResult<Truncation>> {
        let topic = topic.to_string();
        Box::pin(async move {
            self.check(&topic, partition)?;
            let waiting = self
                .delete_backoff
                .lock()
                .map(|b| b.waiting(Instant::now()))
                .unwrap_or(false);
            if waiting {
                return Ok(Truncation::Unsupported);
            }
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(&topic, partition as i32, Offset::Offset(below as i64))
                .map_err(unavailable)?;
            let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
            let result = self.admin.delete_records(&tpl, &opts).await;
            let err = match result {
                Ok(list) => match list.elements().first().map(|e| e.error()) {
                    Some(Err(e)) => Some(e.to_string()),
                    _ => None,
                },
                Err(e) => Some(e.to_string()),
            };
            let mut backoff = self
                .delete_backoff
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            match err {
                None => {
                    if backoff.succeeded() {
                        tracing::info!("kafka DeleteRecords works again; queue truncation resumed");
                    }
                    Ok(Truncation::Done { start: below })
                }
                Some(e) => {
                    let (first, delay) = backoff.failed(Instant::now());
                    if first {
                        tracing::warn!(error = %e, retry_in_secs = delay.as_secs(), "kafka DeleteRecords failed (a broker without it, or a passing fault); records expire by retention meanwhile, retrying with backoff");
                    } else {
                        tracing::debug!(error = %e, retry_in_secs = delay.as_secs(), "kafka DeleteRecords failed again");
                    }
                    Ok(Truncation::Unsupported)
                }
            }
        })
    }
}

/// When to try DeleteRecords again after failures: 2 s, doubling up to 10 minutes.
#[derive(Debug, Default)]
struct Backoff {
    failures: u32,
    retry_at: Option<Instant>,
}

impl Backoff {
    const FIRST: Duration = Duration::from_secs(2);
    const MAX: Duration = Duration::from_secs(600);

    fn waiting(&self, now: Instant) -> bool {
        self.retry_at.is_some_and(|t| now < t)
    }

    /// Records a failure; returns whether it is the first of a run (to log once) and the delay.
    fn failed(&mut self, now: Instant) -> (bool, Duration) {
        let delay = Self::FIRST
            .saturating_mul(1u32 << self.failures.min(16))
            .min(Self::MAX);
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Some(now + delay);
        (self.failures == 1, delay)
    }

    /// Records a success; returns whether failures preceded it.
    fn succeeded(&mut self) -> bool {
        let was = self.failures > 0;
        *self = Backoff::default();
        was
    }
}

#[cfg(test)]
mod backoff_tests {
    use super::*;

    #[test]
    fn the_topics_file_sets_min_insync_replicas_within_the_replication_factor() {
        let f = TopicsFile::builtin();
        for name in ["global-events", "humio-ingest"] {
            let t = f.topic(name).unwrap();
            assert!(
                t.config.contains_key("min.insync.replicas"),
                "{name} has no min.insync.replicas"
            );
        }
        assert!(f.check().is_ok());
        let bad: TopicsFile = serde_yaml::from_str(
            "topics: [{name: x, partitions: 1, replication_factor: 1, config: {min.insync.replicas: \"2\"}}]",
        )
        .unwrap();
        assert!(bad.check().unwrap_err().contains("min.insync.replicas 2"));
    }

    #[test]
    fn a_failure_is_retried_after_a_growing_delay_never_given_up() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert!(!b.waiting(t0));
        let (first, d1) = b.failed(t0);
        assert!(first);
        assert_eq!(d1, Duration::from_secs(2));
        assert!(b.waiting(t0));
        assert!(!b.waiting(t0 + d1), "tried again once the delay passed");
        let (again, d2) = b.failed(t0 + d1);
        assert!(!again, "logged once per run of failures");
        assert_eq!(d2, Duration::from_secs(4));
        for _ in 0..40 {
            b.failed(t0);
        }
        let (_, capped) = b.failed(t0);
        assert_eq!(capped, Backoff::MAX);
        assert!(b.succeeded());
        assert!(!b.waiting(t0), "a success clears the backoff");
        assert!(!b.succeeded());
    }
}
