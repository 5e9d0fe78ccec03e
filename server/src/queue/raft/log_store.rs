//! The Raft log on local files: `RaftLogStorage` for openraft. An entry or a vote is durable
//! (`fdatasync`) before openraft is told so, which is what lets a majority's ack mean the
//! records survive `kill -9` of any minority.
//!
//! Layout under `raft/log/`: segment files `<first index, 20 digits>.log`, each a sequence of
//! frames `u32 length | u32 crc32(payload) | payload` (little-endian, the embedded queue's
//! framing), the payload a bincode-serde `Entry`. A file rolls at 64 MiB (a full file is
//! fsynced before the next exists, so damage can only be in the last file). On open a torn
//! frame at the tail of the last file (a write never acknowledged) is cut off; damage anywhere
//! else is an error naming the file. `meta.bin` keeps the vote and the last purged log id,
//! `committed.bin` the last committed id; both are replaced atomically (temp file, fsync,
//! rename, directory fsync). Purging deletes whole files whose entries all lie at or below the
//! purged id; truncation (a conflicting suffix from an old term) cuts the file in place.
//!
//! Appends follow openraft's contract, not only the happy path: an entry below the last
//! written index overwrites from there (the conflicting suffix is truncated first); after a
//! purge past the end (a snapshot installed ahead of this log) the log restarts at the purged
//! index + 1; an entry at or below the purge point is already in a snapshot and is skipped;
//! any other gap is refused as a hole.
// openraft's trait methods return its `StorageError` (224 bytes); the helpers return it too.
#![allow(clippy::result_large_err)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{
    AnyError, Entry, ErrorSubject, ErrorVerb, LogId, LogState, RaftLogReader, StorageError,
    StorageIOError, Vote,
};
use serde::{Deserialize, Serialize};

use super::TypeConfig;

const ROLL_BYTES: u64 = 64 << 20;
const HEADER: u64 = 8;
/// How often at most `committed.bin` is replaced (two fsyncs each); see `save_committed`.
const COMMITTED_EVERY: Duration = Duration::from_millis(200);
/// Largest frame accepted on recovery (a guard against a corrupt length).
const MAX_FRAME: u64 = 256 << 20;

type SErr = StorageError<u64>;

fn io_err(verb: ErrorVerb, e: impl std::error::Error + 'static) -> SErr {
    StorageIOError::new(ErrorSubject::Logs, verb, AnyError::new(&e)).into()
}

fn corrupt(msg: String) -> SErr {
    StorageIOError::new(ErrorSubject::Logs, ErrorVerb::Read, AnyError::error(msg)).into()
}

/// One file's entries: positions of consecutive indexes from `first`.
struct Seg {
    first: u64,
    path: PathBuf,
    file: Arc<File>,
    /// (position of the frame, payload length, the entry's log id) per entry.
    frames: Vec<(u64, u32, LogId<u64>)>,
    len: u64,
}

impl Seg {
    fn next(&self) -> u64 {
        self.first + self.frames.len() as u64
    }
}

#[derive(Serialize, Deserialize, Default, Clone)]
struct Meta {
    vote: Option<Vote<u64>>,
    last_purged: Option<LogId<u64>>,
}

struct Inner {
    dir: PathBuf,
    segs: Vec<Seg>,
    meta: Meta,
    /// The latest committed id openraft reported; `committed.bin` may hold an older one.
    committed: Option<LogId<u64>>,
    /// When `committed.bin` was last replaced.
    committed_written: Option<Instant>,
}

/// The log store; clones share the files (the reader openraft asks for is a clone).
#[derive(Clone)]
pub struct LogStore {
    inner: Arc<Mutex<Inner>>,
}

fn encode(e: &Entry<TypeConfig>) -> Result<Vec<u8>, SErr> {
    bincode::serde::encode_to_vec(e, bincode::config::standard())
        .map_err(|err| io_err(ErrorVerb::Write, err))
}

fn decode(bytes: &[u8]) -> Result<Entry<TypeConfig>, SErr> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard())
        .map(|(e, _)| e)
        .map_err(|err| io_err(ErrorVerb::Read, err))
}

/// Reads a segment's frames; a torn tail is cut when `last`, refused otherwise.
fn scan(path: &Path, first: u64, last: bool) -> Result<Seg, SErr> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| io_err(ErrorVerb::Read, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| io_err(ErrorVerb::Read, e))?;
    let mut frames = Vec::new();
    let mut pos = 0u64;
    let total = bytes.len() as u64;
    let mut torn = None;
    while pos < total {
        if total - pos < HEADER {
            torn = Some("a partial frame header".to_string());
            break;
        }
        let p = pos as usize;
        let len = u32::from_le_bytes([bytes[p], bytes[p + 1], bytes[p + 2], bytes[p + 3]]) as u64;
        let crc = u32::from_le_bytes([bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]]);
        if len > MAX_FRAME || pos + HEADER + len > total {
            torn = Some(format!("a frame of {len} bytes past the end"));
            break;
        }
        let payload = &bytes[p + HEADER as usize..p + (HEADER + len) as usize];
        if crc32fast::hash(payload) != crc {
            torn = Some(format!("a checksum mismatch at byte {pos}"));
            break;
        }
        let entry = decode(payload)?;
        let want = first + frames.len() as u64;
        if entry.log_id.index != want {
            return Err(corrupt(format!(
                "{}: entry at byte {pos} has index {}, expected {want}",
                path.display(),
                entry.log_id.index
            )));
        }
        frames.push((pos, len as u32, entry.log_id));
        pos += HEADER + len;
    }
    if let Some(why) = torn {
        if !last {
            return Err(corrupt(format!(
                "{}: {why} before the end of a full file",
                path.display()
            )));
        }
        tracing::warn!(file = %path.display(), %why, at = pos, "cutting a torn raft log tail");
        file.set_len(pos).map_err(|e| io_err(ErrorVerb::Write, e))?;
        file.sync_data().map_err(|e| io_err(ErrorVerb::Write, e))?;
    }
    Ok(Seg {
        first,
        path: path.to_path_buf(),
        file: Arc::new(file),
        frames,
        len: pos,
    })
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `dir/name` with `crc32 | body` atomically: a temp file, fsynced, renamed over
/// it, and the directory fsynced, so a crash leaves the old or the new file, never a mix.
fn write_small(dir: &Path, name: &str, body: &[u8]) -> Result<(), SErr> {
    let mut bytes = crc32fast::hash(body).to_le_bytes().to_vec();
    bytes.extend_from_slice(body);
    let tmp = dir.join(format!("{name}.partial"));
    let w = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dir.join(name))?;
        sync_dir(dir)
    };
    w().map_err(|e| io_err(ErrorVerb::Write, e))
}

/// Reads a file `write_small` wrote; `None` when it does not exist.
fn read_small<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, SErr> {
    match fs::read(path) {
        Ok(b) => {
            if b.len() < 4 || crc32fast::hash(&b[4..]).to_le_bytes() != b[..4] {
                return Err(corrupt(format!("{}: checksum mismatch", path.display())));
            }
            bincode::serde::decode_from_slice(&b[4..], bincode::config::standard())
                .map(|(m, _)| Some(m))
                .map_err(|e| corrupt(format!("{}: {e}", path.display())))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err(ErrorVerb::Read, e)),
    }
}

impl LogStore {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: &Path) -> Result<LogStore, SErr> {
        fs::create_dir_all(dir).map_err(|e| io_err(ErrorVerb::Write, e))?;
        let mut firsts: Vec<u64> = fs::read_dir(dir)
            .map_err(|e| io_err(ErrorVerb::Read, e))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse::<u64>().ok()
            })
            .collect();
        firsts.sort_unstable();
        let n = firsts.len();
        let mut segs: Vec<Seg> = Vec::with_capacity(n);
        for (i, first) in firsts.into_iter().enumerate() {
            let path = dir.join(format!("{first:020}.log"));
            let seg = scan(&path, first, i + 1 == n)?;
            if let Some(prev) = segs.last() {
                if prev.next() != seg.first {
                    return Err(corrupt(format!(
                        "{}: indexes jump from {} to {}",
                        seg.path.display(),
                        prev.next(),
                        seg.first
                    )));
                }
            }
            segs.push(seg);
        }
        let meta: Meta = read_small(&dir.join("meta.bin"))?.unwrap_or_default();
        let committed: Option<LogId<u64>> = read_small(&dir.join("committed.bin"))?.flatten();
        Ok(LogStore {
            inner: Arc::new(Mutex::new(Inner {
                dir: dir.to_path_buf(),
                segs,
                meta,
                committed,
                committed_written: None,
            })),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the files as they were written; keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs file work off the async threads.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, SErr> + Send + 'static,
    ) -> Result<T, SErr> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut g = inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut g)
        })
        .await
        .map_err(|e| io_err(ErrorVerb::Write, e))?
    }
}

impl Inner {
    fn write_meta(&self) -> Result<(), SErr> {
        let body = bincode::serde::encode_to_vec(&self.meta, bincode::config::standard())
            .map_err(|e| io_err(ErrorVerb::Write, e))?;
        write_small(&self.dir, "meta.bin", &body)
    }

    fn write_committed(&mut self) -> Result<(), SErr> {
        let body = bincode::serde::encode_to_vec(self.committed, bincode::config::standard())
            .map_err(|e| io_err(ErrorVerb::Write, e))?;
        write_small(&self.dir, "committed.bin", &body)?;
        self.committed_written = Some(Instant::now());
        Ok(())
    }

    fn last_log_id(&self) -> Option<LogId<u64>> {
        self.segs
            .iter()
            .rev()
            .find_map(|s| s.frames.last().map(|f| f.2))
            .filter(|id| Some(id.index) > self.meta.last_purged.map(|p| p.index))
            .or(self.meta.last_purged)
    }

    fn read_range(&self, start: u64, end: u64) -> Result<Vec<Entry<TypeConfig>>, SErr> {
        let start = start.max(self.floor());
        let mut out = Vec::new();
        for seg in &self.segs {
            if seg.next() <= start || seg.first >= end {
                continue;
            }
            let from = start.max(seg.first);
            let to = end.min(seg.next());
            for i in from..to {
                let (pos, len, _) = seg.frames[(i - seg.first) as usize];
                let mut buf = vec![0u8; len as usize];
                seg.file
                    .read_exact_at(&mut buf, pos + HEADER)
                    .map_err(|e| io_err(ErrorVerb::Read, e))?;
                out.push(decode(&buf)?);
            }
        }
        Ok(out)
    }

    fn append(&mut self, entries: Vec<Entry<TypeConfig>>) -> Result<(), SErr> {
        let mut touched: Vec<usize> = Vec::new();
        for e in entries {
            let index = e.log_id.index;
            let floor = self.floor();
            if index < floor {
                // At or below the purge point: already in a snapshot, and never read again.
                continue;
            }
            if let Some(next) = self.segs.last().map(Seg::next) {
                if index < next {
                    // Overwriting: the entries from `index` on are a conflicting suffix.
                    // Segments that lose entries are fsynced by the truncation itself.
                    self.truncate(index)?;
                    touched.retain(|&i| i < self.segs.len());
                } else if index > next {
                    if index != floor {
                        return Err(corrupt(format!(
                            "append of index {index} to a log whose next index is {next} \
                             (a hole)"
                        )));
                    }
                    // After a purge past the end (a snapshot installed ahead of this log):
                    // every file holds purged entries only, and the log restarts at `index`.
                    self.drop_all()?;
                    touched.clear();
                }
            }
            let need_new = match self.segs.last() {
                None => true,
                Some(s) => s.len >= ROLL_BYTES,
            };
            if need_new {
                if let Some(s) = self.segs.last() {
                    s.file
                        .sync_data()
                        .map_err(|e| io_err(ErrorVerb::Write, e))?;
                }
                let first = e.log_id.index;
                let path = self.dir.join(format!("{first:020}.log"));
                let file = OpenOptions::new()
                    .create(true)
                    .truncate(true)
                    .read(true)
                    .write(true)
                    .open(&path)
                    .map_err(|e| io_err(ErrorVerb::Write, e))?;
                sync_dir(&self.dir).map_err(|e| io_err(ErrorVerb::Write, e))?;
                self.segs.push(Seg {
                    first,
                    path,
                    file: Arc::new(file),
                    frames: Vec::new(),
                    len: 0,
                });
            }
            let n = self.segs.len() - 1;
            let seg = &mut self.segs[n];
            if e.log_id.index != seg.next() {
                return Err(corrupt(format!(
                    "append of index {} to a log whose next index is {}",
                    e.log_id.index,
                    seg.next()
                )));
            }
            let payload = encode(&e)?;
            let mut frame = Vec::with_capacity(payload.len() + HEADER as usize);
            frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            frame.extend_from_slice(&payload);
            seg.file
                .write_all_at(&frame, seg.len)
                .map_err(|e| io_err(ErrorVerb::Write, e))?;
            seg.frames.push((seg.len, payload.len() as u32, e.log_id));
            seg.len += frame.len() as u64;
            if touched.last() != Some(&n) {
                touched.push(n);
            }
        }
        for i in touched {
            self.segs[i]
                .file
                .sync_data()
                .map_err(|e| io_err(ErrorVerb::Write, e))?;
        }
        Ok(())
    }

    /// The lowest index that can still be read: one past the purge point.
    fn floor(&self) -> u64 {
        self.meta.last_purged.map(|p| p.index + 1).unwrap_or(0)
    }

    /// Deletes every file, oldest first, so a crash part-way leaves a contiguous log.
    fn drop_all(&mut self) -> Result<(), SErr> {
        for seg in self.segs.drain(..) {
            fs::remove_file(&seg.path).map_err(|e| io_err(ErrorVerb::Delete, e))?;
        }
        sync_dir(&self.dir).map_err(|e| io_err(ErrorVerb::Delete, e))
    }

    /// Deletes entries at and after `index`.
    fn truncate(&mut self, index: u64) -> Result<(), SErr> {
        while let Some(seg) = self.segs.last_mut() {
            if seg.first >= index {
                let seg = self.segs.pop().expect("checked non-empty");
                fs::remove_file(&seg.path).map_err(|e| io_err(ErrorVerb::Delete, e))?;
                continue;
            }
            if seg.next() > index {
                let keep = (index - seg.first) as usize;
                let cut = seg.frames.get(keep).map(|f| f.0).unwrap_or(seg.len);
                seg.frames.truncate(keep);
                seg.file
                    .set_len(cut)
                    .map_err(|e| io_err(ErrorVerb::Delete, e))?;
                seg.file
                    .sync_data()
                    .map_err(|e| io_err(ErrorVerb::Delete, e))?;
                seg.len = cut;
            }
            break;
        }
        sync_dir(&self.dir).map_err(|e| io_err(ErrorVerb::Delete, e))
    }

    fn purge(&mut self, log_id: LogId<u64>) -> Result<(), SErr> {
        if self
            .meta
            .last_purged
            .is_some_and(|p| p.index >= log_id.index)
        {
            return Ok(());
        }
        self.meta.last_purged = Some(log_id);
        self.write_meta()?;
        // Whole files only, and never the one that takes the next append.
        while self.segs.len() > 1 && self.segs[0].next() <= log_id.index + 1 {
            let seg = self.segs.remove(0);
            fs::remove_file(&seg.path).map_err(|e| io_err(ErrorVerb::Delete, e))?;
        }
        if self.segs.len() == 1 && self.segs[0].next() <= log_id.index + 1 {
            // Everything is purged: the next append starts a fresh file at its own index.
            let seg = self.segs.remove(0);
            fs::remove_file(&seg.path).map_err(|e| io_err(ErrorVerb::Delete, e))?;
        }
        Ok(())
    }
}

fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s + 1,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e + 1,
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + std::fmt::Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, SErr> {
        let (start, end) = bounds(&range);
        self.blocking(move |g| g.read_range(start, end)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, SErr> {
        let g = self.lock();
        Ok(LogState {
            last_purged_log_id: g.meta.last_purged,
            last_log_id: g.last_log_id(),
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), SErr> {
        let vote = *vote;
        self.blocking(move |g| {
            g.meta.vote = Some(vote);
            g.write_meta()
        })
        .await
    }

    /// Read back as not committed (same term, same candidate). openraft restores a node
    /// whose committed vote names itself as leader at once, without an election; after a
    /// crash the others have usually elected someone else by then, so the restarted node
    /// took writes it could never commit (its own start-up writes to Global failed with
    /// "leadership moved" and the node exited). Uncommitted, the node starts as a follower
    /// and hears the current leader, or wins an election like any other. Safe: the term and
    /// the candidate voted for are what Raft needs kept, and both are.
    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, SErr> {
        Ok(self.lock().meta.vote.map(|mut v| {
            v.committed = false;
            v
        }))
    }

    /// Kept in memory at once and on disk at most every `COMMITTED_EVERY`: openraft calls this
    /// on every commit, and two fsyncs per commit would halve ingest. An older id on disk is
    /// safe (committed only grows, and everything at or below it is durable here): after a
    /// restart openraft re-applies up to it at once, the rest when the leader says so.
    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), SErr> {
        self.blocking(move |g| {
            g.committed = committed;
            if g.committed_written
                .is_some_and(|t| t.elapsed() < COMMITTED_EVERY)
            {
                return Ok(());
            }
            g.write_committed()
        })
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, SErr> {
        Ok(self.lock().committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + Send,
        I::IntoIter: Send,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let res = self.blocking(move |g| g.append(entries)).await;
        match &res {
            Ok(()) => callback.log_io_completed(Ok(())),
            Err(e) => callback.log_io_completed(Err(std::io::Error::other(e.to_string()))),
        }
        res
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), SErr> {
        self.blocking(move |g| g.truncate(log_id.index)).await
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), SErr> {
        self.blocking(move |g| g.purge(log_id)).await
    }
}
