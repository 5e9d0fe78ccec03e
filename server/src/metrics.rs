//! Process-wide counters exposed at `/metrics` in the Prometheus text format. Names follow
//! `strata_<component>_<name>`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing counter.
pub struct Counter {
    name: &'static str,
    help: &'static str,
    value: AtomicU64,
}

impl Counter {
    const fn new(name: &'static str, help: &'static str) -> Self {
        Counter {
            name,
            help,
            value: AtomicU64::new(0),
        }
    }
    pub fn inc(&self) {
        self.inc_by(1);
    }
    pub fn inc_by(&self, n: u64) {
        self.value.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

pub static INGEST_EVENTS: Counter = Counter::new(
    "strata_ingest_events_total",
    "Events acknowledged by the ingest API",
);
pub static INGEST_REQUESTS: Counter = Counter::new(
    "strata_ingest_requests_total",
    "Ingest requests answered 200",
);
pub static INGEST_REJECTED: Counter = Counter::new(
    "strata_ingest_rejected_total",
    "Ingest requests answered 4xx or 5xx",
);
pub static DIGEST_EVENTS: Counter = Counter::new(
    "strata_digest_events_total",
    "Events placed in work-in-progress buffers",
);
pub static DIGEST_SEGMENTS: Counter =
    Counter::new("strata_digest_segments_total", "Mini segments written");
pub static DIGEST_BAD_RECORDS: Counter = Counter::new(
    "strata_digest_bad_records_total",
    "Undecodable ingest queue records skipped",
);
pub static DIGEST_DROPPED_EVENTS: Counter = Counter::new(
    "strata_digest_dropped_events_total",
    "Work-in-progress events dropped because their repository was deleted",
);
pub static DIGEST_PIN_RELEASES: Counter = Counter::new(
    "strata_digest_pin_releases_total",
    "Work-in-progress buffers closed early because they held the ingest queue back",
);
pub static MERGE_UPLOAD_FAILURES: Counter = Counter::new(
    "strata_merge_upload_failures_total",
    "Merges retried because the merged segment could not be uploaded to the bucket first",
);
pub static MERGE_SEGMENTS: Counter =
    Counter::new("strata_merge_segments_total", "Merged segments written");
pub static CLUSTER_SEGMENTS_REPLICATED: Counter = Counter::new(
    "strata_cluster_segments_replicated_total",
    "Segment copies this node fetched from other nodes",
);
pub static CLUSTER_FANOUT_QUERIES: Counter = Counter::new(
    "strata_cluster_fanout_queries_total",
    "Queries this node spread over other nodes",
);
pub static CLUSTER_SUBSEARCHES: Counter = Counter::new(
    "strata_cluster_subsearches_total",
    "Sub-searches this node ran for another node's query",
);
pub static CLUSTER_ROWS_FETCHED: Counter = Counter::new(
    "strata_cluster_rows_fetched_total",
    "Events this node materialised for another node's query-then-fetch",
);
pub static CLUSTER_SUBSEARCH_FAILURES: Counter = Counter::new(
    "strata_cluster_subsearch_failures_total",
    "Sub-searches on other nodes that failed (their share was re-planned)",
);
pub static BUCKET_OBJECTS_DELETED: Counter = Counter::new(
    "strata_bucket_objects_deleted_total",
    "Segment objects deleted from the bucket after Global and its newest snapshot dropped them",
);
pub static RETENTION_DELETED: Counter = Counter::new(
    "strata_retention_segments_deleted_total",
    "Segments deleted by repository retention",
);
pub static SEGMENT_FILES_SWEPT: Counter = Counter::new(
    "strata_segment_files_swept_total",
    "Local segment files deleted because Global no longer lists them",
);
pub static SEARCH_QUERIES: Counter = Counter::new("strata_search_queries_total", "Queries run");
pub static SEARCH_BLOCKS_READ: Counter =
    Counter::new("strata_search_blocks_read_total", "Segment blocks scanned");
pub static SEARCH_BLOCKS_SKIPPED: Counter = Counter::new(
    "strata_search_blocks_skipped_total",
    "Segment blocks skipped by filters or time",
);

pub static BUCKET_UPLOADS: Counter = Counter::new(
    "strata_bucket_uploads_total",
    "Segments uploaded to the bucket and verified",
);
pub static BUCKET_UPLOAD_BYTES: Counter = Counter::new(
    "strata_bucket_upload_bytes_total",
    "Bytes of segments uploaded to the bucket",
);
pub static BUCKET_UPLOAD_FAILURES: Counter = Counter::new(
    "strata_bucket_upload_failures_total",
    "Failed segment or snapshot uploads (retried)",
);
pub static BUCKET_DOWNLOADS: Counter = Counter::new(
    "strata_bucket_downloads_total",
    "Segments downloaded from the bucket (evicted, lost or corrupt locally)",
);
pub static SEGMENTS_EVICTED: Counter = Counter::new(
    "strata_segments_evicted_total",
    "Local segment files evicted to stay within the disk budget",
);
pub static SEGMENTS_QUARANTINED: Counter = Counter::new(
    "strata_segments_quarantined_total",
    "Local segment files that failed their checksum and were replaced from the bucket",
);
pub static QUEUE_TRUNCATIONS: Counter = Counter::new(
    "strata_queue_truncations_total",
    "Ingest queue truncations below the durable offset",
);
pub static ALERTS_EVALUATED: Counter = Counter::new(
    "strata_alerts_evaluated_total",
    "Alert and scheduled-search evaluations this node ran",
);
pub static ALERT_SEARCHES: Counter = Counter::new(
    "strata_alert_searches_total",
    "Queries this node ran for alerts and scheduled searches (filter alerts of one repository share one)",
);
pub static ALERTS_TRIGGERED: Counter = Counter::new(
    "strata_alerts_triggered_total",
    "Triggers whose actions ran (a filter alert triggers once per event)",
);
pub static ALERTS_THROTTLED: Counter = Counter::new(
    "strata_alerts_throttled_total",
    "Triggers suppressed by throttling",
);
pub static ALERTS_ACTION_FAILURES: Counter = Counter::new(
    "strata_alerts_action_failures_total",
    "Action invocations that failed after their retries",
);
pub static ALERTS_ERRORS: Counter = Counter::new(
    "strata_alerts_errors_total",
    "Alert evaluations that failed (query or action errors)",
);
const ALL: &[&Counter] = &[
    &ALERTS_EVALUATED,
    &ALERT_SEARCHES,
    &ALERTS_TRIGGERED,
    &ALERTS_THROTTLED,
    &ALERTS_ACTION_FAILURES,
    &ALERTS_ERRORS,
    &BUCKET_UPLOADS,
    &BUCKET_UPLOAD_BYTES,
    &BUCKET_UPLOAD_FAILURES,
    &BUCKET_DOWNLOADS,
    &SEGMENTS_EVICTED,
    &SEGMENTS_QUARANTINED,
    &QUEUE_TRUNCATIONS,
    &INGEST_EVENTS,
    &INGEST_REQUESTS,
    &INGEST_REJECTED,
    &DIGEST_EVENTS,
    &DIGEST_SEGMENTS,
    &DIGEST_BAD_RECORDS,
    &DIGEST_PIN_RELEASES,
    &DIGEST_DROPPED_EVENTS,
    &MERGE_SEGMENTS,
    &MERGE_UPLOAD_FAILURES,
    &SEARCH_QUERIES,
    &SEARCH_BLOCKS_READ,
    &SEARCH_BLOCKS_SKIPPED,
    &RETENTION_DELETED,
    &BUCKET_OBJECTS_DELETED,
    &CLUSTER_FANOUT_QUERIES,
    &CLUSTER_SEGMENTS_REPLICATED,
    &CLUSTER_SUBSEARCHES,
    &CLUSTER_ROWS_FETCHED,
    &CLUSTER_SUBSEARCH_FAILURES,
    &SEGMENT_FILES_SWEPT,
];

/// A gauge with one value per ingest partition, rendered as `name{partition="N"} value`.
pub struct PartitionGauge {
    name: &'static str,
    help: &'static str,
    values: std::sync::Mutex<BTreeMap<u32, u64>>,
}

impl PartitionGauge {
    const fn new(name: &'static str, help: &'static str) -> Self {
        PartitionGauge {
            name,
            help,
            values: std::sync::Mutex::new(BTreeMap::new()),
        }
    }
    pub fn set(&self, partition: u32, v: u64) {
        // A poisoned lock only means a panic elsewhere mid-update of a plain map: keep going.
        let mut m = self.values.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(partition, v);
    }
    pub fn get(&self, partition: u32) -> u64 {
        let m = self.values.lock().unwrap_or_else(|e| e.into_inner());
        m.get(&partition).copied().unwrap_or(0)
    }
    fn render(&self, out: &mut String) {
        let m = self.values.lock().unwrap_or_else(|e| e.into_inner());
        out.push_str(&format!(
            "# HELP {} {}\n# TYPE {} gauge\n",
            self.name, self.help, self.name
        ));
        for (p, v) in m.iter() {
            out.push_str(&format!("{}{{partition=\"{p}\"}} {v}\n", self.name));
        }
    }
}

/// Queue bytes each partition's oldest work-in-progress buffer keeps from being truncated.
pub static PINNED_QUEUE_BYTES: PartitionGauge = PartitionGauge::new(
    "strata_digest_pinned_queue_bytes",
    "Ingest queue bytes held back from truncation by the partition's open work-in-progress buffers",
);

/// Renders the counters plus `gauges` (name, help, value) in the Prometheus text format.
pub fn render(gauges: &[(&str, &str, f64)]) -> String {
    let mut out = String::new();
    for c in ALL {
        out.push_str(&format!(
            "# HELP {} {}\n# TYPE {} counter\n{} {}\n",
            c.name,
            c.help,
            c.name,
            c.name,
            c.get()
        ));
    }
    for (name, help, v) in gauges {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n"
        ));
    }
    PINNED_QUEUE_BYTES.render(&mut out);
    out
}
