//! Query-then-fetch (`search/keys.rs`): scanning plain event lists for keys and materialising
//! the winners gives exactly the rows of the ordinary scan, and the materialising side rejects
//! bad requests with an error, never a panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use strata::digest::WipRegistry;
use strata::query::{compile, parse, PlanOptions};
use strata::search::keys::{Candidates, FetchRows, KeyedRows};
use strata::search::{finish, scan, Progress, SearchRange, Searcher, SegmentSource};
use strata_global::{Global, MemoryLog, Snapshot};
use strata_segment::datagen::AppLogs;
use strata_segment::{Datasource, SegmentReader, SegmentWriter, WriterOptions};

const REPO: &str = "qtf";
const RANGE: SearchRange = SearchRange {
    start: 0,
    end: i64::MAX / 2,
};

/// Three segments of generated app logs, interleaved in time, named `{id}.seg` in `dir`.
fn segments(dir: &std::path::Path) -> Vec<SegmentSource> {
    let events: Vec<_> = AppLogs::new(7, 1_767_225_600_000)
        .take(6000)
        .enumerate()
        .map(|(i, e)| e.into_event(0, i as u64))
        .collect();
    (0..3)
        .map(|s| {
            let tags: BTreeMap<String, String> = [("host".to_string(), format!("h{s}"))].into();
            let path = dir.join(format!("1-p{s}-seg.seg"));
            let opts = WriterOptions {
                block_bytes: 16 << 10,
                ..WriterOptions::mini()
            };
            let ds = Datasource {
                repo: REPO.into(),
                tags: tags.clone(),
            };
            let mut w = SegmentWriter::create(&path, ds, opts).unwrap();
            for e in events.iter().skip(s).step_by(3) {
                w.push(e.clone()).unwrap();
            }
            w.finish().unwrap();
            (
                Arc::new(SegmentReader::open(&path).unwrap()),
                Arc::new(tags),
            )
        })
        .collect()
}

fn plan(q: &str) -> strata::query::Plan {
    compile(
        &parse(q).unwrap(),
        PlanOptions {
            start: RANGE.start,
            end: RANGE.end,
            default_limit: 200,
            zone: strata::query::Zone::UTC,
        },
    )
    .unwrap()
}

fn searcher(dir: &std::path::Path) -> Searcher {
    let global = Global::start(Arc::new(MemoryLog::new()), Snapshot::default());
    Searcher::new(
        global,
        Arc::new(WipRegistry::new(0)),
        Arc::new(strata::store::SegmentStore::open(dir).unwrap()),
        0,
        None,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_then_fetch_gives_the_rows_of_a_plain_scan() {
    let dir = tempfile::tempdir().unwrap();
    let segs = segments(dir.path());
    let searcher = searcher(dir.path());
    for q in [
        "tail(50)",
        "level=ERROR | tail(7)",
        "head(30)",
        "service=auth",
        "level=WARN | head(500)",
    ] {
        let plan = plan(q);
        let (newest, limit) = strata::search::keys::keyed_list(&plan).expect("a plain list");
        let plain = Progress::default();
        scan(&plan, REPO, RANGE, &plain, &[], &segs, 2, None).unwrap();
        let expected = plain.partial(&plan);

        let keyed = Progress::default();
        keyed.collect_keys(Candidates::new(newest, limit));
        scan(&plan, REPO, RANGE, &keyed, &[], &segs, 2, None).unwrap();
        // Segment events come back as keys only.
        assert!(keyed.partial(&plan).rows.is_empty());
        let k = KeyedRows::from_candidates(keyed.take_keys());
        assert!(k.keys.len() <= limit);
        let req = FetchRows {
            repo: REPO.into(),
            sources: k.sources,
            rows: k.keys.iter().map(|(_, s, b, r)| (*s, *b, *r)).collect(),
        };
        let rows = searcher.materialize(&req).unwrap();
        assert!(rows.iter().zip(&k.keys).all(|(r, (key, ..))| r.key == *key));
        let mut st = plan.agg.new_state();
        for r in rows {
            plan.feed_row(&mut st, r);
        }
        let got = finish(&plan, st);
        assert!(!expected.rows.is_empty(), "{q}: nothing matched");
        assert_eq!(got.rows, expected.rows, "{q}");
    }
    // Aggregates, sorts by a field and lists of rows changed before the list are not ranked
    // by key; operators after the list do not matter.
    for q in ["count()", "sort(latency_ms)", "eval(x=1) | tail(3)"] {
        assert!(strata::search::keys::keyed_list(&plan(q)).is_none(), "{q}");
    }
    assert!(strata::search::keys::keyed_list(&plan("tail(5) | eval(x=1)")).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_fetch_requests_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let segs = segments(dir.path());
    let searcher = searcher(dir.path());
    let id = segs[0]
        .0
        .path()
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let tags = segs[0].1.clone();
    let fetch = |sources: Vec<(String, _)>, rows: Vec<(u32, u32, u32)>| {
        searcher.materialize(&FetchRows {
            repo: REPO.into(),
            sources,
            rows,
        })
    };
    assert_eq!(
        fetch(vec![(id.clone(), tags.clone())], vec![(0, 0, 0)])
            .unwrap()
            .len(),
        1
    );
    let cases = [
        (vec![(id.clone(), tags.clone())], vec![(1, 0, 0)], "source"),
        (
            vec![(id.clone(), tags.clone())],
            vec![(0, 9999, 0)],
            "no block",
        ),
        (
            vec![(id.clone(), tags.clone())],
            vec![(0, 0, 99_999)],
            "no row",
        ),
        (
            vec![("../etc/passwd".to_string(), tags.clone())],
            vec![(0, 0, 0)],
            "not a segment id",
        ),
        (
            vec![("gone".to_string(), tags.clone())],
            vec![(0, 0, 0)],
            "gone",
        ),
    ];
    for (sources, rows, says) in cases {
        let e = fetch(sources, rows).unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
    }
}
