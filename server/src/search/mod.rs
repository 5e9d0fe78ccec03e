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
pub mod keys;
pub mod live;

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
    /// Set for query-then-fetch (see `keys.rs`): segment events of the plain event list are
    /// collected here as keys, not materialised into `state`.
    keys: Mutex<Option<keys::Candidates>>,
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
            keys: Mutex::new(None),
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

    /// Counts work another node did for this search.
    pub fn add_processed(&self, events: u64, bytes: u64) {
        self.processed_events.fetch_add(events, Ordering::Relaxed);
        self.processed_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Makes the search collect its segment events' keys into `c` instead of materialising
    /// them (only for plans [`keys::keyed_list`] accepts).
    pub fn collect_keys(&self, c: keys::Candidates) {
        if let Ok(mut g) = self.keys.lock() {
            *g = Some(c);
        }
    }

    fn keys_template(&self) -> Option<keys::Candidates> {
        self.keys
            .lock()
            .ok()
            .and_then(|g| g.as_ref().map(keys::Candidates::empty_like))
    }

    fn merge_keys(&self, c: keys::Candidates) {
        if let Ok(mut g) = self.keys.lock() {
            match g.as_mut() {
                Some(acc) => acc.merge(c),
                None => *g = Some(c),
            }
        }
    }

    /// The collected candidates, best first (empty unless [`collect_keys`](Self::collect_keys)).
    pub fn take_keys(&self) -> Vec<keys::Candidate> {
        self.keys
            .lock()
            .ok()
            .and_then(|mut g| g.take())
            .map(keys::Candidates::into_best)
            .unwrap_or_default()
    }

    /// Forgets a failed run's progress before a retry.
    fn reset(&self) {
        if let Ok(mut g) = self.keys.lock() {
            if let Some(k) = g.as_mut() {
                *k = k.empty_like();
            }
        }
        self.work_done.store(0, Ordering::Relaxed);
        self.processed_events.store(0, Ordering::Relaxed);
        self.processed_bytes.store(0, Ordering::Relaxed);
        if let Ok(mut g) = self.state.lock() {
            *g = None;
        }
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

/// The part of a cluster-wide search one node runs (see [`Searcher::search_scoped`]).
pub struct Scope {
    pub segments: Vec<SegmentInfo>,
    /// Every segment id of the cluster-wide plan.
    pub planned: std::collections::HashSet<String>,
    pub wip: bool,
}

/// Runs queries on this node.
pub struct Searcher {
    global: Global,
    wip: Arc<WipRegistry>,
    segments_dir: PathBuf,
    readers: Mutex<HashMap<String, Arc<SegmentReader>>>,
    threads: usize,
    cache: ColumnCache,
    bucket: Option<crate::bucket::Bucket>,
    runtime: tokio::runtime::Handle,
    last_used: Mutex<HashMap<String, Instant>>,
}

/// A datasource's tags and its WIP chunks, copied under the WIP lock.
/// An open segment and its datasource's tags.
pub type SegmentSource = (Arc<SegmentReader>, Arc<BTreeMap<String, String>>);

pub type WipSnapshot = (Arc<BTreeMap<String, String>>, Vec<Arc<Vec<Event>>>);

/// A unit of scan work: some blocks of one segment.
struct WorkItem {
    id: String,
    reader: Arc<SegmentReader>,
    tags: Arc<BTreeMap<String, String>>,
    blocks: Vec<usize>,
}

/// Concurrent segment downloads of one query.
const DOWNLOADS_IN_PARALLEL: usize = 4;

/// Blocks per work item: small enough to balance two cores and report progress often.
const BLOCKS_PER_ITEM: usize = 8;

impl Searcher {
    /// `cache_bytes`: memory for decoded columns kept between queries (0 disables).
    pub fn new(
        global: Global,
        wip: Arc<WipRegistry>,
        segments_dir: PathBuf,
        cache_bytes: usize,
        bucket: Option<crate::bucket::Bucket>,
    ) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Searcher {
            global,
            wip,
            segments_dir,
            readers: Mutex::new(HashMap::new()),
            threads,
            cache: ColumnCache::new(cache_bytes),
            bucket,
            runtime: tokio::runtime::Handle::current(),
            last_used: Mutex::new(HashMap::new()),
        }
    }

    fn reader(&self, seg: &SegmentInfo) -> Result<Arc<SegmentReader>, SearchError> {
        if let Ok(mut m) = self.last_used.lock() {
            match m.get_mut(seg.id.as_str()) {
                Some(t) => *t = Instant::now(),
                None => {
                    m.insert(seg.id.to_string(), Instant::now());
                }
            }
        }
        if let Some(r) = self.open_reader(&seg.id) {
            return Ok(r);
        }
        let path = crate::merge::segment_path(&self.segments_dir, &seg.id);
        let seg_err = |reason: String| SearchError::Segment {
            id: seg.id.to_string(),
            reason,
        };
        if !path.exists() {
            // Evicted (or never here): fetch it from the bucket.
            self.download(seg)?;
        }
        let r = match SegmentReader::open(&path) {
            Ok(r) => r,
            Err(e) if self.bucket.is_some() && seg.bucket_key.is_some() => {
                tracing::warn!(segment = %seg.id, error = %e, "local segment failed verification; replacing it from the bucket");
                self.quarantine(seg);
                self.download(seg)?;
                SegmentReader::open(&path).map_err(|e| seg_err(e.to_string()))?
            }
            Err(e) => return Err(seg_err(e.to_string())),
        };
        let r = Arc::new(r);
        if let Ok(mut m) = self.readers.lock() {
            if m.len() > 4096 {
                m.clear();
            }
            m.insert(seg.id.to_string(), r.clone());
        }
        Ok(r)
    }

    /// Downloads a segment from the bucket into the local cache (verified against Global).
    fn download(&self, seg: &SegmentInfo) -> Result<(), SearchError> {
        let (Some(bucket), Some(key)) = (&self.bucket, &seg.bucket_key) else {
            return Err(SearchError::Segment {
                id: seg.id.to_string(),
                reason: "the file is not on this node and not in a bucket".into(),
            });
        };
        let path = crate::merge::segment_path(&self.segments_dir, &seg.id);
        self.runtime
            .block_on(bucket.get_file(key, &path, seg.file_bytes, seg.file_crc))
            .map_err(|e| SearchError::Segment {
                id: seg.id.to_string(),
                reason: format!("fetching from the bucket: {e}"),
            })?;
        crate::metrics::BUCKET_DOWNLOADS.inc();
        Ok(())
    }

    /// Materialises events of local segments for another node's query-then-fetch (see
    /// `keys.rs`), in the order asked. Each block is decoded once however many of its rows
    /// are asked for.
    pub fn materialize(&self, req: &keys::FetchRows) -> Result<Vec<Row>, SearchError> {
        let bad = |id: &str, reason: String| SearchError::Segment {
            id: id.to_string(),
            reason,
        };
        let mut readers = Vec::with_capacity(req.sources.len());
        for (id, _) in &req.sources {
            if id.is_empty() || id.contains('/') || id.contains("..") {
                return Err(bad(id, "not a segment id".into()));
            }
            let r = match self.open_reader(id) {
                Some(r) => r,
                None => {
                    let path = crate::merge::segment_path(&self.segments_dir, id);
                    Arc::new(SegmentReader::open(&path).map_err(|e| bad(id, e.to_string()))?)
                }
            };
            readers.push(r);
        }
        let mut order: Vec<usize> = (0..req.rows.len()).collect();
        order.sort_by_key(|&i| (req.rows[i].0, req.rows[i].1));
        let mut out: Vec<Option<Row>> = vec![None; req.rows.len()];
        let mut open: Option<((u32, u32), strata_segment::DecodedBlock)> = None;
        for i in order {
            let (s, b, row) = req.rows[i];
            let (Some(r), Some((id, tags))) =
                (readers.get(s as usize), req.sources.get(s as usize))
            else {
                return Err(bad(
                    "-",
                    format!("row {i} names source {s} of {}", readers.len()),
                ));
            };
            if b as usize >= r.blocks().len() {
                return Err(bad(id, format!("no block {b}")));
            }
            if open.as_ref().is_none_or(|(at, _)| *at != (s, b)) {
                let block = r
                    .read_block(b as usize)
                    .map_err(|e| bad(id, e.to_string()))?;
                open = Some(((s, b), block));
            }
            let Some((_, block)) = &open else { continue };
            if row as usize >= block.len() {
                return Err(bad(id, format!("block {b} has no row {row}")));
            }
            out[i] = Some(Row::from_event(&block.event(row as usize), &req.repo, tags));
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Moves a corrupt local file aside (kept for inspection) and forgets its reader.
    fn quarantine(&self, seg: &SegmentInfo) {
        crate::metrics::SEGMENTS_QUARANTINED.inc();
        let path = crate::merge::segment_path(&self.segments_dir, &seg.id);
        let qdir = self.segments_dir.with_file_name("quarantine");
        let _ = std::fs::create_dir_all(&qdir);
        let to = qdir.join(format!("{}.{}", seg.id, crate::text::now_ms()));
        if std::fs::rename(&path, &to).is_err() {
            let _ = std::fs::remove_file(&path);
        }
        if let Ok(mut m) = self.readers.lock() {
            m.remove(seg.id.as_str());
        }
    }

    /// Deletes least recently used local files of segments that are safely in the bucket
    /// until the segment directory fits `budget` bytes. Minis are kept (the merger reads
    /// them). Returns the number of files evicted.
    pub fn evict(&self, budget: u64) -> usize {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(&self.segments_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let id = name.strip_suffix(".seg")?.to_string();
                Some((id, e.metadata().ok()?.len()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        if total <= budget {
            return 0;
        }
        let evictable: HashMap<String, bool> = self.global.read(|s| {
            files
                .iter()
                .filter_map(|(id, _)| {
                    let seg = s.segments.get(id)?;
                    Some((id.clone(), seg.merged && seg.bucket_key.is_some()))
                })
                .collect()
        });
        let used = self.last_used.lock().map(|m| m.clone()).unwrap_or_default();
        files.retain(|(id, _)| evictable.get(id).copied().unwrap_or(false));
        files.sort_by_key(|(id, _)| used.get(id).copied());
        let mut n = 0;
        for (id, size) in files {
            if total <= budget {
                break;
            }
            if std::fs::remove_file(crate::merge::segment_path(&self.segments_dir, &id)).is_ok() {
                total -= size;
                n += 1;
                crate::metrics::SEGMENTS_EVICTED.inc();
                if let Ok(mut m) = self.readers.lock() {
                    m.remove(&id);
                }
            }
        }
        n
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
        let st = self
            .search_state(repo, plan.clone(), range, progress, Box::new(|| {}))
            .await?;
        Ok(finish(&plan, st))
    }

    /// Like [`search`](Self::search) but returns the merged aggregate state, and calls
    /// `register` at the instant the search snapshots WIP (a live query registers there, so
    /// each event reaches it exactly once).
    pub async fn search_state(
        self: &Arc<Self>,
        repo: &str,
        plan: Arc<Plan>,
        range: SearchRange,
        progress: Arc<Progress>,
        register: Box<dyn FnOnce() + Send>,
    ) -> Result<State, SearchError> {
        self.search_inner(repo, plan, range, progress, register, None)
            .await
    }

    /// This node's share of a cluster-wide search (see `cluster::internal`): the given
    /// segments, plus — with `scope.wip` — this node's work in progress and the minis its
    /// digest closed that the plan does not list.
    pub async fn search_scoped(
        self: &Arc<Self>,
        repo: &str,
        plan: Arc<Plan>,
        range: SearchRange,
        progress: Arc<Progress>,
        scope: Scope,
    ) -> Result<State, SearchError> {
        self.search_inner(repo, plan, range, progress, Box::new(|| {}), Some(scope))
            .await
    }

    /// True when the segment's file is on this node's disk.
    pub fn has_local(&self, id: &str) -> bool {
        self.has_reader(id) || crate::merge::segment_path(&self.segments_dir, id).exists()
    }

    /// True when the segment's file is open here (it is on disk, or was when last searched).
    pub fn has_reader(&self, id: &str) -> bool {
        self.open_reader(id).is_some()
    }

    /// The segment's reader, when it is open here.
    fn open_reader(&self, id: &str) -> Option<Arc<SegmentReader>> {
        self.readers.lock().ok().and_then(|m| m.get(id).cloned())
    }

    pub fn segments_dir(&self) -> PathBuf {
        self.segments_dir.clone()
    }

    async fn search_inner(
        self: &Arc<Self>,
        repo: &str,
        plan: Arc<Plan>,
        range: SearchRange,
        progress: Arc<Progress>,
        register: Box<dyn FnOnce() + Send>,
        scope: Option<Scope>,
    ) -> Result<State, SearchError> {
        crate::metrics::SEARCH_QUERIES.inc();
        let with_wip = scope.as_ref().is_none_or(|s| s.wip);
        // Snapshot WIP and the segment list consistently (see digest's module docs): copy the
        // WIP chunk lists and read Global while holding every partition's WIP read lock.
        let mut guards = Vec::new();
        for p in &self.wip.partitions {
            guards.push(p.read().await);
        }
        let mut wip: Vec<WipSnapshot> = Vec::new();
        for g in guards.iter().filter(|_| with_wip) {
            for buf in g.buffers.values().filter(|b| b.datasource.repo == repo) {
                wip.push((Arc::new(buf.datasource.tags.clone()), buf.chunks.clone()));
            }
        }
        let mut segments: Vec<SegmentInfo> = match scope {
            None => self.global.read(|s| {
                s.segments_in_range(repo, range.start, range.end)
                    .cloned()
                    .collect()
            }),
            Some(scope) => {
                let mut segs = scope.segments;
                if scope.wip {
                    let newer: Vec<SegmentInfo> = self.global.read(|s| {
                        s.segments_in_range(repo, range.start, range.end)
                            .filter(|x| !x.merged && !scope.planned.contains(x.id.as_str()))
                            .cloned()
                            .collect()
                    });
                    segs.extend(newer.into_iter().filter(|x| self.has_local(&x.id)));
                }
                segs
            }
        };
        register();
        drop(guards);
        // Newest first: event lists fill with the events they keep, and cut the rest early.
        segments.sort_by_key(|s| std::cmp::Reverse(s.max_ts));
        let this = self.clone();
        let repo = repo.to_string();
        tokio::task::spawn_blocking(move || {
            let first = this.run(&repo, &plan, range, &progress, &wip, &segments);
            // A block that fails its checksum mid-scan: replace the file from the bucket and
            // run again from scratch (the partial state of the failed run is discarded).
            let Err(SearchError::Segment { id, reason }) = &first else {
                return first;
            };
            let Some(seg) = segments.iter().find(|s| s.id == id && s.bucket_key.is_some())
            else {
                return first;
            };
            if this.bucket.is_none() {
                return first;
            }
            tracing::warn!(segment = %id, %reason, "segment unreadable during search; re-fetching it and retrying");
            this.quarantine(seg);
            this.download(seg)?;
            progress.reset();
            this.run(&repo, &plan, range, &progress, &wip, &segments)
        })
        .await
        .map_err(|e| SearchError::Limit(format!("search worker failed: {e}")))?
    }

    fn run(
        &self,
        repo: &str,
        plan: &Plan,
        range: SearchRange,
        progress: &Progress,
        wip: &[WipSnapshot],
        segments: &[SegmentInfo],
    ) -> Result<State, SearchError> {
        // Segments evicted from (or never on) local disk download in parallel, and are
        // scanned as they arrive while the local ones are scanned first: a cold query costs
        // about its download time, not download plus scan.
        let mut local = Vec::new();
        let mut remote = Vec::new();
        for seg in segments {
            if !tags_may_match(&plan.leading, repo, &seg.tags) {
                continue;
            }
            let cached = self.has_reader(&seg.id);
            let path = crate::merge::segment_path(&self.segments_dir, &seg.id);
            if cached || path.exists() || self.bucket.is_none() || seg.bucket_key.is_none() {
                local.push(seg);
            } else {
                remote.push(seg.clone());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel::<(SegmentInfo, Result<(), SearchError>)>();
        if !remote.is_empty() {
            let this = self.bucket.clone();
            let dir = self.segments_dir.clone();
            self.runtime.spawn(async move {
                use futures::StreamExt;
                let Some(bucket) = this else { return };
                let fetch = |seg: SegmentInfo| {
                    let bucket = bucket.clone();
                    let dir = dir.clone();
                    async move {
                        let path = crate::merge::segment_path(&dir, &seg.id);
                        let key = seg.bucket_key.clone().unwrap_or_default();
                        let r = bucket
                            .get_file(&key, &path, seg.file_bytes, seg.file_crc)
                            .await
                            .map_err(|e| SearchError::Segment {
                                id: seg.id.to_string(),
                                reason: format!("fetching from the bucket: {e}"),
                            });
                        (seg, r)
                    }
                };
                // The first segment alone, so the cores have work as soon as possible (four
                // at once would share the bandwidth and all arrive late), then the rest in
                // parallel.
                let mut remote = remote.into_iter();
                if let Some(first) = remote.next() {
                    if tx.send(fetch(first).await).is_err() {
                        return;
                    }
                }
                let mut s = futures::stream::iter(remote)
                    .map(fetch)
                    .buffer_unordered(DOWNLOADS_IN_PARALLEL);
                while let Some(x) = s.next().await {
                    if tx.send(x).is_err() {
                        return;
                    }
                }
            });
        } else {
            drop(tx);
        }
        let mut readers = Vec::new();
        for seg in local {
            readers.push((self.reader(seg)?, seg.tags.clone()));
        }
        let (t, c) = (self.threads, Some(&self.cache));
        // Downloads join the same worker pool as they arrive: a worker that runs out of work
        // takes the next arrival, so no core waits for a batch to finish.
        let mut arrivals = move || -> Option<Result<Vec<SegmentSource>, SearchError>> {
            let first = rx.recv().ok()?;
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            let opened = batch.into_iter().map(|(seg, downloaded)| {
                downloaded?;
                crate::metrics::BUCKET_DOWNLOADS.inc();
                Ok((self.reader(&seg)?, seg.tags.clone()))
            });
            Some(opened.collect())
        };
        scan_fed(
            plan,
            repo,
            range,
            progress,
            wip,
            &readers,
            t,
            c,
            Some(&mut arrivals),
        )?;
        let st = progress.take(plan);
        plan.agg.check(&st).map_err(SearchError::Limit)?;
        Ok(st)
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
    scan(plan, repo, range, progress, wip, segments, threads, cache)?;
    let st = progress.take(plan);
    plan.agg.check(&st).map_err(SearchError::Limit)?;
    Ok(finish(plan, st))
}

/// Scans segments and WIP into `progress`'s merged state (callable repeatedly);
/// [`execute`] finishes.
#[allow(clippy::too_many_arguments)]
pub fn scan(
    plan: &Plan,
    repo: &str,
    range: SearchRange,
    progress: &Progress,
    wip: &[WipSnapshot],
    segments: &[SegmentSource],
    threads: usize,
    cache: Option<&ColumnCache>,
) -> Result<(), SearchError> {
    scan_fed(
        plan, repo, range, progress, wip, segments, threads, cache, None,
    )
}

/// More segments for a running scan: blocks until some are ready; `None` when there will be
/// no more.
type Feeder<'a> = dyn FnMut() -> Option<Result<Vec<SegmentSource>, SearchError>> + Send + 'a;

/// Splits segments into work items: candidate blocks, `BLOCKS_PER_ITEM` at a time.
fn work_items(
    segments: &[SegmentSource],
    range: SearchRange,
    fq: &strata_segment::FilterQuery,
) -> Vec<WorkItem> {
    let mut items = Vec::new();
    for (reader, tags) in segments {
        let id = reader
            .path()
            .file_stem()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let total = reader.blocks().len();
        let blocks = reader.candidate_blocks(range.start, range.end, fq);
        crate::metrics::SEARCH_BLOCKS_SKIPPED.inc_by((total - blocks.len()) as u64);
        crate::metrics::SEARCH_BLOCKS_READ.inc_by(blocks.len() as u64);
        for chunk in blocks.chunks(BLOCKS_PER_ITEM) {
            items.push(WorkItem {
                id: id.clone(),
                reader: reader.clone(),
                tags: tags.clone(),
                blocks: chunk.to_vec(),
            });
        }
    }
    items
}

/// [`scan`], with `feed` supplying more segments while it runs (downloads as they arrive).
#[allow(clippy::too_many_arguments)]
fn scan_fed(
    plan: &Plan,
    repo: &str,
    range: SearchRange,
    progress: &Progress,
    wip: &[WipSnapshot],
    segments: &[SegmentSource],
    threads: usize,
    cache: Option<&ColumnCache>,
    feed: Option<&mut Feeder<'_>>,
) -> Result<(), SearchError> {
    // Plan the work: candidate blocks per segment, split into items.
    let fq = filter_query_for(&plan.leading);
    let items = work_items(segments, range, &fq);
    progress
        .work_total
        .fetch_add(items.len() as u64, Ordering::Relaxed);
    let fed = feed.is_some();

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
    if !wip.is_empty() || progress.work_done.load(Ordering::Relaxed) == 0 {
        progress.work_done.fetch_add(1, Ordering::Relaxed);
    }

    // Segments, on all cores.
    let failed: Mutex<Option<SearchError>> = Mutex::new(None);
    let stop = AtomicBool::new(false);
    let workers = if fed {
        threads.max(1)
    } else {
        threads.min(items.len()).max(1)
    };
    let queue = Mutex::new(std::collections::VecDeque::from(items));
    let feed = Mutex::new(feed);
    let pop = || queue.lock().ok().and_then(|mut q| q.pop_front());
    // The next item: from the queue, else (one worker at a time) from the feeder.
    let next = || -> Option<WorkItem> {
        if let Some(i) = pop() {
            return Some(i);
        }
        let mut f = feed.lock().ok()?;
        loop {
            // Another worker may have refilled the queue while this one waited for the feeder.
            if let Some(i) = pop() {
                return Some(i);
            }
            let more = f.as_mut()?();
            match more {
                None => {
                    *f = None;
                    return None;
                }
                Some(Err(e)) => {
                    if let Ok(mut x) = failed.lock() {
                        x.get_or_insert(e);
                    }
                    stop.store(true, Ordering::Relaxed);
                    *f = None;
                    return None;
                }
                Some(Ok(segs)) => {
                    let new = work_items(&segs, range, &fq);
                    progress
                        .work_total
                        .fetch_add(new.len() as u64, Ordering::Relaxed);
                    if let Ok(mut q) = queue.lock() {
                        q.extend(new);
                    }
                }
            }
        }
    };
    // One worker runs on this (already blocking) thread: a small query spawns no thread.
    let work = || {
        let mut st = plan.agg.new_state();
        let mut keys = progress.keys_template();
        let mut last_merge = Instant::now();
        loop {
            if progress.cancelled.load(Ordering::Relaxed) || stop.load(Ordering::Relaxed) {
                break;
            }
            let Some(item) = next() else { break };
            let item = &item;
            let res = scan_item(
                plan,
                repo,
                item,
                range,
                &mut st,
                keys.as_mut(),
                progress,
                cache,
            )
            .and_then(|_| plan.agg.check(&st).map_err(SearchError::Limit));
            if let Err(e) = res {
                if let Ok(mut f) = failed.lock() {
                    f.get_or_insert(e);
                }
                stop.store(true, Ordering::Relaxed);
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
        if let Some(k) = keys {
            progress.merge_keys(k);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..workers {
            s.spawn(work);
        }
        work();
    });
    if let Some(e) = failed.lock().ok().and_then(|mut f| f.take()) {
        return Err(e);
    }
    if progress.cancelled.load(Ordering::Relaxed) {
        return Err(SearchError::Cancelled);
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn scan_item(
    plan: &Plan,
    repo: &str,
    item: &WorkItem,
    range: SearchRange,
    st: &mut State,
    mut keys: Option<&mut keys::Candidates>,
    progress: &Progress,
    cache: Option<&ColumnCache>,
) -> Result<(), SearchError> {
    let r = &*item.reader;
    let seg_err = |e: strata_segment::SegmentError| SearchError::Segment {
        id: item.id.clone(),
        reason: e.to_string(),
    };
    let needs_rows = plan.needs_rows();
    let mut agg_fields = Vec::new();
    plan.agg.fields(&mut agg_fields);
    let agg_needs_time = plan.agg.needs_time();
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
                    *m = match &keys {
                        Some(k) => k.would_accept(&key),
                        None => plan.agg.would_accept(st, &key),
                    };
                }
            }
            if let Some(k) = keys.as_deref_mut() {
                for (i, m) in mask.iter().enumerate() {
                    if *m {
                        k.push(keys::Candidate {
                            key: (time[i].0, time[i].1, ids[i]),
                            segment: item.id.clone(),
                            tags: item.tags.clone(),
                            block: b as u32,
                            row: i as u32,
                        });
                    }
                }
                continue;
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
