//! [`Searcher`]: runs queries on this node — plans the segments of a repository in range (or
//! the share a root sent), snapshots work in progress consistently with Global's segment list,
//! opens readers through the [`SegmentStore`], downloads segments missing locally from the
//! bucket (scanned as they arrive), and re-fetches a file that fails its checksum mid-scan.

use std::sync::Arc;

use strata_global::{Global, SegmentInfo};
use strata_segment::SegmentReader;

use super::columns::{tags_may_match, ColumnCache};
use super::scan::scan_fed;
use super::{finish, keys, Progress, Scope, SearchError, SearchRange, SearchResult};
use super::{SegmentSource, WipSnapshot};
use crate::digest::WipRegistry;
use crate::query::{Plan, Row, State};
use crate::store::{SegmentStore, StoreError};

/// Concurrent segment downloads of one query.
const DOWNLOADS_IN_PARALLEL: usize = 4;

/// Runs queries on this node.
pub struct Searcher {
    global: Global,
    wip: Arc<WipRegistry>,
    store: Arc<SegmentStore>,
    threads: usize,
    cache: ColumnCache,
    bucket: Option<crate::bucket::Bucket>,
    runtime: tokio::runtime::Handle,
    chunk_ingest: super::fresh::ChunkIngest,
}

impl Searcher {
    /// `cache_bytes`: memory for decoded columns kept between queries (0 disables).
    pub fn new(
        global: Global,
        wip: Arc<WipRegistry>,
        store: Arc<SegmentStore>,
        cache_bytes: usize,
        bucket: Option<crate::bucket::Bucket>,
    ) -> Self {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        Searcher {
            global,
            wip,
            store,
            threads,
            cache: ColumnCache::new(cache_bytes),
            bucket,
            runtime: tokio::runtime::Handle::current(),
            chunk_ingest: Default::default(),
        }
    }

    /// The local segment files this searcher reads.
    pub fn store(&self) -> &Arc<SegmentStore> {
        &self.store
    }

    pub fn global(&self) -> &Global {
        &self.global
    }

    /// The live queries this node's digest feeds.
    pub fn live(&self) -> &super::live::LiveHub {
        &self.wip.live
    }

    fn reader(&self, seg: &SegmentInfo) -> Result<Arc<SegmentReader>, SearchError> {
        self.store.touch(&seg.id);
        match self.store.reader(&seg.id) {
            Ok(r) => Ok(r),
            // Evicted (or never here): fetch it from the bucket.
            Err(StoreError::NotFound(_)) => {
                self.download(seg)?;
                Ok(self.store.reader(&seg.id)?)
            }
            Err(e) if self.bucket.is_some() && seg.bucket_key.is_some() => {
                tracing::warn!(segment = %seg.id, error = %e, "local segment failed verification; replacing it from the bucket");
                self.store.quarantine(&seg.id);
                self.download(seg)?;
                Ok(self.store.reader(&seg.id)?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Downloads a segment from the bucket into the local cache (verified against Global).
    fn download(&self, seg: &SegmentInfo) -> Result<(), SearchError> {
        let (Some(bucket), Some(key)) = (&self.bucket, &seg.bucket_key) else {
            return Err(SearchError::Segment {
                id: seg.id.to_string(),
                reason: "the file is not on this node and not in a bucket".into(),
            });
        };
        let path = self.store.path(&seg.id);
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
        let bad =
            |id: &str, reason: String| SearchError::NotFound(format!("segment {id}: {reason}"));
        let mut readers = Vec::with_capacity(req.sources.len());
        for (id, _) in &req.sources {
            readers.push(self.store.reader(id)?);
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

    /// Deletes least recently searched local files of merged segments that are safely in
    /// the bucket until the segment directory fits `budget` bytes. Minis are kept (the merger
    /// reads them). Returns the number of files evicted.
    pub fn evict(&self, budget: u64) -> usize {
        self.store.evict(budget, |ids| {
            self.global.read(|s| {
                ids.iter()
                    .map(|id| {
                        s.segments
                            .get(id)
                            .is_some_and(|seg| seg.merged && seg.bucket_key.is_some())
                    })
                    .collect()
            })
        })
    }

    /// True when the segment's file is on this node's disk.
    pub fn has_local(&self, id: &str) -> bool {
        self.store.is_local(id)
    }

    /// True when the segment's file is open here (it is on disk, or was when last searched).
    pub fn has_reader(&self, id: &str) -> bool {
        self.store.cached(id).is_some()
    }

    /// Runs `plan` over every segment of `repo` in `range` and this node's work in progress,
    /// as a lone node would (no peers), reporting into `progress` (whose `cancelled` flag
    /// stops the search between blocks).
    pub async fn search(
        self: &Arc<Self>,
        repo: &str,
        plan: Arc<Plan>,
        range: SearchRange,
        progress: Arc<Progress>,
    ) -> Result<SearchResult, SearchError> {
        let segments = self.global.read(|s| {
            s.segments_in_range(repo, range.start, range.end)
                .cloned()
                .collect::<Vec<_>>()
        });
        let scope = Scope {
            planned: segments.iter().map(|s| s.id.to_string()).collect(),
            segments,
            wip: true,
        };
        let st = self
            .search_scoped(repo, plan.clone(), range, progress, scope, Box::new(|| {}))
            .await?;
        Ok(finish(&plan, st))
    }

    /// This node's share of a search (see `root.rs`): the given segments, plus — with
    /// `scope.wip` — this node's work in progress and the minis its digest closed that the
    /// plan does not list. `register` is called at the instant the search snapshots WIP (a
    /// live query registers there, so each event reaches it exactly once).
    pub async fn search_scoped(
        self: &Arc<Self>,
        repo: &str,
        plan: Arc<Plan>,
        range: SearchRange,
        progress: Arc<Progress>,
        scope: Scope,
        register: Box<dyn FnOnce() + Send>,
    ) -> Result<State, SearchError> {
        crate::metrics::SEARCH_QUERIES.inc();
        // Snapshot WIP and the segment list consistently (see digest's module docs): copy the
        // WIP chunk lists and read Global while holding every partition's WIP read lock.
        let mut guards = Vec::new();
        for p in &self.wip.partitions {
            guards.push(p.read().await);
        }
        let mut wip: Vec<WipSnapshot> = Vec::new();
        for g in guards.iter().filter(|_| scope.wip) {
            for buf in g.buffers.values().filter(|b| b.datasource.repo == repo) {
                wip.push((Arc::new(buf.datasource.tags.clone()), buf.chunks.clone()));
            }
        }
        let mut segments = scope.segments;
        if scope.wip {
            let newer: Vec<SegmentInfo> = self.global.read(|s| {
                s.segments_in_range(repo, range.start, range.end)
                    .filter(|x| !x.merged && !scope.planned.contains(x.id.as_str()))
                    .cloned()
                    .collect()
            });
            segments.extend(newer.into_iter().filter(|x| self.has_local(&x.id)));
        }
        register();
        drop(guards);
        if let Some(floor) = super::fresh::ingest_floor(&plan.leading) {
            for (_, chunks) in &mut wip {
                chunks.retain(|c| self.chunk_ingest.may_hold(c, floor));
            }
        }
        // Newest first (oldest first for `head`): event lists fill with the events they keep
        // and skip the rest (`keys::ListBound`); downloads arrive in this order too.
        if keys::keyed_list(&plan).is_some_and(|(newest, _)| !newest) {
            segments.sort_by_key(|s| s.min_ts);
        } else {
            segments.sort_by_key(|s| std::cmp::Reverse(s.max_ts));
        }
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
            this.store.quarantine(&seg.id);
            this.download(seg)?;
            progress.reset();
            this.run(&repo, &plan, range, &progress, &wip, &segments)
        })
        .await
        .map_err(|e| SearchError::Internal(format!("search worker failed: {e}")))?
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
        let floor = super::fresh::ingest_floor(&plan.leading);
        for seg in segments {
            if !tags_may_match(&plan.leading, repo, &seg.tags)
                || super::fresh::written_before(seg, floor)
            {
                continue;
            }
            if self.store.is_local(&seg.id) || self.bucket.is_none() || seg.bucket_key.is_none() {
                local.push(seg);
            } else {
                remote.push(seg.clone());
            }
        }
        let (tx, rx) = std::sync::mpsc::channel::<(SegmentInfo, Result<(), SearchError>)>();
        if !remote.is_empty() {
            let this = self.bucket.clone();
            let store = self.store.clone();
            self.runtime.spawn(async move {
                use futures::StreamExt;
                let Some(bucket) = this else { return };
                let fetch = |seg: SegmentInfo| {
                    let bucket = bucket.clone();
                    let path = store.path(&seg.id);
                    async move {
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
