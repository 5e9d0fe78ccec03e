//! The replicated state: every partition's records, `RaftStateMachine` for openraft. Applying
//! a committed `Command::Append` gives its records the partition's next offsets, so offsets are
//! dense and the same on every replica; `Command::Truncate` drops records below an offset (the
//! only way records leave, so Raft's own log compaction never loses what digest still needs:
//! a snapshot carries every record not yet truncated).
//!
//! Records are held in memory (`Bytes`, shared with readers and snapshot builds without
//! copying); they stay only until digest's safe offset lets housekeeping truncate them, which
//! `--max-pinned-queue-bytes` bounds per partition. Snapshots are written to
//! `raft/snapshot.bin` (temp + fsync + rename) and loaded on open; the Raft log holds what was
//! applied after it.
//!
//! Snapshot bytes: `SRSN1` | u32 header length | bincode header (last applied, membership, id,
//! per partition: topic, partition, start, count) | per record `u32 length | bytes` | u32
//! crc32 of everything before it.
// openraft's trait methods return its `StorageError` (224 bytes); the helpers return it too.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, VecDeque};
use std::fs::{self, File};
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use openraft::storage::RaftStateMachine;
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, RaftSnapshotBuilder,
    Snapshot, SnapshotMeta, StorageError, StorageIOError, StoredMembership,
};
use serde::{Deserialize, Serialize};

use super::{Command, Reply, TypeConfig};
use crate::queue::CHATTER_TOPIC;

/// Records of `transientChatter-events` kept (heartbeats: minutes' worth at a few nodes).
const CHATTER_KEEP: usize = 4096;

type SErr = StorageError<u64>;
const MAGIC: &[u8; 5] = b"SRSN1";

fn sm_err(verb: ErrorVerb, msg: impl std::fmt::Display) -> SErr {
    StorageIOError::new(
        ErrorSubject::StateMachine,
        verb,
        AnyError::error(msg.to_string()),
    )
    .into()
}

/// One partition's records: offsets `start..start + records.len()`.
#[derive(Default, Clone)]
pub struct Part {
    pub start: u64,
    pub records: VecDeque<Bytes>,
}

impl Part {
    pub fn end(&self) -> u64 {
        self.start + self.records.len() as u64
    }
}

#[derive(Clone, Default)]
pub struct Data {
    pub last_applied: Option<LogId<u64>>,
    pub membership: StoredMembership<u64, BasicNode>,
    pub parts: BTreeMap<(String, u32), Part>,
}

impl Data {
    fn apply(&mut self, cmd: Command) -> Reply {
        match cmd {
            Command::Append {
                topic,
                partition,
                records,
            } => {
                let chatter = topic == CHATTER_TOPIC;
                match self.parts.get_mut(&(topic, partition)) {
                    None => Reply::error(format!("unknown partition {partition}")),
                    Some(p) => {
                        let first = p.end();
                        p.records.extend(records.into_iter().map(Bytes::from));
                        // Chatter is transient (Kafka keeps it briefly): keep the newest only,
                        // the same on every replica since apply is deterministic.
                        while chatter && p.records.len() > CHATTER_KEEP {
                            p.records.pop_front();
                            p.start += 1;
                        }
                        Reply::ok(first)
                    }
                }
            }
            Command::Truncate {
                topic,
                partition,
                below,
            } => match self.parts.get_mut(&(topic, partition)) {
                None => Reply::error(format!("unknown partition {partition}")),
                Some(p) => {
                    let below = below.min(p.end());
                    while p.start < below {
                        p.records.pop_front();
                        p.start += 1;
                    }
                    Reply::ok(p.start)
                }
            },
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SnapHeader {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    snapshot_id: String,
    parts: Vec<(String, u32, u64, u64)>,
}

fn encode_snapshot(d: &Data, snapshot_id: &str) -> Result<Vec<u8>, SErr> {
    let header = SnapHeader {
        last_applied: d.last_applied,
        membership: d.membership.clone(),
        snapshot_id: snapshot_id.to_string(),
        parts: d
            .parts
            .iter()
            .map(|((t, p), part)| (t.clone(), *p, part.start, part.records.len() as u64))
            .collect(),
    };
    let h = bincode::serde::encode_to_vec(&header, bincode::config::standard())
        .map_err(|e| sm_err(ErrorVerb::Write, e))?;
    let size: usize = d
        .parts
        .values()
        .flat_map(|p| p.records.iter())
        .map(|r| r.len() + 4)
        .sum();
    let mut out = Vec::with_capacity(size + h.len() + 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(h.len() as u32).to_le_bytes());
    out.extend_from_slice(&h);
    for part in d.parts.values() {
        for r in &part.records {
            out.extend_from_slice(&(r.len() as u32).to_le_bytes());
            out.extend_from_slice(r);
        }
    }
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn decode_snapshot(bytes: &[u8]) -> Result<(Data, String), SErr> {
    let bad = |why: &str| sm_err(ErrorVerb::Read, format!("raft snapshot: {why}"));
    if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
        return Err(bad("not a snapshot (bad magic or too short)"));
    }
    let (body, crc) = bytes.split_at(bytes.len() - 4);
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(bad("checksum mismatch"));
    }
    let mut pos = MAGIC.len();
    let take = |pos: &mut usize, n: usize| -> Result<&[u8], SErr> {
        let s = body
            .get(*pos..*pos + n)
            .ok_or_else(|| bad("truncated body"))?;
        *pos += n;
        Ok(s)
    };
    let hl = u32::from_le_bytes(take(&mut pos, 4)?.try_into().map_err(|_| bad("length"))?);
    let header: SnapHeader = bincode::serde::decode_from_slice(
        take(&mut pos, hl as usize)?,
        bincode::config::standard(),
    )
    .map(|(h, _)| h)
    .map_err(|e| bad(&e.to_string()))?;
    let mut parts = BTreeMap::new();
    for (topic, p, start, count) in header.parts {
        let mut records = VecDeque::new();
        for _ in 0..count {
            let l = u32::from_le_bytes(take(&mut pos, 4)?.try_into().map_err(|_| bad("length"))?);
            records.push_back(Bytes::copy_from_slice(take(&mut pos, l as usize)?));
        }
        parts.insert((topic, p), Part { start, records });
    }
    if pos != body.len() {
        return Err(bad("trailing bytes after the last record"));
    }
    Ok((
        Data {
            last_applied: header.last_applied,
            membership: header.membership,
            parts,
        },
        header.snapshot_id,
    ))
}

/// What the queue side and the state machine share.
pub struct Shared {
    pub data: RwLock<Data>,
    /// Woken after every apply, so readers waiting at the end see new records at once.
    pub changed: tokio::sync::Notify,
    dir: PathBuf,
    current: Mutex<Option<SnapshotMeta<u64, BasicNode>>>,
    counter: AtomicU64,
}

impl Shared {
    pub fn read(&self) -> std::sync::RwLockReadGuard<'_, Data> {
        self.data.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Data> {
        self.data.write().unwrap_or_else(|p| p.into_inner())
    }

    fn snapshot_path(&self) -> PathBuf {
        self.dir.join("snapshot.bin")
    }

    fn persist(&self, bytes: &[u8]) -> Result<(), SErr> {
        let tmp = self.dir.join("snapshot.bin.partial");
        let w = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, self.snapshot_path())?;
            File::open(&self.dir)?.sync_all()
        };
        w().map_err(|e| sm_err(ErrorVerb::Write, e))
    }
}

fn meta_of(d: &Data, snapshot_id: String) -> SnapshotMeta<u64, BasicNode> {
    SnapshotMeta {
        last_log_id: d.last_applied,
        last_membership: d.membership.clone(),
        snapshot_id,
    }
}

/// The state machine handle openraft drives; clones share the state.
#[derive(Clone)]
pub struct StateMachine {
    pub shared: Arc<Shared>,
}

impl StateMachine {
    /// Opens the state in `dir` with `layout` (topic, partitions): from `snapshot.bin` when
    /// present, else empty.
    pub fn open(dir: &Path, layout: &[(String, u32)]) -> Result<StateMachine, SErr> {
        fs::create_dir_all(dir).map_err(|e| sm_err(ErrorVerb::Write, e))?;
        let path = dir.join("snapshot.bin");
        let (data, current) = match fs::read(&path) {
            Ok(bytes) => {
                let (d, id) = decode_snapshot(&bytes)
                    .map_err(|e| sm_err(ErrorVerb::Read, format!("{}: {e}", path.display())))?;
                let meta = meta_of(&d, id);
                (d, Some(meta))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut d = Data::default();
                for (topic, n) in layout {
                    for p in 0..*n {
                        d.parts.insert((topic.clone(), p), Part::default());
                    }
                }
                (d, None)
            }
            Err(e) => return Err(sm_err(ErrorVerb::Read, e)),
        };
        Ok(StateMachine {
            shared: Arc::new(Shared {
                data: RwLock::new(data),
                changed: tokio::sync::Notify::new(),
                dir: dir.to_path_buf(),
                current: Mutex::new(current),
                counter: AtomicU64::new(0),
            }),
        })
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, SErr> {
        // Records are `Bytes`: the copy taken under the read lock shares their buffers.
        let data = self.shared.read().clone();
        let n = self.shared.counter.fetch_add(1, Ordering::Relaxed);
        let id = match data.last_applied {
            Some(l) => format!("{}-{}-{n}", l.leader_id, l.index),
            None => format!("none-{n}"),
        };
        let shared = self.shared.clone();
        let meta = meta_of(&data, id.clone());
        let bytes = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, SErr> {
            let bytes = encode_snapshot(&data, &id)?;
            shared.persist(&bytes)?;
            Ok(bytes)
        })
        .await
        .map_err(|e| sm_err(ErrorVerb::Write, e))??;
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(meta.clone());
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = StateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), SErr> {
        let d = self.shared.read();
        Ok((d.last_applied, d.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Reply>, SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let mut replies = Vec::new();
        {
            let mut d = self.shared.write();
            for e in entries {
                d.last_applied = Some(e.log_id);
                replies.push(match e.payload {
                    EntryPayload::Blank => Reply::ok(0),
                    EntryPayload::Normal(cmd) => d.apply(cmd),
                    EntryPayload::Membership(m) => {
                        d.membership = StoredMembership::new(Some(e.log_id), m);
                        Reply::ok(0)
                    }
                });
            }
        }
        self.shared.changed.notify_waiters();
        Ok(replies)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, SErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), SErr> {
        let bytes = snapshot.into_inner();
        let shared = self.shared.clone();
        let data = tokio::task::spawn_blocking(move || -> Result<Data, SErr> {
            let (data, _) = decode_snapshot(&bytes)?;
            shared.persist(&bytes)?;
            Ok(data)
        })
        .await
        .map_err(|e| sm_err(ErrorVerb::Write, e))??;
        *self.shared.write() = data;
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(meta.clone());
        self.shared.changed.notify_waiters();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, SErr> {
        let meta = self
            .shared
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let Some(meta) = meta else {
            return Ok(None);
        };
        let path = self.shared.snapshot_path();
        let bytes = tokio::task::spawn_blocking(move || fs::read(path))
            .await
            .map_err(|e| sm_err(ErrorVerb::Read, e))?
            .map_err(|e| sm_err(ErrorVerb::Read, e))?;
        Ok(Some(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_round_trips_and_detects_damage() {
        let mut d = Data::default();
        d.parts.insert(("t".into(), 0), Part::default());
        d.parts.insert(("t".into(), 1), Part::default());
        let cmd = Command::Append {
            topic: "t".into(),
            partition: 1,
            records: vec![b"a".to_vec(), b"bc".to_vec()],
        };
        assert_eq!(d.apply(cmd.clone()).offset, 0);
        assert_eq!(d.apply(cmd).offset, 2);
        let t = Command::Truncate {
            topic: "t".into(),
            partition: 1,
            below: 1,
        };
        assert_eq!(d.apply(t).offset, 1);
        let bytes = encode_snapshot(&d, "x").unwrap();
        let (back, id) = decode_snapshot(&bytes).unwrap();
        assert_eq!(id, "x");
        let p = &back.parts[&("t".to_string(), 1)];
        assert_eq!(p.start, 1);
        assert_eq!(p.end(), 4);
        assert_eq!(p.records[0].as_ref(), b"bc");
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(decode_snapshot(&b).is_err(), "flipped byte {i} accepted");
        }
        assert!(decode_snapshot(&bytes[..bytes.len() - 1]).is_err());
        let unknown = Command::Append {
            topic: "nope".into(),
            partition: 0,
            records: vec![],
        };
        assert!(d.apply(unknown).error.is_some());
    }
}
