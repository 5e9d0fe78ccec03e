//! Search: runs a parsed query over a repository's segments (planned from Global) and the
//! digest's work-in-progress buffers. Per segment it prunes by time range and tag filters,
//! pushes free-text and `field=value` terms into the block filters, evaluates the filter on
//! whole columns (one `memmem` pass per block for free text), and only materialises events a
//! result needs. Results are newest first.

mod eval;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use strata_global::{Global, SegmentInfo};
use strata_segment::{Event, FilterQuery, SegmentReader};

use crate::digest::WipRegistry;
use crate::query::{Filter, Query, Stage};

pub use eval::{filter_query_for, Compiled};

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("segment {id} could not be read: {reason}")]
    Segment { id: String, reason: String },
    #[error("search was cancelled")]
    Cancelled,
    #[error("{0}")]
    Limit(String),
}

/// What a search produced.
#[derive(Debug, Default, Clone)]
pub struct SearchResult {
    /// Events (newest first) or aggregate rows, as JSON objects with string values.
    pub rows: Vec<Map<String, Value>>,
    pub is_aggregate: bool,
    /// Events matched before `head()` cut the list.
    pub matched: u64,
    pub processed_events: u64,
    pub processed_bytes: u64,
    pub segments_total: u64,
    pub field_order: Vec<String>,
}

/// Time range and limits of one search.
#[derive(Debug, Clone, Copy)]
pub struct SearchRange {
    pub start: i64,
    pub end: i64,
    /// Default cap on returned events when the query has no `head()` (LogScale: 200 for
    /// query jobs; the streaming endpoint passes a large value).
    pub default_limit: usize,
}

/// A datasource's tags and its WIP chunks, copied under the WIP lock.
type WipSnapshot = (Arc<BTreeMap<String, String>>, Vec<Arc<Vec<Event>>>);

/// A matched event awaiting materialisation.
struct Hit {
    ts: i64,
    nanos: u32,
    id: strata_segment::EventId,
    event: Event,
    tags: Arc<BTreeMap<String, String>>,
}

/// Runs queries on this node.
pub struct Searcher {
    global: Global,
    wip: Arc<WipRegistry>,
    segments_dir: PathBuf,
    readers: Mutex<HashMap<String, Arc<SegmentReader>>>,
}

impl Searcher {
    pub fn new(global: Global, wip: Arc<WipRegistry>, segments_dir: PathBuf) -> Self {
        Searcher {
            global,
            wip,
            segments_dir,
            readers: Mutex::new(HashMap::new()),
        }
    }

    fn reader(&self, seg: &SegmentInfo) -> Result<Arc<SegmentReader>, SearchError> {
        if let Some(r) = self
            .readers
            .lock()
            .ok()
            .and_then(|m| m.get(&seg.id).cloned())
        {
            return Ok(r);
        }
        let path = crate::merge::segment_path(&self.segments_dir, &seg.id);
        let r = Arc::new(
            SegmentReader::open(&path).map_err(|e| SearchError::Segment {
                id: seg.id.clone(),
                reason: e.to_string(),
            })?,
        );
        if let Ok(mut m) = self.readers.lock() {
            if m.len() > 4096 {
                m.clear();
            }
            m.insert(seg.id.clone(), r.clone());
        }
        Ok(r)
    }

    /// Runs `query` over `repo` in `range`. `cancelled` is polled between segments.
    pub async fn search(
        &self,
        repo: &str,
        query: &Query,
        range: SearchRange,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<SearchResult, SearchError> {
        crate::metrics::SEARCH_QUERIES.inc();
        let (leading, rest) = split_leading_filters(query);
        let fq = filter_query_for(&leading);
        // Snapshot WIP and the segment list consistently (see digest's module docs): copy the
        // WIP chunk lists and read Global while holding every partition's WIP read lock.
        let mut guards = Vec::new();
        for p in &self.wip.partitions {
            guards.push(p.read().await);
        }
        let mut wip_chunks: Vec<WipSnapshot> = Vec::new();
        for g in &guards {
            for buf in g.buffers.values().filter(|b| b.datasource.repo == repo) {
                wip_chunks.push((Arc::new(buf.datasource.tags.clone()), buf.chunks.clone()));
            }
        }
        let segments: Vec<SegmentInfo> = self.global.read(|s| {
            s.segments_in_range(repo, range.start, range.end)
                .cloned()
                .collect()
        });
        drop(guards);
        let count_only =
            matches!(rest.first(), Some(Stage::Count { field: None, .. })) && rest.len() == 1;
        let mut result = SearchResult {
            segments_total: segments.len() as u64,
            ..Default::default()
        };
        let mut hits: Vec<Hit> = Vec::new();
        let mut count: u64 = 0;
        let mut compiled = eval::Compiled::new(&leading);
        for (tags, chunks) in &wip_chunks {
            if !eval::tags_may_match(&leading, tags) {
                continue;
            }
            for e in chunks.iter().flat_map(|c| c.iter()) {
                if e.timestamp < range.start || e.timestamp >= range.end {
                    continue;
                }
                result.processed_events += 1;
                result.processed_bytes += e.raw.len() as u64;
                if compiled.matches(e, tags) {
                    count += 1;
                    if !count_only {
                        hits.push(Hit {
                            ts: e.timestamp,
                            nanos: e.timestamp_nanos,
                            id: e.id,
                            event: e.clone(),
                            tags: tags.clone(),
                        });
                    }
                }
            }
        }
        // Segments, scanned on blocking threads.
        for seg in segments {
            if cancelled() {
                return Err(SearchError::Cancelled);
            }
            if !eval::tags_may_match(&leading, &seg.tags) {
                continue;
            }
            let reader = self.reader(&seg)?;
            let leading2 = leading.clone();
            let fq2 = fq.clone();
            let tags = Arc::new(seg.tags.clone());
            let seg_id = seg.id.clone();
            let out = tokio::task::spawn_blocking(move || {
                scan_segment(&reader, &leading2, &fq2, range, count_only, &tags)
            })
            .await
            .map_err(|e| SearchError::Segment {
                id: seg_id.clone(),
                reason: e.to_string(),
            })?
            .map_err(|e| SearchError::Segment {
                id: seg_id,
                reason: e.to_string(),
            })?;
            result.processed_events += out.processed_events;
            result.processed_bytes += out.processed_bytes;
            count += out.count;
            hits.extend(out.hits);
            if hits.len() > 2_000_000 {
                return Err(SearchError::Limit(
                    "query matched more than 2,000,000 events; add head() or an aggregate".into(),
                ));
            }
        }
        hits.sort_unstable_by_key(|h| std::cmp::Reverse((h.ts, h.nanos, h.id)));
        result.matched = count;
        apply_rest(repo, &rest, count, hits, range.default_limit, &mut result);
        Ok(result)
    }
}

/// Leading filter stages (ANDed) and the stages after them.
fn split_leading_filters(q: &Query) -> (Filter, Vec<Stage>) {
    let mut filters = Vec::new();
    let mut rest = Vec::new();
    for s in &q.stages {
        match s {
            Stage::Filter(f) if rest.is_empty() => filters.push(f.clone()),
            other => rest.push(other.clone()),
        }
    }
    let f = if filters.len() == 1 {
        filters.remove(0)
    } else {
        Filter::And(filters)
    };
    (f, rest)
}

struct ScanOut {
    hits: Vec<Hit>,
    count: u64,
    processed_events: u64,
    processed_bytes: u64,
}

fn scan_segment(
    r: &SegmentReader,
    filter: &Filter,
    fq: &FilterQuery,
    range: SearchRange,
    count_only: bool,
    tags: &Arc<BTreeMap<String, String>>,
) -> strata_segment::Result<ScanOut> {
    let mut out = ScanOut {
        hits: Vec::new(),
        count: 0,
        processed_events: 0,
        processed_bytes: 0,
    };
    let total = r.blocks().len();
    let blocks = r.candidate_blocks(range.start, range.end, fq);
    crate::metrics::SEARCH_BLOCKS_SKIPPED.inc_by((total - blocks.len()) as u64);
    crate::metrics::SEARCH_BLOCKS_READ.inc_by(blocks.len() as u64);
    for b in blocks {
        let meta = &r.blocks()[b];
        out.processed_events += u64::from(meta.count);
        out.processed_bytes += meta.raw_bytes;
        let mut ctx = eval::BlockCtx::new(r, b, tags);
        let mut rows = ctx.eval(filter)?;
        if meta.min_ts < range.start || meta.max_ts >= range.end {
            let time = r.time_column(b)?;
            for (i, m) in rows.iter_mut().enumerate() {
                *m = *m && time[i].0 >= range.start && time[i].0 < range.end;
            }
        }
        let n = rows.iter().filter(|m| **m).count();
        out.count += n as u64;
        if n == 0 || count_only {
            continue;
        }
        let block = r.read_block(b)?;
        for (i, m) in rows.iter().enumerate() {
            if *m {
                let e = block.event(i);
                out.hits.push(Hit {
                    ts: e.timestamp,
                    nanos: e.timestamp_nanos,
                    id: e.id,
                    event: e,
                    tags: tags.clone(),
                });
            }
        }
    }
    Ok(out)
}

/// LogScale's event shape: `@timestamp` as epoch ms, everything else as strings.
pub fn event_json(e: &Event, repo: &str, tags: &BTreeMap<String, String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("@timestamp".into(), Value::from(e.timestamp));
    m.insert("@rawstring".into(), Value::from(e.raw.clone()));
    m.insert("@id".into(), Value::from(e.id.to_string()));
    m.insert(
        "@ingesttimestamp".into(),
        Value::from(e.ingest_timestamp.to_string()),
    );
    if e.timestamp_nanos != 0 {
        m.insert(
            "@timestamp.nanos".into(),
            Value::from(e.timestamp_nanos.to_string()),
        );
    }
    m.insert("#repo".into(), Value::from(repo));
    for (k, v) in tags {
        m.insert(format!("#{k}"), Value::from(v.clone()));
    }
    for (k, v) in &e.fields {
        m.entry(k.clone()).or_insert_with(|| Value::from(v.clone()));
    }
    m
}

fn apply_rest(
    repo: &str,
    rest: &[Stage],
    count: u64,
    hits: Vec<Hit>,
    default_limit: usize,
    result: &mut SearchResult,
) {
    let mut events: Vec<Hit> = hits;
    for stage in rest {
        match stage {
            Stage::Filter(f) => {
                let mut c = Compiled::new(f);
                events.retain(|h| c.matches(&h.event, &h.tags));
            }
            Stage::Head { limit } => events.truncate(*limit),
            Stage::Count {
                field,
                distinct,
                as_name,
            } => {
                let n = match (field, distinct) {
                    (None, _) if rest.len() == 1 => count,
                    (None, _) => events.len() as u64,
                    (Some(f), false) => events
                        .iter()
                        .filter(|h| h.event.fields.contains_key(f))
                        .count() as u64,
                    (Some(f), true) => events
                        .iter()
                        .filter_map(|h| h.event.fields.get(f))
                        .collect::<HashSet<_>>()
                        .len() as u64,
                };
                let mut row = Map::new();
                row.insert(as_name.clone(), Value::from(n.to_string()));
                result.rows = vec![row];
                result.is_aggregate = true;
                result.field_order = vec![as_name.clone()];
                return;
            }
        }
    }
    events.truncate(default_limit);
    result.rows = events
        .iter()
        .map(|h| event_json(&h.event, repo, &h.tags))
        .collect();
    result.field_order = vec!["@timestamp".into(), "@rawstring".into()];
}
