//! Scatter-gather overhead: the CPU a query costs when its data is spread over 3 nodes
//! (all on this machine) against the same query on 1 node holding all of it. Both clusters
//! get the same events; CPU is the sum of every node's user+system time over the repeated
//! query (from /proc), so the two runs are compared on the same machine in the same run.
//!
//! `cargo run --release -p strata-cluster-tests --example fanout_bench [events] [runs]`
//! (needs the strata binary built in the same profile, and Tansu: scripts/install-test-deps.sh)
//! For profiling one side: `STRATA_FANOUT_NODES=3` runs only that cluster size,
//! `STRATA_FANOUT_QUERY=tail` only the queries containing that text.

use strata_cluster_tests::{lines, Cluster};

fn load(c: &Cluster, events: usize) {
    let per = 2000;
    for b in 0..events / per {
        let node = b % c.nodes.len();
        assert!(c.ingest_tagged(node, &format!("s{}", b % 12), &lines("b", b * per, per)));
    }
    for i in 0..c.nodes.len() {
        c.assert_count(i, "batch=b", (events / per * per) as u64);
    }
}

/// CPU per query and wall time per query. The nodes' idle CPU (heartbeats, queue polling),
/// measured just before over 3 s, is subtracted for the time the queries took: it is not the
/// query's, and three idle nodes burn three times one's.
fn measure(c: &Cluster, q: &str, runs: usize) -> (f64, f64) {
    let cpu = |c: &Cluster| c.nodes.iter().map(|n| n.cpu_seconds()).sum::<f64>();
    let _ = c.query(0, q); // warm the caches
    let idle_from = (cpu(c), std::time::Instant::now());
    std::thread::sleep(std::time::Duration::from_secs(3));
    let idle_rate = (cpu(c) - idle_from.0) / idle_from.1.elapsed().as_secs_f64();
    let before = cpu(c);
    let t = std::time::Instant::now();
    for _ in 0..runs {
        let (_, w) = c.query(0, q);
        assert!(w.is_empty(), "{w}");
    }
    let wall = t.elapsed().as_secs_f64();
    (
        (cpu(c) - before - idle_rate * wall).max(0.0) / runs as f64,
        wall / runs as f64,
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let events: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(400_000);
    let runs: usize = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(20);
    let queries = [
        "batch=b | count()",
        "batch=b | groupBy(host, function=[count(), max(seq)])",
        "level=ERROR seq=*7 | tail(200)",
    ];
    let only_nodes: Option<usize> = std::env::var("STRATA_FANOUT_NODES")
        .ok()
        .and_then(|v| v.parse().ok());
    let only_query = std::env::var("STRATA_FANOUT_QUERY").unwrap_or_default();
    let queries: Vec<&str> = queries
        .into_iter()
        .filter(|q| q.contains(only_query.as_str()))
        .collect();
    let mut results = Vec::new();
    for nodes in [1usize, 3] {
        if only_nodes.is_some_and(|n| n != nodes) {
            continue;
        }
        let mut c = Cluster::new(nodes);
        c.create_repo("bench");
        if nodes == 3 {
            c.wait_partitions_spread();
        }
        load(&c, events);
        // Let digest close everything so both runs scan segments, not work in progress.
        std::thread::sleep(std::time::Duration::from_secs(4));
        for &q in &queries {
            let (cpu, wall) = measure(&c, q, runs);
            results.push((nodes, q, cpu, wall));
        }
    }
    println!("{events} events, {runs} runs per query; CPU = all nodes' user+sys per query");
    println!(
        "{:<55} {:>12} {:>12} {:>8} {:>10} {:>10}",
        "query", "CPU 1 node", "CPU 3 nodes", "ratio", "wall 1", "wall 3"
    );
    for q in queries {
        let get = |n: usize| results.iter().find(|r| r.0 == n && r.1 == q);
        let (Some(one), Some(three)) = (get(1), get(3)) else {
            for r in results.iter().filter(|r| r.1 == q) {
                println!(
                    "{:<55} {} node(s): CPU {:.1}ms, wall {:.1}ms",
                    q,
                    r.0,
                    r.2 * 1e3,
                    r.3 * 1e3
                );
            }
            continue;
        };
        println!(
            "{:<55} {:>10.1}ms {:>10.1}ms {:>7.2}x {:>8.1}ms {:>8.1}ms",
            q,
            one.2 * 1000.0,
            three.2 * 1000.0,
            three.2 / one.2.max(1e-9),
            one.3 * 1000.0,
            three.3 * 1000.0
        );
    }
}
