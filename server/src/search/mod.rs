//! Search: runs a compiled query [`Plan`] over a repository's segments (planned from Global)
//! and the digest's work-in-progress buffers.
//!
//! Per segment it prunes by time range and tag filters, then per block by the Bloom filters
//! (free-text and `field=value` terms pushed down), evaluates the leading filter on whole
//! columns, and feeds the first aggregate either straight from the columns or, when the
//! pipeline needs rows, from materialised events. Work is split into block ranges run on all
//! cores; each worker keeps its own partial aggregate state and merges it into the query's
//! shared state, which polls finish into partial results while the search runs.

mod columns;
mod fast;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_global::{Global, SegmentInfo};
use strata_segment::{Event, SegmentReader};

use crate::digest::WipRegistry;
use crate::query::{Plan, Row, State};

pub use columns::{filter_query_for, tags_may_match, ColumnCache};

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

/// The result of a finished (or, for partial results, running) search.
#[derive(Debug, Default, Clone)]
pub struct SearchResult {
    pub rows: Vec<Row>,
    pub is_aggregate: bool,
    pub field_order: Vec<String>,
    pub warnings: Vec<String>,
}

/// Time range of one search.
#[derive(Debug, Clone, Copy)]
pub struct SearchRange {
    pub start: i64,
    pub end: i64,
}

/// Live progress of a search, shared with the query job that polls it.
pub struct Progress {
    pub work_total: AtomicU64,
    pub work_done: AtomicU64,
    pub processed_events: AtomicU64,
    pub processed_bytes: AtomicU64,
    pub cancelled: AtomicBool,
    /// The merged aggregate state so far.
    state: Mutex<Option<State>>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            work_total: AtomicU64::new(1),
            work_done: AtomicU64::new(0),
            processed_events: AtomicU64::new(0),
            processed_bytes: AtomicU64::new(0),
            cancelled: AtomicBool::new(false),
            state: Mutex::new(None),
        }
    }
}

impl Progress {
    fn merge(&self, plan: &Plan, st: State) {
        if let Ok(mut g) = self.state.lock() {
            match g.as_mut() {
                Some(acc) => plan.agg.merge(acc, st),
                None => *g = Some(st),
            }
        }
    }

    /// The result so far (newest events first, aggregates refined as work completes).
    pub fn partial(&self, plan: &Plan) -> SearchResult {
        let st = self
            .state
            .lock()
            .ok()
            .and_then(|g| g.clone())
            .unwrap_or_else(|| plan.agg.new_state());
        finish(plan, st)
    }

    fn take(&self, plan: &Plan) -> State {
        self.state
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .unwrap_or_else(|| plan.agg.new_state())
    }
}

/// Turns a merged state into the final rows, running the rest of the pipeline.
pub fn finish(plan: &Plan, st: State) -> SearchResult {
    let out = plan.finish(st);
    SearchResult {
        is_aggregate: plan.is_aggregate(),
        field_order: out.field_order,
        warnings: out.warnings,
        rows: out.rows,
    }
}

/// Runs queries on this node.
pub struct Searcher {
    global: Global,
    wip: Arc<WipRegistry>,
    segments_dir: PathBuf,
    readers: Mutex<HashMap<String, Arc<SegmentReader>>>,
    threads: usize,
    cache: ColumnCache,
}

/// A datasource's tags and its WIP chunks, copied under the WIP lock.
/// An open segment and its datasource's tags.
pub type SegmentSource = (Arc<SegmentReader>, Arc<BTreeMap<String, String>>);

pub type WipSnapshot = (Arc<BTreeMap<String, String>>, Vec<Arc<Vec<Event>>>);

/// A unit of scan work: some blocks of one segment.
struct WorkItem {
    reader: Arc<SegmentReader>,
    tags: Arc<BTreeMap<String, String>>,
    blocks: Vec<usize>,
}

/// Blocks per work item: small enough to balance two cores and report progress often.
const BLOCKS_PER_ITEM: usize = 8;

impl Searcher {
    /// `cache_bytes`: memory for decoded columns kept between queries (0 disables).
    pub fn new(
        global: Global,
        wip: Arc<WipRegistry>,
        segments_dir: PathBuf,
        cache_bytes: usize,
    ) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Searcher {
            global,
            wip,
            segments_dir,
            readers: Mutex::new(HashMap::new()),
            threads,
            cache: ColumnCache::new(cache_bytes),
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

    /// Runs `plan` over `repo` in `range`, reporting into `progress` (whose `cancelled` flag
    /// stops the search between blocks).
    pub async fn search(
        self: &Arc<Self>,
        repo: &str,
        plan: Arc<Plan>,
        range: SearchRange,
        progress: Arc<Progress>,
    ) -> Result<SearchResult, SearchError> {
        crate::metrics::SEARCH_QUERIES.inc();
        // Snapshot WIP and the segment list consistently (see digest's module docs): copy the
        // WIP chunk lists and read Global while holding every partition's WIP read lock.
        let mut guards = Vec::new();
        for p in &self.wip.partitions {
            guards.push(p.read().await);
        }
        let mut wip: Vec<WipSnapshot> = Vec::new();
        for g in &guards {
            for buf in g.buffers.values().filter(|b| b.datasource.repo == repo) {
                wip.push((Arc::new(buf.datasource.tags.clone()), buf.chunks.clone()));
            }
        }
        let mut segments: Vec<SegmentInfo> = self.global.read(|s| {
            s.segments_in_range(repo, range.start, range.end)
                .cloned()
                .collect()
        });
        drop(guards);
        // Newest first: event lists fill with the events they keep, and cut the rest early.
        segments.sort_by_key(|s| std::cmp::Reverse(s.max_ts));
        let this = self.clone();
        let repo = repo.to_string();
        tokio::task::spawn_blocking(move || this.run(&repo, &plan, range, &progress, wip, segments))
            .await
            .map_err(|e| SearchError::Limit(format!("search worker failed: {e}")))?
    }

    fn run(
        &self,
        repo: &str,
        plan: &Plan,
        range: SearchRange,
        progress: &Progress,
        wip: Vec<WipSnapshot>,
        segments: Vec<SegmentInfo>,
    ) -> Result<SearchResult, SearchError> {
        let mut readers = Vec::new();
        for seg in &segments {
            if !tags_may_match(&plan.leading, repo, &seg.tags) {
                continue;
            }
            readers.push((self.reader(seg)?, Arc::new(seg.tags.clone())));
        }
        execute(
            plan,
            repo,
            range,
            progress,
            &wip,
            &readers,
            self.threads,
            Some(&self.cache),
        )
    }
}

/// Runs `plan` over segments (newest first works best) and WIP events on `threads` cores.
#[allow(clippy::too_many_arguments)]
pub fn execute(
    plan: &Plan,
    repo: &str,
    range: SearchRange,
    progress: &Progress,
    wip: &[WipSnapshot],
    segments: &[SegmentSource],
    threads: usize,
    cache: Option<&ColumnCache>,
) -> Result<SearchResult, SearchError> {
    // Plan the work: candidate blocks per segment, split into items.
    let fq = filter_query_for(&plan.leading);
    let mut items = Vec::new();
    for (reader, tags) in segments {
        let total = reader.blocks().len();
        let blocks = reader.candidate_blocks(range.start, range.end, &fq);
        crate::metrics::SEARCH_BLOCKS_SKIPPED.inc_by((total - blocks.len()) as u64);
        crate::metrics::SEARCH_BLOCKS_READ.inc_by(blocks.len() as u64);
        for chunk in blocks.chunks(BLOCKS_PER_ITEM) {
            items.push(WorkItem {
                reader: reader.clone(),
                tags: tags.clone(),
                blocks: chunk.to_vec(),
            });
        }
    }
    progress
        .work_total
        .store(items.len() as u64 + 1, Ordering::Relaxed);

    // Work in progress: small, run here.
    let mut st = plan.agg.new_state();
    for (tags, chunks) in wip {
        if !tags_may_match(&plan.leading, repo, tags) {
            continue;
        }
        for e in chunks.iter().flat_map(|c| c.iter()) {
            if e.timestamp < range.start || e.timestamp >= range.end {
                continue;
            }
            progress.processed_events.fetch_add(1, Ordering::Relaxed);
            progress
                .processed_bytes
                .fetch_add(e.raw.len() as u64, Ordering::Relaxed);
            let row = Row::from_event(e, repo, tags);
            plan.feed_event_row(&mut st, row);
        }
    }
    progress.merge(plan, st);
    progress.work_done.fetch_add(1, Ordering::Relaxed);

    // Segments, on all cores.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failed: Mutex<Option<SearchError>> = Mutex::new(None);
    let workers = threads.min(items.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                let mut st = plan.agg.new_state();
                let mut last_merge = Instant::now();
                loop {
                    if progress.cancelled.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let res = scan_item(plan, repo, item, range, &mut st, progress, cache)
                        .and_then(|_| plan.agg.check(&st).map_err(SearchError::Limit));
                    if let Err(e) = res {
                        if let Ok(mut f) = failed.lock() {
                            f.get_or_insert(e);
                        }
                        progress.cancelled.store(true, Ordering::Relaxed);
                        break;
                    }
                    progress.work_done.fetch_add(1, Ordering::Relaxed);
                    // Share progress for partial results now and then, not per item.
                    if last_merge.elapsed() > Duration::from_millis(250) {
                        let done = std::mem::replace(&mut st, plan.agg.new_state());
                        progress.merge(plan, done);
                        last_merge = Instant::now();
                    }
                }
                progress.merge(plan, st);
            });
        }
    });
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    if progress.cancelled.load(Ordering::Relaxed) {
        return Err(SearchError::Cancelled);
    }
    let st = progress.take(plan);
    plan.agg.check(&st).map_err(SearchError::Limit)?;
    Ok(finish(plan, st))
}

fn scan_item(
    plan: &Plan,
    repo: &str,
    item: &WorkItem,
    range: SearchRange,
    st: &mut State,
    progress: &Progress,
    cache: Option<&ColumnCache>,
) -> Result<(), SearchError> {
    let r = &*item.reader;
    let seg_err = |e: strata_segment::SegmentError| SearchError::Segment {
        id: r.path().display().to_string(),
        reason: e.to_string(),
    };
    let needs_rows = plan.needs_rows();
    let mut agg_fields = Vec::new();
    plan.agg.fields(&mut agg_fields);
    let agg_needs_time = matches!(plan.agg, crate::query::Agg::Series { .. });
    for &b in &item.blocks {
        let meta = &r.blocks()[b];
        progress
            .processed_events
            .fetch_add(u64::from(meta.count), Ordering::Relaxed);
        progress
            .processed_bytes
            .fetch_add(meta.raw_bytes, Ordering::Relaxed);
        let mut ctx = columns::BlockCtx::new(r, b, repo, &item.tags, cache);
        let mut mask = ctx.eval(&plan.leading).map_err(seg_err)?;
        if meta.min_ts < range.start || meta.max_ts >= range.end {
            let time = ctx.time().map_err(seg_err)?;
            for (m, t) in mask.iter_mut().zip(time) {
                *m = *m && t.0 >= range.start && t.0 < range.end;
            }
        }
        if !mask.iter().any(|m| *m) {
            continue;
        }
        if !needs_rows {
            ctx.load(&agg_fields).map_err(seg_err)?;
            if agg_needs_time {
                ctx.time().map_err(seg_err)?;
            }
            if fast::add_block(&plan.agg, st, &ctx, &mask) {
                continue;
            }
            for (i, m) in mask.iter().enumerate() {
                if *m {
                    plan.agg.add(st, &ctx.view(i));
                }
            }
            continue;
        }
        // Rows are needed. For plain event lists, skip events that cannot make the list.
        let plain_list = plan.prefix.is_empty() && !plan.leading.extracts();
        if plain_list {
            let time = ctx.time().map_err(seg_err)?.to_vec();
            let ids = r.id_column(b).map_err(seg_err)?;
            for (i, m) in mask.iter_mut().enumerate() {
                if *m {
                    let key = (time[i].0, time[i].1, ids[i]);
                    *m = plan.agg.would_accept(st, &key);
                }
            }
            if !mask.iter().any(|m| *m) {
                continue;
            }
        }
        let block = r.read_block(b).map_err(seg_err)?;
        for (i, m) in mask.iter().enumerate() {
            if *m {
                let mut row = Row::from_event(&block.event(i), repo, &item.tags);
                if plan.leading.extracts() && !plan.leading.apply(&mut row) {
                    continue;
                }
                plan.feed_row(st, row);
            }
        }
    }
    Ok(())
}
