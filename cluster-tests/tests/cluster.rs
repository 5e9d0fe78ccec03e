//! Multi-node scenarios against real processes (see the crate docs). The tests share the
//! machine's two cores, so they run one at a time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use strata_cluster_tests::{lines, Cluster, SECRET};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Ingests `batches` batches of `size` lines round-robin over the running nodes; returns how
/// many lines were acknowledged.
fn ingest_round_robin(c: &Cluster, batch: &str, from: usize, batches: usize, size: usize) -> usize {
    let mut acked = 0;
    for b in 0..batches {
        let running = c.running();
        let node = running[b % running.len()];
        let l = lines(batch, from + b * size, size);
        // 12 datasources spread the batches over the partitions, hence over the nodes.
        if c.ingest_tagged(node, &format!("s{}", b % 12), &l) {
            acked += size;
        }
    }
    acked
}

#[test]
fn killed_node_loses_no_acknowledged_event() {
    let _g = serial();
    let mut c = Cluster::new(3);
    c.create_repo("web");
    let mut acked = ingest_round_robin(&c, "k", 0, 12, 50);
    c.kill(1);
    let t = Instant::now();
    acked += ingest_round_robin(&c, "k", 600, 12, 50);
    assert_eq!(
        acked, 1200,
        "the survivors acknowledge everything sent to them"
    );
    for i in [0, 2] {
        c.assert_count(i, "batch=k", acked as u64);
    }
    eprintln!(
        "failover: all acked events searchable {:?} after the kill",
        t.elapsed()
    );
    let (rows, _) = c.query(2, "batch=k | count(seq, distinct=true)");
    assert_eq!(rows[0]["_count"], acked.to_string(), "no event twice");
    c.restart(1);
    c.assert_count(1, "batch=k", acked as u64);
    // The restarted node takes its partitions back, and ingest through it works.
    c.wait_until(30, "node 2 to be primary again", || {
        c.primaries(0).contains(&2)
    });
    assert!(c.ingest(1, &lines("k", 5000, 10)));
    for i in 0..3 {
        c.assert_count(i, "batch=k", acked as u64 + 10);
    }
}

#[test]
fn coordinator_failover_keeps_digest_going() {
    let _g = serial();
    let mut c = Cluster::new(3);
    c.create_repo("web");
    c.wait_partitions_spread();
    assert!(c.ingest(0, &lines("c", 0, 100)));
    c.kill(0); // node 1: the coordinator (lowest id)
    let t = Instant::now();
    c.wait_until(30, "a new coordinator to move node 1's partitions", || {
        !c.primaries(1).contains(&1)
    });
    let moved = t.elapsed();
    assert!(c.ingest(1, &lines("c", 100, 100)));
    assert!(c.ingest(2, &lines("c", 200, 100)));
    c.assert_count(1, "batch=c", 300);
    c.assert_count(2, "batch=c", 300);
    eprintln!(
        "coordinator failover: partitions moved {moved:?} after the kill; all 300 searchable {:?} after it",
        t.elapsed()
    );
    let states = c.graphql(1, "{ cluster { nodes { id state } } }");
    assert!(
        states.to_string().contains(r#"{"id":1,"state":"Offline"}"#),
        "{states}"
    );
}

#[test]
fn rolling_restart_under_ingest_loses_nothing() {
    let _g = serial();
    let mut c = Cluster::new(3);
    c.create_repo("web");
    let mut acked = 0;
    let mut next = 0;
    for i in 0..3 {
        acked += ingest_round_robin(&c, "r", next, 4, 25);
        next += 100;
        c.stop(i);
        acked += ingest_round_robin(&c, "r", next, 4, 25);
        next += 100;
        c.restart(i);
    }
    acked += ingest_round_robin(&c, "r", next, 4, 25);
    assert_eq!(acked, 700);
    for i in 0..3 {
        c.assert_count(i, "batch=r", acked as u64);
    }
    let (rows, _) = c.query(0, "batch=r | count(seq, distinct=true)");
    assert_eq!(rows[0]["_count"], acked.to_string());
}

#[test]
fn every_node_answers_like_a_single_node() {
    let _g = serial();
    let mut c = Cluster::new(3);
    c.create_repo("web");
    c.wait_partitions_spread();
    assert_eq!(ingest_round_robin(&c, "s", 0, 30, 100), 3000);
    c.wait_until(60, "segments on at least two nodes", || {
        let d = c.graphql(0, "{ cluster { nodes { segmentCount } } }");
        d["cluster"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["segmentCount"].as_u64().unwrap_or(0) > 0)
            .count()
            >= 2
    });
    for i in 0..3 {
        c.assert_count(i, "batch=s", 3000);
    }
    let queries = [
        "batch=s | groupBy(host, function=count())",
        "batch=s | stats([count(), sum(seq), max(seq)])",
        "batch=s level=ERROR | top(host)",
        "batch=s | sort(seq, limit=5) | table([seq])",
    ];
    let answers: Vec<Vec<String>> = (0..3)
        .map(|i| {
            queries
                .iter()
                .map(|q| {
                    let (rows, w) = c.query(i, q);
                    assert!(w.is_empty(), "{w}");
                    serde_json::to_string(&rows).unwrap()
                })
                .collect()
        })
        .collect();
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    // The answers were gathered: every node ran sub-searches for the others.
    for i in 0..3 {
        assert!(c.metric(i, "strata_cluster_fanout_queries_total") > 0.0);
        assert!(c.metric(i, "strata_cluster_subsearches_total") > 0.0);
    }
    // Event lists (query-then-fetch: other nodes answer with keys, the winners are fetched)
    // are the same from every node, whole events included. Timestamps are ingest times, so
    // these compare nodes of this cluster, not the single node below.
    let fetched_before: f64 = (0..3)
        .map(|i| c.metric(i, "strata_cluster_rows_fetched_total"))
        .sum();
    let lists = [
        "batch=s level=ERROR | tail(20)",
        "batch=s | head(15)",
        "batch=s seq=*7",
    ];
    let listed: Vec<Vec<Vec<Value>>> = (0..3)
        .map(|i| {
            lists
                .iter()
                .map(|q| {
                    let (rows, w) = c.query(i, q);
                    assert!(w.is_empty(), "{w}");
                    rows
                })
                .collect()
        })
        .collect();
    assert_eq!(listed[0], listed[1]);
    assert_eq!(listed[0], listed[2]);
    let seqs = |rows: &[Value]| -> Vec<u64> {
        rows.iter()
            .map(|r| r["seq"].as_str().unwrap().parse().unwrap())
            .collect()
    };
    let (tail, head, plain) = (
        seqs(&listed[0][0]),
        seqs(&listed[0][1]),
        seqs(&listed[0][2]),
    );
    assert_eq!(tail.len(), 20);
    assert!(tail.iter().all(|s| *s >= 2800 && s % 3 == 2), "{tail:?}");
    assert_eq!(head.len(), 15);
    assert!(head.iter().all(|s| *s < 100), "{head:?}");
    assert_eq!(plain.len(), 300);
    assert!(plain.iter().all(|s| s % 10 == 7), "{plain:?}");
    assert!(listed[0][2][0]["@rawstring"]
        .as_str()
        .unwrap()
        .contains("host=h2"));
    let fetched_after: f64 = (0..3)
        .map(|i| c.metric(i, "strata_cluster_rows_fetched_total"))
        .sum();
    assert!(
        fetched_after > fetched_before,
        "no node fetched rows for another"
    );
    drop(c);

    let mut single = Cluster::new(1);
    single.create_repo("web");
    assert_eq!(ingest_round_robin(&single, "s", 0, 30, 100), 3000);
    single.assert_count(0, "batch=s", 3000);
    let alone: Vec<String> = queries
        .iter()
        .map(|q| serde_json::to_string(&single.query(0, q).0).unwrap())
        .collect();
    assert_eq!(answers[0], alone);
}

#[test]
fn wiped_node_serves_everything_from_the_bucket() {
    let _g = serial();
    wiped_node_comes_back(Cluster::new(2));
}

#[test]
fn wiped_node_serves_everything_from_an_s3_bucket() {
    let _g = serial();
    wiped_node_comes_back(Cluster::with_args(2, &["--s3"]));
}

fn wiped_node_comes_back(mut c: Cluster) {
    c.create_repo("web");
    assert_eq!(ingest_round_robin(&c, "w", 0, 10, 100), 1000);
    c.assert_count(0, "batch=w", 1000);
    c.stop(1);
    c.wipe(1);
    c.restart(1);
    c.assert_count(1, "batch=w", 1000);
    c.assert_count(0, "batch=w", 1000);
}

#[test]
fn internal_api_requires_the_cluster_secret() {
    let _g = serial();
    let c = Cluster::new(1);
    let url = c.nodes[0].url("/internal/v1/ping");
    let status = |secret: Option<&str>| {
        let mut r = c.client.get(&url);
        if let Some(s) = secret {
            r = r.header("x-strata-cluster-secret", s);
        }
        r.send().unwrap().status().as_u16()
    };
    assert_eq!(status(None), 401);
    assert_eq!(status(Some("wrong")), 401);
    assert_eq!(status(Some(SECRET)), 200);
    assert_eq!(status(Some(&format!("{SECRET}x"))), 401);
    let r = c
        .client
        .post(c.nodes[0].url("/internal/v1/search"))
        .body(vec![1u8, 2, 3])
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = c
        .client
        .get(c.nodes[0].url("/internal/v1/segments/x"))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

/// A node that hangs in the middle of queries: the query does not wait for the HTTP timeout,
/// its share is re-planned, and the answer is complete or says it is not — never silently short.
#[test]
fn a_node_hanging_mid_query_never_gives_a_silently_partial_answer() {
    let _g = serial();
    let mut c = Cluster::new(3);
    c.create_repo("web");
    c.wait_partitions_spread();
    assert_eq!(ingest_round_robin(&c, "h", 0, 24, 50), 1200);
    for i in 0..3 {
        c.assert_count(i, "batch=h", 1200);
    }
    // Segments only on the frozen node and not yet in the bucket would be unreachable until it
    // wakes (correctly reported as incomplete); the scenario is about work in progress.
    c.wait_uploaded();
    c.freeze(2);
    let t = Instant::now();
    let (n, warnings) = c.count(0, "batch=h");
    let took = t.elapsed();
    eprintln!("query with node 3 frozen: {n} events in {took:?}, warnings {warnings:?}");
    assert!(
        took < Duration::from_secs(20),
        "the query waited {took:?} for a hung node"
    );
    assert!(
        n == 1200 || warnings.contains("incomplete"),
        "{n} of 1200 events without a warning"
    );
    // Node 3's partitions move; everything acked becomes searchable again, complete.
    c.assert_count(0, "batch=h", 1200);
    c.resume(2);
    c.assert_count(2, "batch=h", 1200);
    let _ = &mut c;
}

/// Without a bucket every segment is copied to a second node (replication factor 2), so
/// losing any one node's disk loses no event.
#[test]
fn without_a_bucket_segments_live_on_two_nodes() {
    let _g = serial();
    let mut c = Cluster::with_args(3, &["--no-bucket"]);
    c.create_repo("web");
    assert_eq!(ingest_round_robin(&c, "p", 0, 24, 50), 1200);
    c.wait_for_segments(0, 1);
    c.wait_until(60, "two copies of every segment", || {
        let d = c.graphql(0, "{ cluster { segmentCount nodes { segmentCount } } }");
        let total = d["cluster"]["segmentCount"].as_u64().unwrap();
        let copies: u64 = d["cluster"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["segmentCount"].as_u64().unwrap())
            .sum();
        // Work in progress may still be closing: wait until nothing is in WIP either.
        total > 0 && copies == 2 * total && c.count(0, "batch=p").0 == 1200
    });
    let replicated: f64 = (0..3)
        .map(|i| c.metric(i, "strata_cluster_segments_replicated_total"))
        .sum();
    assert!(replicated > 0.0);
    // Lose a node's disk entirely: every event is still there, from the survivors.
    c.kill(1);
    c.wipe(1);
    c.assert_count(0, "batch=p", 1200);
    c.assert_count(2, "batch=p", 1200);
}

/// The sequence numbers of a list's events, sorted (duplicates kept).
fn seqs_of(rows: &[Value]) -> Vec<u64> {
    let mut s: Vec<u64> = rows
        .iter()
        .map(|r| r["seq"].as_str().unwrap().parse().unwrap())
        .collect();
    s.sort_unstable();
    s
}

/// How a list compares with the events expected: "3000 events" when it is exactly them, else
/// how many came, how many of them distinct, and how many expected ones are missing.
fn describe(rows: &[Value], expected: &std::ops::Range<u64>) -> String {
    let seqs = seqs_of(rows);
    let mut distinct = seqs.clone();
    distinct.dedup();
    if distinct == expected.clone().collect::<Vec<_>>() && seqs.len() == distinct.len() {
        return format!("{} events", seqs.len());
    }
    let missing = expected
        .clone()
        .filter(|s| distinct.binary_search(s).is_err())
        .count();
    format!(
        "{} events ({} distinct, {missing} of {} missing)",
        seqs.len(),
        distinct.len(),
        expected.end - expected.start
    )
}

/// A plain event list longer than any one node's share of it: every node holds part of the
/// 3,000 events (segments on every node, the newest batches possibly still in work in
/// progress). The streaming endpoint lists all of them, whichever node is asked — the other
/// nodes answer under the asking node's limit (the slice cap of `/query`, which lists a plain
/// list whole, slice by slice), not under their own
/// default — explicit job limits above the count list all of them too, and a job's default
/// list is the newest 200, the same from every node.
#[test]
fn every_node_lists_all_events_of_a_long_list() {
    let _g = serial();
    let mut c = Cluster::new(3);
    c.create_repo("web");
    c.wait_partitions_spread();
    // 2,700 events, closed into segments on every node...
    assert_eq!(ingest_round_robin(&c, "l", 0, 27, 100), 2700);
    c.wait_until(60, "the first 2,700 events in segments", || {
        c.ingest_lag(0) == Some(0) && c.count(0, "batch=l") == (2700, String::new())
    });
    c.wait_until(60, "segments on every node", || {
        c.segments_per_node(0).iter().all(|n| *n > 0)
    });
    let segments = c.segments_per_node(0);
    // ...and 300 more, the newest, which digest holds as work in progress for a moment.
    assert_eq!(ingest_round_robin(&c, "l", 2700, 3, 100), 300);
    let wip = c.ingest_lag(0);
    for i in 0..3 {
        c.assert_count(i, "batch=l", 3000);
    }
    eprintln!(
        "long list: segments per node {segments:?}; {wip:?} of the last 3 batches (queue records) in work in progress after their ingest"
    );

    let all = 0..3000u64;
    let mut report = Vec::new();
    let mut streamed = Vec::new();
    let mut json = Vec::new();
    let mut tails = Vec::new();
    let mut heads = Vec::new();
    let mut defaults = Vec::new();
    for i in 0..3 {
        let (s, s_warn) = c.stream_query(i, "batch=l");
        let (j, j_warn) = c.query(i, "batch=l");
        let (t, t_warn) = c.query_job(i, "batch=l | tail(5000)");
        let (h, h_warn) = c.query_job(i, "batch=l | head(5000)");
        let (d, d_warn) = c.query_job(i, "batch=l");
        report.push(format!(
            "node {}: /query NDJSON {} (warnings {s_warn:?}), /query JSON {} (warnings {j_warn:?}), \
             job tail(5000) {} {t_warn:?}, job head(5000) {} {h_warn:?}, job default list {} events {d_warn:?}",
            i + 1,
            describe(&s, &all),
            describe(&j, &all),
            describe(&t, &all),
            describe(&h, &all),
            d.len(),
        ));
        streamed.push((s, s_warn));
        json.push((j, j_warn));
        tails.push((t, t_warn));
        heads.push((h, h_warn));
        defaults.push((d, d_warn));
    }
    let report = report.join("\n");

    let whole = |rows: &[Value]| seqs_of(rows).into_iter().eq(all.clone());
    for i in 0..3 {
        for (what, (rows, warnings)) in [("/query NDJSON", &streamed[i]), ("/query JSON", &json[i])]
        {
            assert!(
                whole(rows) && warnings.is_empty(),
                "{what} asked on node {} is not every event exactly once, without warnings:\n{report}",
                i + 1
            );
        }
        for (what, (rows, warnings)) in
            [("job tail(5000)", &tails[i]), ("job head(5000)", &heads[i])]
        {
            assert!(
                whole(rows) && warnings.is_empty(),
                "{what} asked on node {} is not every event exactly once, without warnings:\n{report}",
                i + 1
            );
        }
        // The default list: the newest 200 — the last two batches, ingested after the rest.
        let (rows, warnings) = &defaults[i];
        assert!(warnings.is_empty(), "node {}: {warnings:?}", i + 1);
        assert_eq!(
            seqs_of(rows),
            (2800..3000).collect::<Vec<u64>>(),
            "the default list asked on node {} is not the newest 200 events:\n{report}",
            i + 1
        );
        assert_eq!(
            rows,
            &defaults[0].0,
            "node {} lists other events, or in another order, than node 1",
            i + 1
        );
    }
}
