//! openraft's own storage suite over the file log and the state machine, and the log's crash
//! recovery (reopen keeps acknowledged entries and the vote, a torn tail is cut).

use openraft::storage::{RaftLogStorage, RaftLogStorageExt, RaftStateMachine};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{CommittedLeaderId, Entry, EntryPayload, LogId, RaftLogReader, StorageError, Vote};

use strata::queue::raft::log_store::LogStore;
use strata::queue::raft::state_machine::StateMachine;
use strata::queue::raft::{Command, TypeConfig};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(
        &self,
    ) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError<u64>> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogStore::open(&dir.path().join("log"))?;
        let sm = StateMachine::open(dir.path(), &[("t".to_string(), 2)])?;
        Ok((dir, log, sm))
    }
}

#[test]
fn storage_passes_openraft_suite() {
    Suite::test_all(Builder).expect("openraft storage suite");
}

fn entry(term: u64, index: u64, rec: &[u8]) -> Entry<TypeConfig> {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 0), index),
        payload: EntryPayload::Normal(Command::Append {
            topic: "t".into(),
            partition: 0,
            records: vec![rec.to_vec()],
        }),
    }
}

#[tokio::test]
async fn log_reopens_with_entries_and_vote_and_cuts_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    {
        let mut log = LogStore::open(&path).unwrap();
        log.save_vote(&Vote::new(3, 2)).await.unwrap();
        let es: Vec<_> = (0..5).map(|i| entry(1, i, &[i as u8])).collect();
        log.blocking_append(es).await.unwrap();
        // A conflicting suffix from an old term goes; the rest stays.
        log.truncate(LogId::new(CommittedLeaderId::new(1, 0), 3))
            .await
            .unwrap();
        log.blocking_append(vec![entry(2, 3, b"x")]).await.unwrap();
    }
    let file = path.join(format!("{:020}.log", 0));
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.extend_from_slice(&[50, 0, 0, 0, 9, 9]);
    std::fs::write(&file, &bytes).unwrap();
    let mut log = LogStore::open(&path).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(Vote::new(3, 2)));
    let st = log.get_log_state().await.unwrap();
    assert_eq!(
        st.last_log_id.map(|l| (l.leader_id.term, l.index)),
        Some((2, 3))
    );
    let got = log.try_get_log_entries(0..10).await.unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3], entry(2, 3, b"x"));
    // Purging keeps later entries readable and is remembered across a reopen.
    log.purge(LogId::new(CommittedLeaderId::new(1, 0), 1))
        .await
        .unwrap();
    drop(log);
    let mut log = LogStore::open(&path).unwrap();
    let st = log.get_log_state().await.unwrap();
    assert_eq!(st.last_purged_log_id.map(|l| l.index), Some(1));
    let got = log.try_get_log_entries(0..10).await.unwrap();
    assert_eq!(
        got.iter().map(|e| e.log_id.index).collect::<Vec<_>>(),
        vec![2, 3]
    );
    // Damage before the tail of a full file is refused, naming the file.
    drop(log);
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    std::fs::write(path.join(format!("{:020}.log", 4)), b"").unwrap();
    let err = LogStore::open(&path)
        .err()
        .expect("corruption must be reported");
    assert!(
        err.to_string().contains("00000000000000000000.log"),
        "{err}"
    );
}

#[tokio::test]
async fn state_machine_applies_dense_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut sm = StateMachine::open(dir.path(), &[("t".to_string(), 1)]).unwrap();
    let r = sm
        .apply(vec![entry(1, 1, b"a"), entry(1, 2, b"b")])
        .await
        .unwrap();
    assert_eq!(r.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![0, 1]);
}

fn lid(term: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, 0), index)
}

async fn indexes_and_terms(log: &mut LogStore) -> Vec<(u64, u64)> {
    log.try_get_log_entries(0..100)
        .await
        .unwrap()
        .iter()
        .map(|e| (e.log_id.index, e.log_id.leader_id.term))
        .collect()
}

#[tokio::test]
async fn append_overwrites_a_conflicting_suffix_without_a_truncate_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut log = LogStore::open(&path).unwrap();
    let es: Vec<_> = (0..6).map(|i| entry(1, i, &[i as u8])).collect();
    log.blocking_append(es).await.unwrap();
    // A new leader's entries from index 3 on replace the old term's 3..=5.
    log.blocking_append(vec![entry(2, 3, b"y"), entry(2, 4, b"z")])
        .await
        .unwrap();
    let want = vec![(0, 1), (1, 1), (2, 1), (3, 2), (4, 2)];
    assert_eq!(indexes_and_terms(&mut log).await, want);
    drop(log);
    let mut log = LogStore::open(&path).unwrap();
    assert_eq!(indexes_and_terms(&mut log).await, want);
    log.blocking_append(vec![entry(2, 5, b"w")]).await.unwrap();
    assert_eq!(
        log.get_log_state().await.unwrap().last_log_id,
        Some(lid(2, 5))
    );
}

#[tokio::test]
async fn append_follows_a_purge_past_the_end_and_refuses_a_hole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut log = LogStore::open(&path).unwrap();
    let es: Vec<_> = (0..3).map(|i| entry(1, i, &[i as u8])).collect();
    log.blocking_append(es).await.unwrap();
    // A snapshot up to 10 was installed: the log restarts after it.
    log.purge(lid(2, 10)).await.unwrap();
    // An entry at or below the purge point is already in the snapshot: not stored.
    log.blocking_append(vec![entry(2, 9, b"old")])
        .await
        .unwrap();
    log.blocking_append(vec![entry(3, 11, b"a")]).await.unwrap();
    assert_eq!(indexes_and_terms(&mut log).await, vec![(11, 3)]);
    let err = log
        .blocking_append(vec![entry(3, 13, b"c")])
        .await
        .expect_err("a hole is refused");
    assert!(err.to_string().contains("hole"), "{err}");
    drop(log);
    let mut log = LogStore::open(&path).unwrap();
    let st = log.get_log_state().await.unwrap();
    assert_eq!(st.last_purged_log_id, Some(lid(2, 10)));
    assert_eq!(st.last_log_id, Some(lid(3, 11)));
    assert_eq!(indexes_and_terms(&mut log).await, vec![(11, 3)]);
}

#[tokio::test]
async fn a_frame_cut_mid_payload_is_dropped_and_the_log_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    {
        let mut log = LogStore::open(&path).unwrap();
        let es: Vec<_> = (0..4).map(|i| entry(1, i, &[i as u8; 300])).collect();
        log.blocking_append(es).await.unwrap();
    }
    // SIGKILL during a large write can leave a short write: a header and part of a payload.
    let file = path.join(format!("{:020}.log", 0));
    let len = std::fs::metadata(&file).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    f.set_len(len - 100).unwrap();
    drop(f);
    let mut log = LogStore::open(&path).unwrap();
    assert_eq!(
        indexes_and_terms(&mut log).await,
        vec![(0, 1), (1, 1), (2, 1)]
    );
    log.blocking_append(vec![entry(2, 3, b"again")])
        .await
        .unwrap();
    drop(log);
    let mut log = LogStore::open(&path).unwrap();
    let got = log.try_get_log_entries(3..4).await.unwrap();
    assert_eq!(got, vec![entry(2, 3, b"again")]);
}

#[tokio::test]
async fn the_committed_id_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut log = LogStore::open(&path).unwrap();
    assert_eq!(log.read_committed().await.unwrap(), None);
    log.save_committed(Some(lid(1, 7))).await.unwrap();
    assert_eq!(log.read_committed().await.unwrap(), Some(lid(1, 7)));
    drop(log);
    let mut log = LogStore::open(&path).unwrap();
    assert_eq!(log.read_committed().await.unwrap(), Some(lid(1, 7)));
}

/// A leader killed and restarted must not resume leading by itself (the cluster has moved
/// on): its committed vote reads back as the same vote, not committed.
#[tokio::test]
async fn a_committed_vote_reads_back_uncommitted_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log");
    let mut log = LogStore::open(&path).unwrap();
    let mut v = Vote::new(2, 3);
    v.commit();
    log.save_vote(&v).await.unwrap();
    drop(log);
    let mut log = LogStore::open(&path).unwrap();
    let got = log.read_vote().await.unwrap().expect("a vote");
    assert_eq!(got, Vote::new(2, 3));
    assert!(!got.is_committed());
}
