//! The scan: runs a plan over open segments and WIP events on all cores. Work is split into
//! block ranges; each worker keeps its own partial aggregate state and merges it into the
//! query's [`Progress`] now and then (partial results), and downloads join the same worker
//! pool as they arrive (`scan_fed`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_segment::SegmentReader;

use super::columns::{self, filter_query_for, tags_may_match, ColumnCache};
use super::{fast, finish, fresh, keys, Progress, SearchError, SearchRange, SearchResult};
use super::{SegmentSource, WipSnapshot};
use crate::query::{Plan, Row, State};

/// A unit of scan work: some blocks of one segment.
struct WorkItem {
    id: String,
    reader: Arc<SegmentReader>,
    tags: Arc<std::collections::BTreeMap<String, String>>,
    blocks: Vec<usize>,
}

/// Blocks per work item: small enough to balance two cores and report progress often.
const BLOCKS_PER_ITEM: usize = 8;

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

/// Splits segments into work items: candidate blocks, `BLOCKS_PER_ITEM` at a time. For a plain
/// event list (`order` set: newest first or not) the blocks of all segments are ordered by
/// time, best first, so the list fills with its winners early and the rest is skipped
/// (`keys::ListBound`); items then hold consecutive blocks of one segment.
fn work_items(
    segments: &[SegmentSource],
    range: SearchRange,
    fq: &strata_segment::FilterQuery,
    order: Option<bool>,
) -> Vec<WorkItem> {
    let mut items = Vec::new();
    let mut listed: Vec<(i64, usize, usize)> = Vec::new();
    let mut ids = Vec::with_capacity(segments.len());
    for (s, (reader, tags)) in segments.iter().enumerate() {
        let id = reader
            .path()
            .file_stem()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let total = reader.blocks().len();
        let blocks = reader.candidate_blocks(range.start, range.end, fq);
        crate::metrics::SEARCH_BLOCKS_SKIPPED.inc_by((total - blocks.len()) as u64);
        match order {
            Some(newest) => {
                let metas = reader.blocks();
                listed.extend(blocks.iter().map(|&b| {
                    let t = if newest {
                        -metas[b].max_ts
                    } else {
                        metas[b].min_ts
                    };
                    (t, s, b)
                }));
            }
            None => {
                for chunk in blocks.chunks(BLOCKS_PER_ITEM) {
                    items.push(WorkItem {
                        id: id.clone(),
                        reader: reader.clone(),
                        tags: tags.clone(),
                        blocks: chunk.to_vec(),
                    });
                }
            }
        }
        ids.push(id);
    }
    // Best first; ties by segment and block keep the order stable.
    listed.sort_unstable();
    for (_, s, b) in listed {
        match items.last_mut() {
            Some(it) if it.id == ids[s] && it.blocks.len() < BLOCKS_PER_ITEM => it.blocks.push(b),
            _ => items.push(WorkItem {
                id: ids[s].clone(),
                reader: segments[s].0.clone(),
                tags: segments[s].1.clone(),
                blocks: vec![b],
            }),
        }
    }
    items
}

/// [`scan`], with `feed` supplying more segments while it runs (downloads as they arrive).
#[allow(clippy::too_many_arguments)]
pub(super) fn scan_fed(
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
    let bound = keys::ListBound::for_plan(plan);
    let order = bound.as_ref().map(|b| b.newest);
    let items = work_items(segments, range, &fq, order);
    progress
        .work_total
        .fetch_add(items.len() as u64, Ordering::Relaxed);
    let fed = feed.is_some();

    // Work in progress: small, run here.
    let mut st = plan.agg.new_state();
    let floor = fresh::ingest_floor(&plan.leading);
    // Without extraction the leading filter can be tested before the row is built.
    let pretest = !plan.leading.extracts();
    for (tags, chunks) in wip {
        if !tags_may_match(&plan.leading, repo, tags) {
            continue;
        }
        for e in chunks.iter().flat_map(|c| c.iter()) {
            if e.timestamp < range.start || e.timestamp >= range.end {
                continue;
            }
            if floor.is_some_and(|f| e.ingest_timestamp < f) {
                continue;
            }
            progress.processed_events.fetch_add(1, Ordering::Relaxed);
            progress
                .processed_bytes
                .fetch_add(e.raw.len() as u64, Ordering::Relaxed);
            let view = fresh::EventView {
                event: e,
                repo,
                tags,
            };
            if pretest && !plan.leading.matches(&view) {
                continue;
            }
            let row = Row::from_event(e, repo, tags);
            plan.feed_event_row(&mut st, row);
        }
    }
    if let Some(b) = &bound {
        b.observe(&st);
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
                    let new = work_items(&segs, range, &fq, order);
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
                bound.as_ref(),
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
    bound: Option<&keys::ListBound>,
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
    let mut observed = usize::MAX;
    for &b in &item.blocks {
        let meta = &r.blocks()[b];
        if let Some(lb) = bound {
            // Raised by what this worker (or another) already holds: skip unread. The
            // worker's own list is looked at only when it changed.
            let held = match (keys.as_deref(), &*st) {
                (Some(k), _) => k.len(),
                (None, State::Rows { rows, .. }) => rows.len(),
                _ => 0,
            };
            if held != observed {
                observed = held;
                match keys.as_deref() {
                    Some(k) => lb.observe_keys(k),
                    None => lb.observe(st),
                }
            }
            if lb.rules_out(meta.min_ts, meta.max_ts) {
                crate::metrics::SEARCH_BLOCKS_SKIPPED.inc();
                continue;
            }
        }
        crate::metrics::SEARCH_BLOCKS_READ.inc();
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
