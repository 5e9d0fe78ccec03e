//! Crash injection over the real embedded queue, compared against a model (issue 20): random
//! appends (acknowledged = the append returned), then a crash that leaves what power loss can
//! leave behind the last fsync — a torn frame, garbage, a half-written header, a freshly
//! rolled file with nothing or garbage in it — then reopen, append more, crash again. After
//! every crash the queue must open (never refuse to start) and hold exactly the acknowledged
//! records, in order, at their offsets.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use strata::queue::embedded::EmbeddedQueue;
use strata::queue::Queue;

const TOPIC: &str = "t";

/// What a crash leaves after the last acknowledged byte.
#[derive(Debug, Clone)]
enum Tear {
    /// Random bytes after the last record (a write cut short at any point).
    Garbage(Vec<u8>),
    /// A frame header promising more payload than was written.
    ShortFrame { len: u32, written: Vec<u8> },
    /// Part of a header only.
    PartialHeader(Vec<u8>),
    /// A new file created by a roll, then nothing or garbage in it.
    RolledFile(Vec<u8>),
}

fn tear() -> impl Strategy<Value = Tear> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 1..200).prop_map(Tear::Garbage),
        (9u32..5000, prop::collection::vec(any::<u8>(), 0..100))
            .prop_map(|(len, written)| Tear::ShortFrame { len, written }),
        prop::collection::vec(any::<u8>(), 1..8).prop_map(Tear::PartialHeader),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(Tear::RolledFile),
    ]
}

fn log_files(dir: &Path) -> Vec<PathBuf> {
    let pdir = dir.join(TOPIC).join("0");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&pdir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "log"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn apply(dir: &Path, end: u64, t: &Tear) {
    use std::io::Write;
    let files = log_files(dir);
    let Some(last) = files.last() else {
        return;
    };
    let append = |bytes: &[u8]| {
        let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
        f.write_all(bytes).unwrap();
    };
    match t {
        Tear::Garbage(b) => append(b),
        Tear::ShortFrame { len, written } => {
            let mut b = len.to_le_bytes().to_vec();
            b.extend_from_slice(&0xdead_beefu32.to_le_bytes());
            b.extend_from_slice(&written[..written.len().min(*len as usize - 1)]);
            append(&b);
        }
        Tear::PartialHeader(b) => append(b),
        Tear::RolledFile(b) => {
            let path = last.with_file_name(format!("{end:020}.log"));
            if !path.exists() {
                std::fs::write(path, b).unwrap();
            } else {
                append(b);
            }
        }
    }
}

/// Every record of the partition, read from offset 0.
async fn read_all(q: &EmbeddedQueue) -> Vec<Vec<u8>> {
    let end = q.end_offset(TOPIC, 0).await.unwrap();
    let mut out = Vec::new();
    let mut from = 0;
    while from < end {
        let batch = q.read(TOPIC, 0, from, 1000).await.unwrap();
        assert!(
            !batch.is_empty(),
            "offset {from} below end {end} unreadable"
        );
        for (off, rec) in batch {
            assert_eq!(off, from);
            from += 1;
            out.push(rec);
        }
    }
    out
}

/// Small files (4 KiB, the least allowed), so rounds roll files and crashes land at file
/// boundaries too. Set before any queue in this binary opens: the size is read once.
fn small_files() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var("STRATA_QUEUE_FILE_BYTES", "4096"));
}

type Rounds = Vec<(Vec<Vec<Vec<u8>>>, Tear)>;

fn rounds() -> impl Strategy<Value = Rounds> {
    let record = prop::collection::vec(any::<u8>(), 1..400);
    let batch = prop::collection::vec(record, 1..6);
    prop::collection::vec((prop::collection::vec(batch, 0..12), tear()), 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn reopening_after_any_crash_keeps_exactly_the_acknowledged_records(rounds in rounds()) {
        small_files();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for (batches, t) in &rounds {
            let q = EmbeddedQueue::open(dir.path(), &[(TOPIC, 1)])
                .unwrap_or_else(|e| panic!("the queue refused to start after a crash: {e}"));
            rt.block_on(async {
                assert_eq!(read_all(&q).await, model, "acknowledged records lost or changed");
                for b in batches {
                    let first = q.append(TOPIC, 0, b.clone()).await.unwrap();
                    assert_eq!(first, model.len() as u64);
                    model.extend(b.iter().cloned());
                }
            });
            drop(q);
            apply(dir.path(), model.len() as u64, t);
        }
        let q = EmbeddedQueue::open(dir.path(), &[(TOPIC, 1)])
            .unwrap_or_else(|e| panic!("the queue refused to start after a crash: {e}"));
        rt.block_on(async {
            assert_eq!(read_all(&q).await, model);
            // It keeps working: a new append lands right after the acknowledged records.
            let at = q.append(TOPIC, 0, vec![b"after".to_vec()]).await.unwrap();
            assert_eq!(at, model.len() as u64);
        });
    }
}
