//! Global's contracts: apply is deterministic and snapshot-equivalent, optimistic concurrency
//! lets exactly one of two conflicting writers win on every replica, undecodable records halt
//! the node, and the in-memory log passes the GlobalLog conformance suite.

use std::sync::Arc;

use proptest::prelude::*;
use strata_global::*;

fn seg(id: &str, repo: &str, partition: u32, last: u64) -> SegmentInfo {
    SegmentInfo {
        id: id.into(),
        repo: repo.into(),
        tags: Default::default(),
        min_ts: 0,
        max_ts: 10,
        event_count: 5,
        raw_bytes: 100,
        file_bytes: 50,
        file_crc: 7,
        codec: "lz4".into(),
        partition,
        first_offset: 0,
        last_offset: last,
        nodes: NodeSet::from([1]),
        bucket_key: None,
        merged: false,
        merge_target: None,
        created_ms: 0,
        version: 0,
    }
}

fn arb_event() -> impl Strategy<Value = GlobalEvent> {
    let name = prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from);
    prop_oneof![
        (name.clone(), ".{0,5}")
            .prop_map(|(name, description)| GlobalEvent::CreateRepository { name, description }),
        (name.clone(), 0u64..40, ".{0,5}").prop_map(|(name, v, d)| GlobalEvent::UpdateRepository {
            name,
            expected_version: v,
            description: d,
            retention: Retention::default()
        }),
        (name.clone(), 0u64..40).prop_map(|(name, v)| GlobalEvent::DeleteRepository {
            name,
            expected_version: v
        }),
        (name.clone(), name.clone()).prop_map(|(repo, n)| GlobalEvent::CreateIngestToken {
            repo,
            name: n.clone(),
            token_hash: hash_token(&n),
            parser: None
        }),
        (name.clone(), 0u32..3, 0u64..100, "[a-f]{2}").prop_map(|(repo, p, last, id)| {
            GlobalEvent::AddSegment {
                segment: seg(&id, &repo, p, last),
                safe_offset: Some(last),
            }
        }),
        ("[a-f]{2}", 1u32..4).prop_map(|(id, node)| GlobalEvent::AddSegmentHolder { id, node }),
        (
            prop::collection::vec("[a-f]{2}", 1..3),
            "[a-f]{3}",
            name.clone()
        )
            .prop_map(|(remove, id, repo)| GlobalEvent::ReplaceSegments {
                remove,
                add: seg(&id, &repo, 0, 1)
            }),
        (0u32..3, 0u64..100)
            .prop_map(|(partition, offset)| GlobalEvent::SetSafeOffset { partition, offset }),
        (0u32..3, prop::collection::vec(1u32..4, 1..3), 0u64..40).prop_map(
            |(partition, nodes, v)| GlobalEvent::SetPartitionNodes {
                partition,
                nodes,
                expected_version: v
            }
        ),
        (1u32..4, "[a-z]{1,4}").prop_map(|(id, url)| GlobalEvent::RegisterNode {
            id,
            url,
            zone: None
        }),
    ]
}

fn replay(events: &[GlobalEvent], from: usize, mut state: State) -> State {
    for (i, e) in events.iter().enumerate().skip(from) {
        // Every event goes through the wire encoding, as on a real node.
        let decoded = event::decode(i as u64, &event::encode(e)).unwrap();
        state.apply(i as u64, &decoded);
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// State from a snapshot taken at any point plus the remaining events equals the state
    /// from a full replay, byte for byte.
    #[test]
    fn snapshot_plus_tail_equals_full_replay(events in prop::collection::vec(arb_event(), 0..60), cut in 0usize..60) {
        let cut = cut.min(events.len());
        let full = replay(&events, 0, State::default());
        let head = replay(&events[..cut], 0, State::default());
        let bytes = snapshot::encode(&Snapshot { next_offset: cut as u64, state: head }).unwrap();
        let snap = snapshot::decode("mem", &bytes).unwrap();
        prop_assert_eq!(snap.next_offset, cut as u64);
        let resumed = replay(&events, cut, snap.state);
        prop_assert_eq!(&resumed, &full);
        // Equal states encode to identical bytes, whatever order their maps were built in.
        let enc = |st: &State| snapshot::encode(&Snapshot { next_offset: 0, state: st.clone() }).unwrap();
        prop_assert_eq!(enc(&resumed), enc(&full));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_writers_exactly_one_wins_on_every_replica() {
    let log = MemoryLog::new();
    let a = Global::start(Arc::new(log.clone()), Snapshot::default());
    let b = Global::start(Arc::new(log.clone()), Snapshot::default());
    let (_, o) = a
        .publish(GlobalEvent::CreateRepository {
            name: "web".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    assert!(o.is_applied());
    b.catch_up().await.unwrap();
    let version = b.read(|s| s.repositories["web"].version);
    // Both writers read the same version, then race to update.
    let (ra, rb) = tokio::join!(
        a.publish(GlobalEvent::UpdateRepository {
            name: "web".into(),
            expected_version: version,
            description: "from a".into(),
            retention: Retention::default()
        }),
        b.publish(GlobalEvent::UpdateRepository {
            name: "web".into(),
            expected_version: version,
            description: "from b".into(),
            retention: Retention::default()
        }),
    );
    let (ra, rb) = (ra.unwrap().1, rb.unwrap().1);
    assert!(
        ra.is_applied() ^ rb.is_applied(),
        "exactly one wins: {ra:?} {rb:?}"
    );
    let loser = if ra.is_applied() { rb } else { ra };
    assert!(
        matches!(&loser, Outcome::Rejected(r) if r.contains("changed concurrently")),
        "{loser:?}"
    );
    // A third replica replaying from scratch agrees.
    let c = Global::start(Arc::new(log.clone()), Snapshot::default());
    c.catch_up().await.unwrap();
    a.catch_up().await.unwrap();
    b.catch_up().await.unwrap();
    let descs: Vec<String> = [&a, &b, &c]
        .iter()
        .map(|g| g.read(|s| s.repositories["web"].description.clone()))
        .collect();
    assert!(descs.iter().all(|d| d == &descs[0]), "{descs:?}");
    // Creating what exists is a rejection, not a duplicate.
    let (_, dup) = c
        .publish(GlobalEvent::CreateRepository {
            name: "web".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    assert!(matches!(dup, Outcome::Rejected(r) if r.contains("already exists")));
}

#[tokio::test]
async fn undecodable_record_halts_instead_of_skipping() {
    let log = MemoryLog::new();
    log.append(event::encode(&GlobalEvent::CreateRepository {
        name: "a".into(),
        description: String::new(),
    }))
    .await
    .unwrap();
    log.append(vec![9, 1, 2, 3]).await.unwrap();
    log.append(event::encode(&GlobalEvent::CreateRepository {
        name: "b".into(),
        description: String::new(),
    }))
    .await
    .unwrap();
    let g = Global::start(Arc::new(log.clone()), Snapshot::default());
    let err = g.wait_for(3).await.unwrap_err().to_string();
    assert!(
        err.contains("offset 1") && err.contains("unknown record version 9"),
        "{err}"
    );
    assert_eq!(g.next_offset(), 1);
    assert!(
        g.read(|s| !s.repositories.contains_key("b")),
        "nothing past the bad record applies"
    );
    assert!(g
        .publish(GlobalEvent::CreateUser {
            username: "x".into(),
            is_root: false
        })
        .await
        .is_err());
    let e = event::decode(5, &[event::RECORD_VERSION, 0xff, 0xff])
        .unwrap_err()
        .to_string();
    assert!(e.contains("offset 5"), "{e}");
}

#[tokio::test]
async fn memory_log_conforms() {
    log::conformance::run(MemoryLog::new).await;
}

#[tokio::test]
async fn snapshot_round_trip_and_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let log = MemoryLog::new();
    let g = Global::start(Arc::new(log.clone()), Snapshot::default());
    for n in ["a", "b"] {
        g.publish(GlobalEvent::CreateRepository {
            name: n.into(),
            description: String::new(),
        })
        .await
        .unwrap();
    }
    assert_eq!(g.write_snapshot(dir.path()).unwrap(), 2);
    g.publish(GlobalEvent::CreateRepository {
        name: "c".into(),
        description: String::new(),
    })
    .await
    .unwrap();
    assert_eq!(g.write_snapshot(dir.path()).unwrap(), 3);
    // Restart from the snapshot: same state, and only later events are replayed.
    let g2 = Global::open(Arc::new(log.clone()), dir.path());
    assert_eq!(g2.next_offset(), 3);
    g2.catch_up().await.unwrap();
    assert_eq!(g2.read(|s| s.repositories.len()), 3);
    // Damage the newest snapshot: the previous one is used and the tail replayed.
    let cur = dir.path().join(snapshot::SNAPSHOT_FILE);
    let mut bytes = std::fs::read(&cur).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x20;
    std::fs::write(&cur, &bytes).unwrap();
    let (snap, warnings) = snapshot::load(dir.path());
    assert_eq!(snap.unwrap().next_offset, 2);
    assert_eq!(warnings.len(), 1);
    let g3 = Global::open(Arc::new(log.clone()), dir.path());
    g3.catch_up().await.unwrap();
    assert_eq!(g3.read(|s| s.repositories.len()), 3);
}

/// Guards against a snapshot write cut short leaving a file that loads as valid but wrong:
/// every prefix of a snapshot file and every single flipped byte is rejected or loads the
/// exact state.
#[test]
fn torn_or_damaged_snapshot_never_loads_wrong() {
    let mut st = State::default();
    for (i, n) in ["alpha", "beta", "gamma"].iter().enumerate() {
        st.apply(
            i as u64,
            &GlobalEvent::CreateRepository {
                name: n.to_string(),
                description: "d".into(),
            },
        );
    }
    st.apply(
        3,
        &GlobalEvent::AddSegment {
            segment: seg("s1", "alpha", 0, 9),
            safe_offset: Some(10),
        },
    );
    let snap = Snapshot {
        next_offset: 4,
        state: st,
    };
    let bytes = snapshot::encode(&snap).unwrap();
    for len in 0..bytes.len() {
        assert!(
            snapshot::decode("t", &bytes[..len]).is_err(),
            "prefix of {len} bytes loaded"
        );
    }
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 0x01;
        if let Ok(s) = snapshot::decode("t", &b) {
            assert_eq!(s, snap, "flipping byte {i} loaded a different state");
        }
    }
}

/// Kills a process that is writing snapshots in a loop (SIGKILL at a random moment) and checks
/// the survivor on disk is a valid snapshot of one of the states that were written.
#[test]
fn snapshot_writer_killed_mid_write_leaves_a_valid_snapshot() {
    if std::env::var_os("STRATA_SNAPSHOT_CHILD").is_some() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for round in 0..5u64 {
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "snapshot_writer_child",
                "--ignored",
                "--nocapture",
            ])
            .env("STRATA_SNAPSHOT_CHILD", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(150 + round * 37));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (snap, _) = snapshot::load(dir.path());
        let snap = snap.expect("a snapshot must survive");
        assert_eq!(
            snap.state.repositories.len() as u64,
            snap.next_offset,
            "state matches its offset"
        );
    }
}

#[test]
#[ignore = "child process of snapshot_writer_killed_mid_write_leaves_a_valid_snapshot"]
fn snapshot_writer_child() {
    let Some(dir) = std::env::var_os("STRATA_SNAPSHOT_CHILD") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let mut st = snapshot::load(&dir).0.map(|s| s.state).unwrap_or_default();
    loop {
        let n = st.repositories.len() as u64;
        st.apply(
            n,
            &GlobalEvent::CreateRepository {
                name: format!("repo-{n:06}-{}", "x".repeat(200)),
                description: "y".repeat(500),
            },
        );
        snapshot::write(
            &dir,
            &Snapshot {
                next_offset: n + 1,
                state: st.clone(),
            },
        )
        .unwrap();
    }
}

/// Digest output from a node that is no longer the partition's primary is refused (fencing),
/// and the refusal moves neither the safe offset nor the high-water mark.
#[test]
fn only_the_partition_primary_may_add_digest_segments() {
    let mut st = State::default();
    let mut off = 0;
    let mut apply = |st: &mut State, e: GlobalEvent| {
        off += 1;
        st.apply(off, &e)
    };
    apply(
        &mut st,
        GlobalEvent::CreateRepository {
            name: "web".into(),
            description: String::new(),
        },
    );
    apply(
        &mut st,
        GlobalEvent::SetPartitionNodes {
            partition: 0,
            nodes: vec![1, 2],
            expected_version: 0,
        },
    );
    assert!(apply(
        &mut st,
        GlobalEvent::AddSegment {
            segment: seg("a", "web", 0, 10),
            safe_offset: Some(11)
        }
    )
    .is_applied());
    let v = st.partitions[&0].version;
    apply(
        &mut st,
        GlobalEvent::SetPartitionNodes {
            partition: 0,
            nodes: vec![2, 1],
            expected_version: v,
        },
    );
    let late = apply(
        &mut st,
        GlobalEvent::AddSegment {
            segment: seg("b", "web", 0, 20),
            safe_offset: Some(21),
        },
    );
    assert!(!late.is_applied(), "node 1 lost partition 0: {late:?}");
    assert_eq!(st.partitions[&0].safe_offset, 11);
    assert!(!st.segments.contains_key("b"));
    let mut from_2 = seg("c", "web", 0, 20);
    from_2.nodes = NodeSet::from([2]);
    assert!(apply(
        &mut st,
        GlobalEvent::AddSegment {
            segment: from_2,
            safe_offset: Some(21)
        }
    )
    .is_applied());
    assert_eq!(st.partitions[&0].safe_offset, 21);
}
