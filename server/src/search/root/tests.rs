//! The root without processes: three nodes in one process, each with its own segment files
//! and [`Searcher`], sharing one Global, reached through [`InProcess`] peers. Faults are
//! injected per node to cover re-planning, a node failing mid-query, a failed row fetch, a
//! remote limit error, and the plan options reaching every node.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use strata_global::{Global, GlobalEvent, MemoryLog, SegmentInfo, Snapshot};
use strata_segment::datagen::AppLogs;
use strata_segment::{Datasource, SegmentWriter, WriterOptions};

use super::{place, Root, RootQuery};
use crate::digest::WipRegistry;
use crate::error::ErrorKind;
use crate::query::PlanOptions;
use crate::search::peers::{Fault, InProcess, PeerError};
use crate::search::{finish, Progress, SearchError, Searcher};
use crate::store::SegmentStore;

const REPO: &str = "root";
const EVENTS_PER_SEGMENT: usize = 700;

struct Cluster {
    peers: Arc<InProcess>,
    searchers: HashMap<u32, Arc<Searcher>>,
    _dirs: Vec<tempfile::TempDir>,
    /// Every event's `seq`, by segment.
    total: usize,
}

fn seg_info(id: &str, summary: &strata_segment::SegmentSummary, nodes: &[u32]) -> SegmentInfo {
    let mut info = crate::merge::NewSegment {
        id: id.to_string(),
        repo: REPO.into(),
        tags: [("host".to_string(), id.to_string())].into(),
        partition: 0,
        first_offset: 0,
        last_offset: 0,
        node: nodes[0],
        merged: true,
        merge_target: None,
    }
    .info(summary);
    info.nodes = nodes.iter().copied().collect();
    info
}

/// Nodes 1–3; segments `s{k}` are on `holders[k]` (the first holder wrote it, the others
/// hold copies). Each event carries a unique `seq=N` field.
async fn cluster(holders: &[&[u32]]) -> Cluster {
    let global = Global::start(Arc::new(MemoryLog::new()), Snapshot::default());
    global
        .publish(GlobalEvent::CreateRepository {
            name: REPO.into(),
            description: String::new(),
        })
        .await
        .unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let stores: Vec<Arc<SegmentStore>> = dirs
        .iter()
        .map(|d| Arc::new(SegmentStore::open(d.path()).unwrap()))
        .collect();
    let mut gen = AppLogs::new(11, 1_767_225_600_000);
    let mut seq = 0usize;
    for (k, nodes) in holders.iter().enumerate() {
        let id = format!("{}-m-s{k}", nodes[0]);
        let path = stores[nodes[0] as usize - 1].path(&id);
        let ds = Datasource {
            repo: REPO.into(),
            tags: [("host".to_string(), id.clone())].into(),
        };
        let opts = WriterOptions {
            block_bytes: 8 << 10,
            ..WriterOptions::merged()
        };
        let mut w = SegmentWriter::create(&path, ds, opts).unwrap();
        for _ in 0..EVENTS_PER_SEGMENT {
            let mut e = gen.next().unwrap().into_event(0, seq as u64);
            e.raw = format!("{} seq={seq}", e.raw);
            e.fields.insert("seq".into(), seq.to_string());
            w.push(e).unwrap();
            seq += 1;
        }
        let summary = w.finish().unwrap();
        for n in &nodes[1..] {
            std::fs::copy(&path, stores[*n as usize - 1].path(&id)).unwrap();
        }
        let segment = seg_info(&id, &summary, nodes);
        let (_, o) = global
            .publish(GlobalEvent::AddSegment {
                segment,
                safe_offset: None,
            })
            .await
            .unwrap();
        assert!(o.is_applied(), "{o:?}");
    }
    let searchers: HashMap<u32, Arc<Searcher>> = (1..=3u32)
        .map(|n| {
            let s = Searcher::new(
                global.clone(),
                Arc::new(WipRegistry::new(0)),
                stores[n as usize - 1].clone(),
                0,
                None,
            );
            (n, Arc::new(s))
        })
        .collect();
    let peers = Arc::new(InProcess::new(searchers.clone()));
    Cluster {
        peers,
        searchers,
        _dirs: dirs,
        total: seq,
    }
}

impl Cluster {
    fn root(&self, me: u32) -> Root<'_> {
        Root {
            me,
            searcher: &self.searchers[&me],
            peers: &*self.peers,
            has_bucket: false,
        }
    }

    async fn query(
        &self,
        me: u32,
        q: &str,
        default_limit: usize,
    ) -> Result<(crate::search::SearchResult, Vec<String>), SearchError> {
        let rq = RootQuery {
            repo: REPO.into(),
            query_string: q.into(),
            arguments: Default::default(),
            options: PlanOptions {
                start: 0,
                end: i64::MAX / 2,
                default_limit,
                zone: crate::query::Zone::UTC,
            },
            live: None,
            files: Default::default(),
            view: None,
        };
        let plan = Arc::new(rq.compile()?);
        let g = self
            .root(me)
            .search(
                plan.clone(),
                &rq,
                Arc::new(Progress::default()),
                Box::new(|| {}),
            )
            .await?;
        Ok((finish(&plan, g.state), g.warnings))
    }
}

fn seqs(r: &crate::search::SearchResult) -> Vec<usize> {
    r.rows
        .iter()
        .map(|row| {
            row.fields
                .iter()
                .find(|(k, _)| k == "seq")
                .and_then(|(_, v)| v.parse().ok())
                .expect("every event has a seq")
        })
        .collect()
}

fn count(r: &crate::search::SearchResult) -> u64 {
    r.rows[0]
        .fields
        .iter()
        .find(|(k, _)| k == "_count")
        .and_then(|(_, v)| v.parse().ok())
        .expect("a _count")
}

#[test]
fn place_prefers_here_then_the_least_loaded_live_holder_then_the_bucket() {
    let seg = |id: &str, nodes: &[u32], bytes: u64, bucket: bool| {
        let summary = strata_segment::SegmentSummary {
            path: Default::default(),
            event_count: 1,
            min_ts: 0,
            max_ts: 0,
            raw_bytes: 1,
            file_bytes: bytes,
            file_crc: 0,
            offsets: Vec::new(),
            codec: strata_segment::Codec::Zstd { level: 3 },
        };
        let mut s = seg_info(id, &summary, nodes);
        s.file_bytes = bytes;
        s.bucket_key = bucket.then(|| format!("k/{id}"));
        s
    };
    let segs = vec![
        seg("a", &[1, 2], 10, false), // here
        seg("b", &[2, 3], 100, false),
        seg("c", &[2, 3], 10, false), // 2 has 100 already: to 3
        seg("d", &[4], 10, true),     // holder dead: the bucket, from here
        seg("e", &[4], 10, false),    // nowhere
    ];
    let here = |s: &SegmentInfo| s.nodes.contains(&1);
    let mut load = HashMap::new();
    let p = place(
        segs.clone(),
        1,
        &[1, 2, 3],
        &HashSet::new(),
        here,
        true,
        &mut load,
    );
    let ids = |n: u32| -> Vec<String> { p.share[&n].iter().map(|s| s.id.to_string()).collect() };
    assert_eq!(ids(1), ["a", "d"]);
    assert_eq!(ids(2), ["b"]);
    assert_eq!(ids(3), ["c"]);
    assert_eq!(p.missing, 1);

    // Re-planning without node 2 (failed): its segments go to the other holder.
    let again = place(
        vec![segs[1].clone()],
        1,
        &[1, 2, 3],
        &[2].into(),
        here,
        true,
        &mut load,
    );
    assert!(!again.share.contains_key(&2));
    assert_eq!(again.share[&3].len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_node_answers_like_one_node_and_plan_options_travel() {
    let c = cluster(&[&[1], &[2], &[3], &[2, 3], &[3]]).await;
    let all: BTreeSet<usize> = (0..c.total).collect();
    for me in 1..=3 {
        let (r, w) = c.query(me, "count()", 200).await.unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(count(&r), c.total as u64);

        // A plain list compiled with a large default limit: every node must cut it there,
        // not at its own default (the bug: 3 nodes gave 900, 1,700 or 1,600 of 3,000).
        let (r, w) = c.query(me, "seq=*", 100_000).await.unwrap();
        assert!(
            w.is_empty() && r.warnings.is_empty(),
            "{w:?} {:?}",
            r.warnings
        );
        let got = seqs(&r);
        assert_eq!(got.len(), c.total, "from node {me}");
        assert_eq!(got.iter().copied().collect::<BTreeSet<_>>(), all);

        assert!(!r.more_events);

        // The default list: the newest 200, the same from every node, and it knows it was cut.
        let (r, w) = c.query(me, "seq=*", 200).await.unwrap();
        let got: BTreeSet<usize> = seqs(&r).into_iter().collect();
        assert_eq!(got, (c.total - 200..c.total).collect());
        assert!(r.more_events, "the list knows it was cut");
        assert!(
            w.is_empty() && r.warnings.is_empty(),
            "{w:?} {:?}",
            r.warnings
        );

        // Short lists whose winners all live on other nodes (fetched): every one arrives, the
        // last included.
        let (r, _) = c.query(me, "tail(10)", 200).await.unwrap();
        assert_eq!(
            seqs(&r),
            (c.total - 10..c.total).rev().collect::<Vec<_>>(),
            "from node {me}"
        );
        let (r, _) = c.query(me, "head(10)", 200).await.unwrap();
        assert_eq!(seqs(&r), (0..10).collect::<Vec<_>>(), "from node {me}");

        // Exactly full is not cut; an explicit limit that cuts sets hasMoreEvents only.
        let (r, _) = c.query(me, "seq=*", c.total).await.unwrap();
        assert_eq!(seqs(&r).len(), c.total);
        assert!(!r.more_events && r.warnings.is_empty(), "{:?}", r.warnings);
        let (r, _) = c.query(me, "tail(100)", 200).await.unwrap();
        assert_eq!(seqs(&r).len(), 100);
        assert!(r.more_events && r.warnings.is_empty(), "{:?}", r.warnings);
    }
    let received = c.peers.received();
    assert!(!received.is_empty());
    assert!(received
        .iter()
        .filter(|(_, q)| q.query_string == "seq=*")
        .all(|(_, q)| [100_000, 200, c.total].contains(&q.default_limit)));
    assert!(received.iter().any(|(_, q)| q.default_limit == 100_000));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_failing_mid_query_has_its_segments_replanned() {
    // s1 and s3 are on node 2 and 3; s2 only on node 2.
    let c = cluster(&[&[1], &[2, 3], &[2], &[3, 2]]).await;
    // Node 2 still counts as live (its heartbeats have not timed out) but its calls fail.
    c.peers.set_fault(2, Some(Fault::Down));
    let (r, w) = c.query(1, "count()", 200).await.unwrap();
    assert_eq!(
        count(&r),
        (c.total - EVENTS_PER_SEGMENT) as u64,
        "all but the segment only node 2 has"
    );
    assert!(w.iter().any(|w| w.contains("node(s) [2] failed")), "{w:?}");
    assert!(
        w.iter()
            .any(|w| w.contains("1 segment(s) of the failed node(s) have no other copy")),
        "{w:?}"
    );

    // Plain lists (query-then-fetch) re-plan the same way.
    let (r, w) = c.query(1, "tail(5000)", 200).await.unwrap();
    assert_eq!(seqs(&r).len(), c.total - EVENTS_PER_SEGMENT);
    assert!(!w.is_empty());

    // Node 3 fails between its sub-search and the row fetch: its segment (s3, also on node
    // 2) is searched again on node 2, and nothing is lost.
    c.peers.set_fault(2, None);
    c.peers.set_fault(3, Some(Fault::FetchFails));
    let (r, w) = c.query(1, "tail(5000)", 200).await.unwrap();
    let got = seqs(&r);
    assert_eq!(got.len(), c.total, "each event once");
    assert_eq!(
        got.into_iter().collect::<BTreeSet<_>>(),
        (0..c.total).collect()
    );
    assert!(w.iter().any(|w| w.contains("node(s) [3] failed")), "{w:?}");

    // Healthy again: complete, no warning.
    c.peers.set_fault(2, None);
    c.peers.set_fault(3, None);
    let (r, w) = c.query(1, "tail(5000)", 200).await.unwrap();
    assert_eq!(seqs(&r).len(), c.total);
    assert!(w.is_empty(), "{w:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_known_offline_is_planned_around() {
    let c = cluster(&[&[1], &[2, 3], &[3]]).await;
    c.peers.set_offline(2, true);
    let (r, w) = c.query(1, "count()", 200).await.unwrap();
    assert_eq!(count(&r), c.total as u64);
    assert!(w.is_empty(), "{w:?}");
    assert!(c.peers.received().iter().all(|(n, _)| *n != 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_remote_limit_error_fails_the_query_as_a_limit_not_a_node() {
    let c = cluster(&[&[1], &[2], &[3]]).await;
    let limit = PeerError {
        kind: ErrorKind::Limit,
        message: "count(distinct=true) saw more than 2000000 distinct values; narrow the query"
            .into(),
    };
    c.peers.set_fault(3, Some(Fault::SubSearch(limit)));
    let e = c.query(1, "count()", 200).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.to_string().contains("narrow the query"), "{e}");
    // And a bad query stays a bad query.
    let bad = PeerError {
        kind: ErrorKind::BadInput,
        message: "unknown function".into(),
    };
    c.peers.set_fault(3, Some(Fault::SubSearch(bad)));
    let e = c.query(2, "count()", 200).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
    // A query wrong on the root fails there, before anything is sent.
    let e = c.query(1, "count(", 200).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BadInput);
}

#[tokio::test(flavor = "multi_thread")]
async fn groupby_merges_partial_states_from_every_node() {
    let c = cluster(&[&[1], &[2], &[3], &[1, 2]]).await;
    for me in 1..=3 {
        let (r, w) = c
            .query(me, "groupBy(#host, function=[count(), max(seq)])", 200)
            .await
            .unwrap();
        assert!(w.is_empty(), "{w:?}");
        let got: BTreeMap<String, (String, String)> = r
            .rows
            .iter()
            .map(|row| {
                let f: BTreeMap<&str, &str> = row
                    .fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (
                    f["#host"].to_string(),
                    (f["_count"].to_string(), f["_max"].to_string()),
                )
            })
            .collect();
        let want: BTreeMap<String, (String, String)> = [(1, 0), (2, 1), (3, 2), (1, 3)]
            .iter()
            .map(|(n, k)| {
                let max = (k + 1) * EVENTS_PER_SEGMENT - 1;
                (
                    format!("{n}-m-s{k}"),
                    (EVENTS_PER_SEGMENT.to_string(), max.to_string()),
                )
            })
            .collect();
        assert_eq!(got, want, "from node {me}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_query_sees_events_digested_on_every_node() {
    use crate::search::live::{LiveSpec, LiveSub};
    use crate::search::peers::Peers;
    let c = cluster(&[&[1], &[2], &[3]]).await;
    let now = crate::text::now_ms();
    let spec = LiveSpec::new("P1-live", 3_600_000);
    let rq = RootQuery {
        repo: REPO.into(),
        query_string: "count()".into(),
        arguments: Default::default(),
        options: PlanOptions {
            start: now - 3_600_000,
            end: now + 1,
            default_limit: 200,
            zone: crate::query::Zone::UTC,
        },
        live: Some(spec.clone()),
        files: Default::default(),
        view: None,
    };
    let plan = Arc::new(rq.compile().unwrap());
    let mine = Arc::new(LiveSub::new(&spec, REPO, plan.clone()));
    let (s1, m) = (c.searchers[&1].clone(), mine.clone());
    let g = c
        .root(1)
        .search(
            plan.clone(),
            &rq,
            Arc::new(Progress::default()),
            Box::new(move || s1.live().register(&m)),
        )
        .await
        .unwrap();
    mine.merge(g.state);
    assert_eq!(g.answered, vec![2, 3], "both other nodes hold a sub");

    // Each node's digest offers what it adds to WIP after the search.
    let mut gen = AppLogs::new(5, now - 1000);
    let tags: BTreeMap<String, String> = [("host".to_string(), "x".to_string())].into();
    for (n, k) in [(1u32, 2usize), (2, 5), (3, 3)] {
        let events: Vec<_> = (0..k)
            .map(|i| {
                let mut e = gen.next().unwrap().into_event(0, i as u64);
                e.timestamp = now - 10;
                e
            })
            .collect();
        c.searchers[&n].live().offer(REPO, &tags, &events);
    }
    let mut others = Vec::new();
    for n in g.answered {
        others.push(c.peers.live_state(n, &spec.id).await.unwrap());
    }
    let r = mine.result_with(others);
    assert_eq!(count(&r), 10, "2 + 5 + 3 events, each once");

    // A held sub nobody polls expires; asking for it then is "not found", not a crash.
    c.searchers[&2]
        .live()
        .expire_held(std::time::Duration::ZERO);
    let e = c.peers.live_state(2, &spec.id).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_root_without_events_of_its_own_gets_every_fetched_winner() {
    // Node 1 holds nothing: every winner of a short list is fetched from nodes 2 and 3. (A
    // threshold marked on the root's list before the fetched rows arrived once turned the
    // last winner away.)
    let c = cluster(&[&[2], &[3], &[2, 3]]).await;
    let (r, w) = c.query(1, "tail(10)", 200).await.unwrap();
    assert!(w.is_empty(), "{w:?}");
    assert_eq!(seqs(&r), (c.total - 10..c.total).rev().collect::<Vec<_>>());
    assert!(r.more_events);
    let (r, _) = c.query(1, "head(10)", 200).await.unwrap();
    assert_eq!(seqs(&r), (0..10).collect::<Vec<_>>());
    let (r, _) = c.query(1, "seq=*", 200).await.unwrap();
    assert_eq!(seqs(&r).len(), 200);
}
