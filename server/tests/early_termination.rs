//! Early termination of plain event lists (`search/keys.rs::ListBound`, `search/scan.rs`):
//! `head()`, `tail()` and the default list scan blocks best first and skip the blocks that can
//! no longer make the list. The lists must equal the full scan's (a property over random data,
//! in both the row and the query-then-fetch key paths), and the scan must actually stop: the
//! events of the blocks read are counted.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use proptest::prelude::*;
use strata::query::{compile, parse, PlanOptions, Zone};
use strata::search::keys::Candidates;
use strata::search::{execute, scan, Progress, SearchRange, SegmentSource};
use strata_segment::{Datasource, Event, EventId, SegmentReader, SegmentWriter, WriterOptions};

const REPO: &str = "et";
const RANGE: SearchRange = SearchRange {
    start: 0,
    end: i64::MAX / 2,
};
const WORDS: &[&str] = &["alpha", "beta", "gamma", "delta"];

/// Writes each list of events (sorted by time here) as one segment with blocks of at most
/// `block_events` events.
fn write(dir: &std::path::Path, segs: Vec<Vec<Event>>, block_events: usize) -> Vec<SegmentSource> {
    segs.into_iter()
        .enumerate()
        .map(|(s, mut events)| {
            events.sort_by_key(|e| (e.timestamp, e.id));
            let path = dir.join(format!("1-p{s}-seg.seg"));
            let opts = WriterOptions {
                max_block_events: block_events,
                ..WriterOptions::merged()
            };
            let ds = Datasource {
                repo: REPO.into(),
                tags: BTreeMap::new(),
            };
            let mut w = SegmentWriter::create(&path, ds, opts).unwrap();
            for e in events {
                w.push(e).unwrap();
            }
            w.finish().unwrap();
            (
                Arc::new(SegmentReader::open(&path).unwrap()),
                Arc::new(BTreeMap::new()),
            )
        })
        .collect()
}

fn event(ts: i64, partition: u32, offset: u64, word: &str, level: &str) -> Event {
    Event {
        timestamp: ts,
        timestamp_nanos: 0,
        ingest_timestamp: ts,
        id: EventId {
            partition,
            offset,
            index: 0,
        },
        raw: format!("{{\"level\":\"{level}\",\"message\":\"{word} happened {offset}\"}}"),
        fields: [("level".to_string(), level.to_string())].into(),
    }
}

fn plan(q: &str, default_limit: usize) -> strata::query::Plan {
    compile(
        &parse(q).unwrap(),
        PlanOptions {
            start: RANGE.start,
            end: RANGE.end,
            default_limit,
            zone: Zone::UTC,
        },
    )
    .unwrap()
}

/// (rows as (key, rawstring) in result order, more events, events in blocks read).
type Listed = (Vec<(strata::query::row::RowKey, String)>, bool, u64);

fn run(q: &str, default_limit: usize, segs: &[SegmentSource], threads: usize) -> Listed {
    let p = Progress::default();
    let r = execute(
        &plan(q, default_limit),
        REPO,
        RANGE,
        &p,
        &[],
        segs,
        threads,
        None,
    )
    .unwrap();
    let rows = r
        .rows
        .iter()
        .map(|row| {
            let raw = row
                .fields
                .iter()
                .find(|(k, _)| k == "@rawstring")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            (row.key, raw)
        })
        .collect();
    (
        rows,
        r.more_events,
        p.processed_events.load(Ordering::Relaxed),
    )
}

/// The best `limit` of a full scan's list (a limit larger than the data set never cuts, so no
/// block is skipped), in the full list's order.
fn best_of_full(
    full: &Listed,
    newest: bool,
    limit: usize,
) -> Vec<(strata::query::row::RowKey, String)> {
    let mut v = full.0.clone();
    if newest {
        v.sort_by_key(|x| std::cmp::Reverse(x.0));
    } else {
        v.sort_by_key(|x| x.0);
    }
    v.truncate(limit);
    v
}

fn sorted(
    mut v: Vec<(strata::query::row::RowKey, String)>,
) -> Vec<(strata::query::row::RowKey, String)> {
    v.sort();
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Random segments overlapping in time with repeated timestamps, random filters, limits and
    /// directions: the early-terminated list is the full scan's best `limit`, in the same order,
    /// with the same "more events" flag.
    #[test]
    fn lists_equal_the_full_scan(
        segs in prop::collection::vec(
            prop::collection::vec((0i64..400, 0usize..4, any::<bool>()), 1..300), 1..5),
        block_events in 8usize..64,
        limit in 1usize..60,
        filter in 0usize..4,
        threads in 1usize..3,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut off = 0u64;
        let events: Vec<Vec<Event>> = segs
            .into_iter()
            .enumerate()
            .map(|(s, evs)| {
                evs.into_iter()
                    .map(|(ts, w, err)| {
                        off += 1;
                        event(1000 + ts, s as u32, off, WORDS[w], if err { "ERROR" } else { "INFO" })
                    })
                    .collect()
            })
            .collect();
        let sources = write(dir.path(), events, block_events);
        let f = ["", "alpha ", "level=ERROR ", "beta level=INFO "][filter];
        for (tail, newest) in [(format!("{f}| tail({limit})"), true), (format!("{f}| head({limit})"), false)] {
            let big = tail.replace(&format!("({limit})"), "(50000)");
            let full = run(&big, 200, &sources, threads);
            let got = run(&tail, 200, &sources, threads);
            prop_assert!(!full.1, "a limit past the data set never cuts");
            let want = best_of_full(&full, newest, limit);
            prop_assert_eq!(sorted(got.0.clone()), sorted(want), "{}", tail);
            prop_assert_eq!(got.1, full.0.len() > limit, "more events: {}", tail);
            prop_assert!(got.2 <= full.2);
        }
        // The default list (an implicit newest-first list of `default_limit`).
        if !f.is_empty() {
            let full = run(f, 50_000, &sources, threads);
            let got = run(f, limit, &sources, threads);
            prop_assert_eq!(sorted(got.0), sorted(best_of_full(&full, true, limit)));
        }
        // Query-then-fetch's keys: the same winners.
        for (q, newest) in [(format!("{f}| tail({limit})"), true), (format!("{f}| head({limit})"), false)] {
            let full = run(&q.replace(&format!("({limit})"), "(50000)"), 200, &sources, threads);
            let p = Progress::default();
            p.collect_keys(Candidates::new(newest, limit));
            scan(&plan(&q, 200), REPO, RANGE, &p, &[], &sources, threads, None).unwrap();
            let (keys, cut) = p.take_keys();
            let mut got: Vec<_> = keys.iter().map(|c| c.key).collect();
            got.sort();
            let mut want: Vec<_> = best_of_full(&full, newest, limit).into_iter().map(|x| x.0).collect();
            want.sort();
            prop_assert_eq!(got, want, "keys: {}", q);
            prop_assert_eq!(cut, full.0.len() > limit);
        }
    }
}

/// Eight segments of 4,000 events in disjoint, increasing time ranges, blocks of 500 events:
/// a `tail(10)` or `head(10)` reads at most one block per worker (each worker's first block
/// already holds ten better events than any other block), where the full scan reads all 64.
#[test]
fn a_short_list_reads_only_the_blocks_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let segs: Vec<Vec<Event>> = (0..8)
        .map(|s| {
            (0..4000)
                .map(|i| {
                    let n = s * 4000 + i;
                    event(10_000 + n as i64, 0, n as u64, WORDS[n % 4], "INFO")
                })
                .collect()
        })
        .collect();
    let sources = write(dir.path(), segs, 500);
    let blocks: usize = sources.iter().map(|s| s.0.blocks().len()).sum();
    assert_eq!(blocks, 64);
    for threads in [1, 2] {
        let full = run("tail(50000)", 200, &sources, threads);
        assert_eq!(full.2, 32_000, "the full scan reads every block");
        for q in [
            "tail(10)",
            "head(10)",
            "alpha | tail(10)",
            "alpha | head(10)",
        ] {
            let (rows, more, read) = run(q, 200, &sources, threads);
            assert_eq!(rows.len(), 10, "{q}");
            assert!(more, "{q}");
            assert!(
                read <= 500 * threads as u64,
                "{q} on {threads} thread(s) read {read} events' blocks"
            );
            let newest = q.contains("tail");
            let alpha = |t: &i64| !q.contains("alpha") || (t - 10_000) % 4 == 0;
            let mut want: Vec<i64> = full.0.iter().map(|r| r.0 .0).filter(alpha).collect();
            want.sort();
            if newest {
                want.reverse();
            }
            want.truncate(10);
            want.sort();
            let mut got: Vec<i64> = rows.iter().map(|r| r.0 .0).collect();
            got.sort();
            assert_eq!(got, want, "{q}");
        }
        // The default list of the streaming slices and query jobs: the newest `default_limit`.
        let (rows, _, read) = run("", 10, &sources, threads);
        assert_eq!(rows.len(), 10);
        assert!(read <= 500 * threads as u64, "default list read {read}");
    }
}
