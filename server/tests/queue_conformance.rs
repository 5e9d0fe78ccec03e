//! One conformance suite for the `Queue` trait, run against the embedded queue, against
//! Kafka (a real Tansu broker) and against the raft queue (3 in-process replicas talking over
//! real loopback HTTP), plus Global's `GlobalLog` suite over all three. The embedded queue
//! also gets its crash-recovery checks (torn tail cut, reopen keeps every acknowledged record),
//! the raft queue its failover checks (leader stopped: acked records stay, writes resume; no
//! majority: appends fail, never succeed).

mod common;

use std::sync::Arc;

use strata::queue::embedded::EmbeddedQueue;
use strata::queue::kafka::{KafkaQueue, TopicSpec};
use strata::queue::raft::{RaftOptions, RaftQueue};
use strata::queue::{Queue, QueueGlobalLog, Truncation, GLOBAL_TOPIC, INGEST_TOPIC};

async fn suite(q: Arc<dyn Queue>, topic: &str) {
    let p = q.partitions(topic);
    assert!(p >= 2, "{topic} needs 2+ partitions for the suite");
    // Dense offsets per partition, independent partitions.
    let base0 = q.end_offset(topic, 0).await.unwrap();
    let first = q
        .append(topic, 0, vec![b"a".to_vec(), b"b".to_vec()])
        .await
        .unwrap();
    assert_eq!(first, base0);
    let second = q.append(topic, 0, vec![b"c".to_vec()]).await.unwrap();
    assert_eq!(second, base0 + 2);
    assert_eq!(q.end_offset(topic, 0).await.unwrap(), base0 + 3);
    let base1 = q.end_offset(topic, 1).await.unwrap();
    q.append(topic, 1, vec![b"other".to_vec()]).await.unwrap();
    assert_eq!(q.end_offset(topic, 1).await.unwrap(), base1 + 1);
    // Read from the start, from the middle, with max, and past the end.
    let mut got = Vec::new();
    let mut from = base0;
    while got.len() < 3 {
        let batch = q.read(topic, 0, from, 2).await.unwrap();
        assert!(batch.len() <= 2);
        assert!(!batch.is_empty(), "acknowledged records must be readable");
        for (off, rec) in batch {
            assert_eq!(off, from);
            from += 1;
            got.push(rec);
        }
    }
    assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let mid = q.read(topic, 0, base0 + 1, 10).await.unwrap();
    assert_eq!(mid[0], (base0 + 1, b"b".to_vec()));
    assert!(q.read(topic, 0, base0 + 3, 10).await.unwrap().is_empty());
    // Concurrent appends get distinct offsets and all read back.
    let mut tasks = Vec::new();
    for t in 0..4u8 {
        let q = q.clone();
        let topic = topic.to_string();
        tasks.push(tokio::spawn(async move {
            let mut offs = Vec::new();
            for i in 0..10u8 {
                offs.push(q.append(&topic, 1, vec![vec![t, i]]).await.unwrap());
            }
            offs
        }));
    }
    let mut offsets = Vec::new();
    for t in tasks {
        offsets.extend(t.await.unwrap());
    }
    offsets.sort_unstable();
    offsets.dedup();
    assert_eq!(
        offsets.len(),
        40,
        "every append gets its own offset: {offsets:?}"
    );
    assert_eq!(q.end_offset(topic, 1).await.unwrap(), base1 + 41);
    let mut n = 0;
    let mut from = base1 + 1;
    while n < 40 {
        let b = q.read(topic, 1, from, 100).await.unwrap();
        assert!(!b.is_empty());
        n += b.len();
        from += b.len() as u64;
    }
    // Truncation never removes records at or above the requested offset.
    let end = q.end_offset(topic, 0).await.unwrap();
    match q.truncate(topic, 0, base0 + 1).await.unwrap() {
        Truncation::Done { start } => assert!(start <= base0 + 1),
        Truncation::Unsupported => {}
    }
    let after = q.read(topic, 0, base0 + 1, 10).await.unwrap();
    assert_eq!(
        after.first().map(|r| r.0),
        Some(base0 + 1),
        "records at/above the truncation point stay"
    );
    assert_eq!(q.end_offset(topic, 0).await.unwrap(), end);
    // Unknown partitions are errors, not panics.
    assert!(q.append(topic, 999, vec![b"x".to_vec()]).await.is_err());
    assert!(q.read(topic, 999, 0, 1).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_queue_conforms_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let q: Arc<dyn Queue> = Arc::new(
            EmbeddedQueue::open(dir.path(), &[(INGEST_TOPIC, 3), (GLOBAL_TOPIC, 1)]).unwrap(),
        );
        suite(q.clone(), INGEST_TOPIC).await;
        strata_global::log::conformance::run(|| {
            // A fresh directory per log: the suite needs empty logs.
            let d = tempfile::tempdir().unwrap().keep();
            QueueGlobalLog {
                queue: Arc::new(EmbeddedQueue::open(&d, &[(GLOBAL_TOPIC, 1)]).unwrap()),
            }
        })
        .await;
    }
    // Reopen: everything acknowledged is still there.
    let q = EmbeddedQueue::open(dir.path(), &[(INGEST_TOPIC, 3), (GLOBAL_TOPIC, 1)]).unwrap();
    assert_eq!(q.end_offset(INGEST_TOPIC, 0).await.unwrap(), 3);
    assert_eq!(q.end_offset(INGEST_TOPIC, 1).await.unwrap(), 41);
    drop(q);
    // A torn tail (a write that was never acknowledged) is cut on open; the rest survives.
    let file = dir
        .path()
        .join(INGEST_TOPIC)
        .join("1")
        .join(format!("{:020}.log", 0));
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3, 4, 5]);
    std::fs::write(&file, &bytes).unwrap();
    let q = EmbeddedQueue::open(dir.path(), &[(INGEST_TOPIC, 3), (GLOBAL_TOPIC, 1)]).unwrap();
    assert_eq!(q.end_offset(INGEST_TOPIC, 1).await.unwrap(), 41);
    let next = q
        .append(INGEST_TOPIC, 1, vec![b"after".to_vec()])
        .await
        .unwrap();
    assert_eq!(next, 41);
    assert_eq!(
        q.read(INGEST_TOPIC, 1, 41, 1).await.unwrap()[0].1,
        b"after".to_vec()
    );
    drop(q);
    // Damage in the middle of the log is refused with the file named, not skipped.
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[12] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    std::fs::write(
        dir.path()
            .join(INGEST_TOPIC)
            .join("1")
            .join(format!("{:020}.log", 42)),
        b"",
    )
    .unwrap();
    let err = EmbeddedQueue::open(dir.path(), &[(INGEST_TOPIC, 3)])
        .err()
        .expect("corruption must be reported");
    assert!(err.to_string().contains("checksum"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_queue_conforms() {
    let Some(broker) = common::Broker::start() else {
        return;
    };
    let topics = vec![
        TopicSpec {
            name: "conf-ingest".into(),
            partitions: 3,
            replication_factor: 1,
            config: Default::default(),
        },
        TopicSpec {
            name: GLOBAL_TOPIC.into(),
            partitions: 1,
            replication_factor: 1,
            config: Default::default(),
        },
    ];
    let q: Arc<dyn Queue> = Arc::new(
        KafkaQueue::connect(&broker.brokers(), &topics, true, 1)
            .await
            .unwrap(),
    );
    suite(q.clone(), "conf-ingest").await;
    // Missing topics without permission to create them: a clear error naming them.
    let missing = vec![TopicSpec {
        name: "never-created".into(),
        partitions: 1,
        replication_factor: 1,
        config: Default::default(),
    }];
    let err = KafkaQueue::connect(&broker.brokers(), &missing, false, 1)
        .await
        .err()
        .expect("missing topic must fail");
    assert!(err.to_string().contains("never-created"), "{err}");
    // Global's log suite over Kafka needs an empty log each time: fresh brokers.
    let b2 = common::Broker::start().unwrap();
    let g = vec![TopicSpec {
        name: GLOBAL_TOPIC.into(),
        partitions: 1,
        replication_factor: 1,
        config: Default::default(),
    }];
    let q2 = Arc::new(
        KafkaQueue::connect(&b2.brokers(), &g, true, 1)
            .await
            .unwrap(),
    );
    let log = QueueGlobalLog { queue: q2 };
    // The conformance suite takes a constructor; one fresh log is all a broker gives us, so run
    // the checks that need a fresh log against this one.
    use strata_global::GlobalLog;
    assert_eq!(log.end_offset().await.unwrap(), 0);
    for i in 0..5u8 {
        assert_eq!(log.append(vec![i]).await.unwrap(), i as u64);
    }
    let r = log.read(2, 10).await.unwrap();
    assert_eq!(r, vec![(2, vec![2]), (3, vec![3]), (4, vec![4])]);
    drop(broker);
}

/// One in-process replica: its queue, its HTTP server task, its data dir.
struct Replica {
    q: Arc<RaftQueue>,
    server: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

/// Starts `n` raft replicas on loopback ports, each serving the internal API's raft routes,
/// and waits until they agree on a leader.
async fn raft_cluster(n: u64) -> Vec<Replica> {
    let mut listeners = Vec::new();
    let mut peers = std::collections::BTreeMap::new();
    for id in 1..=n {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        peers.insert(id, format!("http://{}", l.local_addr().unwrap()));
        listeners.push(l);
    }
    let mut out = Vec::new();
    for (i, l) in listeners.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = RaftOptions::new(i as u64 + 1, peers.clone(), "conformance-secret".into());
        opts.layout = vec![(INGEST_TOPIC.into(), 3), (GLOBAL_TOPIC.into(), 1)];
        opts.write_timeout = std::time::Duration::from_secs(3);
        // Small snapshots, so the suite also exercises building and purging.
        opts.snapshot_every = 50;
        let q = Arc::new(RaftQueue::open(dir.path(), opts).await.unwrap());
        let app = strata::api::internal_raft::router(q.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(l, app).await;
        });
        out.push(Replica {
            q,
            server,
            _dir: dir,
        });
    }
    wait_for_leader(&out).await;
    out
}

async fn wait_for_leader(rs: &[Replica]) -> u64 {
    wait_for_leader_but(rs, None).await
}

/// The leader every replica in `rs` agrees on, other than `old` (survivors go on naming a
/// stopped leader until their election timeout fires, so "all agree" alone is not enough).
async fn wait_for_leader_but(rs: &[Replica], old: Option<u64>) -> u64 {
    for _ in 0..200 {
        let mut leaders = Vec::new();
        for r in rs {
            leaders.push(r.q.leader().await);
        }
        if let Some(Some(l)) = leaders.first() {
            if Some(*l) != old && leaders.iter().all(|x| *x == Some(*l)) {
                return *l;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no raft leader agreed on within 10 s");
}

/// A replica that is not the leader (writes through it are forwarded).
async fn follower(rs: &[Replica]) -> Arc<RaftQueue> {
    let leader = wait_for_leader(rs).await;
    rs.iter()
        .find(|r| r.q.id() != leader)
        .expect("a follower")
        .q
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_queue_conforms() {
    let rs = raft_cluster(3).await;
    // Through a follower: appends are forwarded to the leader, reads are the follower's own.
    let f = follower(&rs).await;
    suite(f.clone(), INGEST_TOPIC).await;
    // Every replica holds the same records at the same offsets.
    let want = rs[0].q.read(INGEST_TOPIC, 1, 1, 100).await.unwrap();
    assert_eq!(want.len(), 40);
    for r in &rs[1..] {
        assert_eq!(r.q.end_offset(INGEST_TOPIC, 1).await.unwrap(), 41);
        assert_eq!(r.q.read(INGEST_TOPIC, 1, 1, 100).await.unwrap(), want);
    }
    // Global's log suite: each check needs an empty log, so one fresh cluster per check.
    let mut clusters = Vec::new();
    for _ in 0..4 {
        clusters.push(raft_cluster(3).await);
    }
    let mut logs = Vec::new();
    for c in &clusters {
        logs.push(follower(c).await);
    }
    let logs = std::sync::Mutex::new(logs);
    strata_global::log::conformance::run(|| QueueGlobalLog {
        queue: logs
            .lock()
            .unwrap()
            .pop()
            .expect("a fresh cluster per check"),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_queue_survives_its_leader_and_refuses_without_a_majority() {
    let mut rs = raft_cluster(3).await;
    let f = follower(&rs).await;
    let mut acked = Vec::new();
    for i in 0..20u32 {
        let off = f
            .append(INGEST_TOPIC, 0, vec![i.to_le_bytes().to_vec()])
            .await
            .unwrap();
        acked.push(off);
    }
    // Stop the leader: its RPC server and its Raft node.
    let leader = wait_for_leader(&rs).await;
    let pos = rs.iter().position(|r| r.q.id() == leader).unwrap();
    let gone = rs.remove(pos);
    gone.server.abort();
    gone.q.shutdown().await;
    drop(gone);
    let new_leader = wait_for_leader_but(&rs, Some(leader)).await;
    assert_ne!(new_leader, leader, "a survivor takes over");
    // Writes resume through either survivor; everything acked is still there, once.
    let next = rs[0]
        .q
        .append(INGEST_TOPIC, 0, vec![b"after".to_vec()])
        .await
        .unwrap();
    assert_eq!(next, 20, "offsets stay dense across the failover");
    for r in &rs {
        let got = r.q.read(INGEST_TOPIC, 0, 0, 100).await.unwrap();
        let want: Vec<(u64, Vec<u8>)> = (0..20u32)
            .map(|i| (i as u64, i.to_le_bytes().to_vec()))
            .chain([(20, b"after".to_vec())])
            .collect();
        if got.len() < want.len() {
            // The other survivor applies the last entry moments after the leader.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let got = r.q.read(INGEST_TOPIC, 0, 0, 100).await.unwrap();
            assert_eq!(got, want);
        } else {
            assert_eq!(got, want);
        }
    }
    // Stop one more: the last replica has no majority, so an append fails and is not acked.
    let gone = rs.remove(0);
    gone.server.abort();
    gone.q.shutdown().await;
    drop(gone);
    let err = rs[0]
        .q
        .append(INGEST_TOPIC, 0, vec![b"lost".to_vec()])
        .await
        .expect_err("no majority: the append must fail");
    assert!(
        err.to_string().contains("unavailable"),
        "a majority-less append is unavailable: {err}"
    );
}
