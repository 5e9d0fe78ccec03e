//! The embedded queue: a durable, file-based log per topic-partition in the data dir, for the
//! single-node default. Guarantee: `append` resolves only after its records are fsynced, and
//! readers never see a record before that, so an acknowledged event survives `kill -9`.
//!
//! Layout: `queue/<topic>/<partition>/<base offset, 20 digits>.log`, each file a sequence of
//! records framed as `u32 length | u32 crc32(payload) | payload` (little-endian). A file rolls
//! at 64 MiB. Group commit: one writer thread per topic drains every pending append, writes
//! them all, and fsyncs each touched file once, so concurrent appends share fsyncs. On open, a
//! torn record at the tail of a partition's last file (a write that was never acknowledged)
//! is cut off; damage anywhere else is an error naming the file. What is cut is kept beside
//! the file (`<file>.log.cut-<byte>`), and damage followed by intact records (not a torn
//! write) is logged as an error with their count, never cut silently. Truncation deletes whole
//! files that lie entirely below the requested offset. The log is a plain ordered record
//! store so it can later be replicated between nodes (openraft) for a Kafka-free cluster.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_global::BoxFuture;
use tokio::sync::{mpsc, oneshot, watch};

use super::{Queue, QueueError, QueueResult, Records, Truncation};

/// Default size at which a partition's file rolls (override: `STRATA_QUEUE_FILE_BYTES`;
/// truncation deletes whole files, so smaller files free space sooner).
const ROLL_BYTES: u64 = 64 << 20;

fn roll_bytes() -> u64 {
    static ROLL: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ROLL.get_or_init(|| {
        std::env::var("STRATA_QUEUE_FILE_BYTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&v: &u64| v >= 4096)
            .unwrap_or(ROLL_BYTES)
    })
}
const HEADER: u64 = 8;
/// Largest record the queue accepts (a guard against corrupt lengths on recovery).
pub const MAX_RECORD_BYTES: usize = 64 << 20;

struct SegFile {
    base: u64,
    path: PathBuf,
    file: Arc<File>,
    /// Start position of each record in the file.
    positions: Vec<u64>,
    len: u64,
}

struct PartitionLog {
    dir: PathBuf,
    files: Vec<SegFile>,
    /// Offset after the last fsynced (visible) record.
    end: u64,
    /// Offset after the last written record (may be ahead of `end` during a group commit).
    written: u64,
}

impl PartitionLog {
    fn open(dir: PathBuf) -> QueueResult<PartitionLog> {
        fs::create_dir_all(&dir)?;
        let mut bases: Vec<u64> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                name.strip_suffix(".log")?.parse::<u64>().ok()
            })
            .collect();
        bases.sort_unstable();
        let mut files = Vec::new();
        let n = bases.len();
        for (i, base) in bases.into_iter().enumerate() {
            let path = dir.join(format!("{base:020}.log"));
            let last = i + 1 == n;
            files.push(scan_file(&path, base, last)?);
        }
        let mut log = PartitionLog {
            dir,
            files,
            end: 0,
            written: 0,
        };
        if let Some(f) = log.files.last() {
            log.end = f.base + f.positions.len() as u64;
            log.written = log.end;
        }
        for w in log.files.windows(2) {
            if w[0].base + w[0].positions.len() as u64 != w[1].base {
                return Err(QueueError::Corrupt(format!(
                    "{}: offsets jump from {} to {}",
                    w[1].path.display(),
                    w[0].base + w[0].positions.len() as u64,
                    w[1].base
                )));
            }
        }
        Ok(log)
    }

    fn start(&self) -> u64 {
        self.files.first().map(|f| f.base).unwrap_or(self.end)
    }

    fn active(&mut self) -> QueueResult<&mut SegFile> {
        let need_new = match self.files.last() {
            None => true,
            Some(f) => f.len >= roll_bytes(),
        };
        if need_new {
            // Make the full file durable before a newer one can exist: otherwise a power loss
            // could keep the (synced or written-back) new file while the old one lost its
            // tail, and open refuses damage anywhere but in the last file.
            if let Some(f) = self.files.last() {
                f.file.sync_data()?;
            }
            let path = self.dir.join(format!("{:020}.log", self.written));
            let file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .open(&path)?;
            sync_dir(&self.dir)?;
            self.files.push(SegFile {
                base: self.written,
                path,
                file: Arc::new(file),
                positions: Vec::new(),
                len: 0,
            });
        }
        self.files
            .last_mut()
            .ok_or_else(|| QueueError::Corrupt("no active file".into()))
    }
}

fn sync_dir(dir: &Path) -> QueueResult<()> {
    File::open(dir)?.sync_all()?;
    Ok(())
}

/// Reads a file's record positions, cutting a torn tail when it is the last file.
fn scan_file(path: &Path, base: u64, last: bool) -> QueueResult<SegFile> {
    let mut file = OpenOptions::new().read(true).append(true).open(path)?;
    let mut data = Vec::new();
    file.read_to_end(&mut data)?;
    let mut positions = Vec::new();
    let mut pos = 0usize;
    let bad = loop {
        if pos == data.len() {
            break None;
        }
        if data.len() - pos < HEADER as usize {
            break Some("incomplete record header");
        }
        let len = u32::from_le_bytes(data[pos..pos + 4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(data[pos + 4..pos + 8].try_into().unwrap_or_default());
        if len > MAX_RECORD_BYTES || data.len() - pos - 8 < len {
            break Some("incomplete record");
        }
        if crc32fast::hash(&data[pos + 8..pos + 8 + len]) != crc {
            break Some("record checksum mismatch");
        }
        positions.push(pos as u64);
        pos += 8 + len;
    };
    if let Some(what) = bad {
        if !last {
            return Err(QueueError::Corrupt(format!(
                "{} at byte {pos} (offset {}): {what}",
                path.display(),
                base + positions.len() as u64
            )));
        }
        let cut = &data[pos..];
        let intact = intact_records_after_damage(cut);
        // Keep what is cut beside the log, so nothing is destroyed on a guess.
        let kept = path.with_extension(format!("log.cut-{pos}"));
        let saved = fs::write(&kept, cut)
            .and_then(|_| File::open(&kept)?.sync_all())
            .map_err(|e| e.to_string());
        if intact == 0 {
            tracing::warn!(file = %path.display(), byte = pos, bytes = cut.len(), what, kept = %kept.display(), saved = ?saved, "cutting torn tail of the embedded queue (never acknowledged)");
        } else {
            // A torn write leaves no intact record after it: this is damage in the middle
            // of the file, and the records after it may have been acknowledged.
            tracing::error!(file = %path.display(), byte = pos, bytes = cut.len(), what, intact_records_after = intact, kept = %kept.display(), saved = ?saved, "the last embedded queue file is damaged in the middle, not torn at its tail: cutting from the damage on so the node can start; the cut bytes are kept for inspection");
        }
        file.set_len(pos as u64)?;
        file.sync_all()?;
    }
    Ok(SegFile {
        base,
        path: path.to_path_buf(),
        file: Arc::new(file),
        positions,
        len: pos as u64,
    })
}

/// Intact records (non-empty, checksum valid, chained to the end or to another intact one)
/// found after damage at the start of `cut`. Bounded: at most 64 MiB are hashed looking for
/// the first one, so a file of garbage costs little.
fn intact_records_after_damage(cut: &[u8]) -> usize {
    let frame_at = |p: usize| -> Option<usize> {
        let rest = cut.get(p..)?;
        let len = u32::from_le_bytes(rest.get(0..4)?.try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(rest.get(4..8)?.try_into().ok()?);
        if len == 0 || len > MAX_RECORD_BYTES {
            return None;
        }
        let payload = rest.get(8..8 + len)?;
        (crc32fast::hash(payload) == crc).then_some(8 + len)
    };
    let mut budget: usize = 64 << 20;
    let mut p = 1;
    while p + HEADER as usize <= cut.len() && budget > 0 {
        let len = cut
            .get(p..p + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0) as usize;
        if len > 0 && len <= cut.len() - p - 8 {
            budget = budget.saturating_sub(len);
            if let Some(size) = frame_at(p) {
                let mut n = 1;
                let mut q = p + size;
                while let Some(size) = frame_at(q) {
                    n += 1;
                    q += size;
                }
                return n;
            }
        }
        p += 1;
    }
    0
}

struct Partition {
    log: Mutex<PartitionLog>,
    end: watch::Sender<u64>,
}

type AppendReq = (u32, Vec<Vec<u8>>, oneshot::Sender<QueueResult<u64>>);

struct Topic {
    partitions: Vec<Arc<Partition>>,
    writer: mpsc::UnboundedSender<AppendReq>,
}

/// The embedded queue over a directory.
pub struct EmbeddedQueue {
    topics: HashMap<String, Topic>,
}

impl EmbeddedQueue {
    /// Opens (creating as needed) `topics` (name, partition count) under `dir`.
    pub fn open(dir: &Path, topics: &[(&str, u32)]) -> QueueResult<EmbeddedQueue> {
        let mut map = HashMap::new();
        for (name, count) in topics {
            let tdir = dir.join(name);
            fs::create_dir_all(&tdir)?;
            // Never forget partitions that hold data, even if the configured count shrank.
            let existing = fs::read_dir(&tdir)?
                .filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<u32>().ok())
                .map(|p| p + 1)
                .max()
                .unwrap_or(0);
            let count = (*count).max(existing).max(1);
            let mut partitions = Vec::new();
            for p in 0..count {
                let log = PartitionLog::open(tdir.join(p.to_string()))?;
                let (tx, _) = watch::channel(log.end);
                partitions.push(Arc::new(Partition {
                    log: Mutex::new(log),
                    end: tx,
                }));
            }
            let (wtx, wrx) = mpsc::unbounded_channel();
            let parts = partitions.clone();
            let tname = name.to_string();
            std::thread::Builder::new()
                .name(format!("queue-{name}"))
                .spawn(move || writer_loop(&tname, parts, wrx))?;
            map.insert(
                name.to_string(),
                Topic {
                    partitions,
                    writer: wtx,
                },
            );
        }
        Ok(EmbeddedQueue { topics: map })
    }

    /// Makes an empty partition start at `offset` (restoring a node from the bucket: offsets
    /// must continue past those Global already knows, or new events would collide with old
    /// ones). A partition holding records is left alone.
    pub fn seed(&self, topic: &str, partition: u32, offset: u64) -> QueueResult<()> {
        let part = self.partition(topic, partition)?;
        let mut log = part
            .log
            .lock()
            .map_err(|_| QueueError::Unavailable("queue lock poisoned".into()))?;
        if !log.files.is_empty() || log.end >= offset {
            return Ok(());
        }
        let path = log.dir.join(format!("{offset:020}.log"));
        let file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)?;
        file.sync_all()?;
        File::open(&log.dir)?.sync_all()?;
        log.files.push(SegFile {
            base: offset,
            path,
            file: Arc::new(file),
            positions: Vec::new(),
            len: 0,
        });
        log.end = offset;
        log.written = offset;
        part.end.send_replace(offset);
        Ok(())
    }

    fn partition(&self, topic: &str, partition: u32) -> QueueResult<&Arc<Partition>> {
        self.topics
            .get(topic)
            .and_then(|t| t.partitions.get(partition as usize))
            .ok_or_else(|| QueueError::UnknownPartition {
                topic: topic.into(),
                partition,
            })
    }
}

/// Group commit: take everything pending, write it, fsync each touched file once, reply.
fn writer_loop(
    topic: &str,
    parts: Vec<Arc<Partition>>,
    mut rx: mpsc::UnboundedReceiver<AppendReq>,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < 4096 {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // Per partition: the offsets assigned, pending positions, and files to sync.
        let mut results: Vec<(oneshot::Sender<QueueResult<u64>>, QueueResult<u64>)> = Vec::new();
        let mut touched: Vec<Arc<File>> = Vec::new();
        let mut staged: HashMap<u32, Vec<(u64, u64)>> = HashMap::new();
        for (p, records, reply) in batch {
            let res = (|| -> QueueResult<u64> {
                let part = parts
                    .get(p as usize)
                    .ok_or_else(|| QueueError::UnknownPartition {
                        topic: topic.into(),
                        partition: p,
                    })?;
                let mut log = part
                    .log
                    .lock()
                    .map_err(|_| QueueError::Unavailable("queue lock poisoned".into()))?;
                let first = log.written;
                let mut buf = Vec::with_capacity(records.iter().map(|r| r.len() + 8).sum());
                for r in &records {
                    if r.len() > MAX_RECORD_BYTES {
                        return Err(QueueError::Unavailable(format!(
                            "record of {} bytes exceeds the {MAX_RECORD_BYTES}-byte limit",
                            r.len()
                        )));
                    }
                }
                let f = log.active()?;
                let file_base = f.base;
                let mut pos = f.len;
                for r in &records {
                    buf.extend_from_slice(&(r.len() as u32).to_le_bytes());
                    buf.extend_from_slice(&crc32fast::hash(r).to_le_bytes());
                    buf.extend_from_slice(r);
                }
                if let Err(e) = (&*f.file).write_all(&buf) {
                    // A partial write leaves bytes past f.len; cut them so the file stays framed.
                    let _ = f.file.set_len(f.len);
                    return Err(e.into());
                }
                let st = staged.entry(p).or_default();
                for r in &records {
                    st.push((file_base, pos));
                    pos += 8 + r.len() as u64;
                }
                f.len = pos;
                if !touched.iter().any(|t| Arc::ptr_eq(t, &f.file)) {
                    touched.push(f.file.clone());
                }
                log.written += records.len() as u64;
                Ok(first)
            })();
            results.push((reply, res));
        }
        // Make everything durable, then publish the new ends so readers may see it.
        let mut sync_err: Option<String> = None;
        for f in &touched {
            if let Err(e) = f.sync_data() {
                sync_err = Some(e.to_string());
            }
        }
        if let Some(e) = sync_err {
            // The bytes may or may not be on disk; without fsync we must not acknowledge.
            tracing::error!(error = %e, "embedded queue fsync failed");
            for (reply, _) in results {
                let _ = reply.send(Err(QueueError::Unavailable(format!("fsync failed: {e}"))));
            }
            // Reopen state from disk on the next start; stop accepting writes now.
            return;
        }
        for (p, positions) in staged {
            if let Some(part) = parts.get(p as usize) {
                let mut end = None;
                if let Ok(mut log) = part.log.lock() {
                    for (base, pos) in positions {
                        if let Some(f) = log.files.iter_mut().rev().find(|f| f.base == base) {
                            f.positions.push(pos);
                        }
                    }
                    log.end = log.written;
                    end = Some(log.end);
                }
                if let Some(end) = end {
                    part.end.send_replace(end);
                }
            }
        }
        for (reply, res) in results {
            let _ = reply.send(res);
        }
    }
}

impl Queue for EmbeddedQueue {
    fn partitions(&self, topic: &str) -> u32 {
        self.topics
            .get(topic)
            .map(|t| t.partitions.len() as u32)
            .unwrap_or(0)
    }

    fn append(
        &self,
        topic: &str,
        partition: u32,
        records: Vec<Vec<u8>>,
    ) -> BoxFuture<'_, QueueResult<u64>> {
        let topic = topic.to_string();
        Box::pin(async move {
            let t = self
                .topics
                .get(&topic)
                .ok_or_else(|| QueueError::UnknownPartition {
                    topic: topic.clone(),
                    partition,
                })?;
            let (tx, rx) = oneshot::channel();
            t.writer
                .send((partition, records, tx))
                .map_err(|_| QueueError::Unavailable("embedded queue writer stopped".into()))?;
            rx.await
                .map_err(|_| QueueError::Unavailable("embedded queue writer stopped".into()))?
        })
    }

    fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max: usize,
    ) -> BoxFuture<'_, QueueResult<Records>> {
        let topic = topic.to_string();
        Box::pin(async move {
            let part = self.partition(&topic, partition)?.clone();
            let mut rx = part.end.subscribe();
            if *rx.borrow_and_update() <= from {
                let _ = tokio::time::timeout(Duration::from_millis(100), rx.changed()).await;
            }
            tokio::task::spawn_blocking(move || read_blocking(&topic, partition, &part, from, max))
                .await
                .map_err(|e| QueueError::Unavailable(e.to_string()))?
        })
    }

    fn end_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>> {
        let r = self.partition(topic, partition).map(|p| *p.end.borrow());
        Box::pin(async move { r })
    }

    fn start_offset(&self, topic: &str, partition: u32) -> BoxFuture<'_, QueueResult<u64>> {
        let r = self.partition(topic, partition).and_then(|p| {
            p.log
                .lock()
                .map(|l| l.start())
                .map_err(|_| QueueError::Unavailable("queue lock poisoned".into()))
        });
        Box::pin(async move { r })
    }

    fn truncate(
        &self,
        topic: &str,
        partition: u32,
        below: u64,
    ) -> BoxFuture<'_, QueueResult<Truncation>> {
        let r = (|| {
            let part = self.partition(topic, partition)?;
            let mut log = part
                .log
                .lock()
                .map_err(|_| QueueError::Unavailable("queue lock poisoned".into()))?;
            // Delete whole files entirely below `below`, never the active (last) file.
            while log.files.len() > 1 {
                let f = &log.files[0];
                if f.base + f.positions.len() as u64 > below {
                    break;
                }
                fs::remove_file(&f.path)?;
                log.files.remove(0);
            }
            Ok(Truncation::Done { start: log.start() })
        })();
        Box::pin(async move { r })
    }
}

fn read_blocking(
    topic: &str,
    partition: u32,
    part: &Partition,
    from: u64,
    max: usize,
) -> QueueResult<Records> {
    // Copy what we need under the lock, read the bytes outside it.
    let (file, positions, base, file_len) = {
        let log = part
            .log
            .lock()
            .map_err(|_| QueueError::Unavailable("queue lock poisoned".into()))?;
        let start = log.start();
        if from < start {
            return Err(QueueError::Truncated {
                topic: topic.into(),
                partition,
                offset: from,
                start,
            });
        }
        if from >= log.end {
            return Ok(Vec::new());
        }
        let idx = log.files.partition_point(|f| f.base <= from) - 1;
        let f = &log.files[idx];
        let first = (from - f.base) as usize;
        let last = (first + max).min(f.positions.len());
        let end_pos = f.positions.get(last).copied().unwrap_or(f.len);
        (
            f.file.clone(),
            f.positions[first..last].to_vec(),
            from,
            end_pos,
        )
    };
    let Some(&start_pos) = positions.first() else {
        return Ok(Vec::new());
    };
    let mut buf = vec![0u8; (file_len - start_pos) as usize];
    file.read_exact_at(&mut buf, start_pos)?;
    let mut out = Vec::with_capacity(positions.len());
    for (i, pos) in positions.iter().enumerate() {
        let at = (pos - start_pos) as usize;
        let len = u32::from_le_bytes(buf[at..at + 4].try_into().unwrap_or_default()) as usize;
        let crc = u32::from_le_bytes(buf[at + 4..at + 8].try_into().unwrap_or_default());
        let payload = buf.get(at + 8..at + 8 + len).ok_or_else(|| {
            QueueError::Corrupt(format!(
                "{topic}/{partition} offset {}: short record",
                base + i as u64
            ))
        })?;
        if crc32fast::hash(payload) != crc {
            return Err(QueueError::Corrupt(format!(
                "{topic}/{partition} offset {}: checksum mismatch",
                base + i as u64
            )));
        }
        out.push((base + i as u64, payload.to_vec()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn damage_in_the_middle_of_the_last_file_is_kept_and_counted_not_cut_silently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{:020}.log", 0));
        let mut data = frame(b"first");
        let damaged_at = data.len();
        let mut second = frame(b"second");
        second[9] ^= 0xff; // a flipped payload byte: checksum mismatch
        data.extend_from_slice(&second);
        data.extend_from_slice(&frame(b"third"));
        data.extend_from_slice(&frame(b"fourth"));
        fs::write(&path, &data).unwrap();
        assert_eq!(intact_records_after_damage(&data[damaged_at..]), 2);
        // The node still starts: the file is cut at the damage...
        let f = scan_file(&path, 0, true).unwrap();
        assert_eq!(f.positions.len(), 1);
        assert_eq!(fs::metadata(&path).unwrap().len(), damaged_at as u64);
        // ...and what was cut is kept, byte for byte.
        let kept = dir.path().join(format!("{:020}.log.cut-{damaged_at}", 0));
        assert_eq!(fs::read(&kept).unwrap(), &data[damaged_at..]);
    }

    #[test]
    fn a_torn_tail_has_no_intact_records_after_it() {
        let mut tail = frame(b"torn record");
        tail.truncate(tail.len() - 3);
        assert_eq!(intact_records_after_damage(&tail), 0);
        // Zeros (a filesystem's unwritten blocks) are not records.
        assert_eq!(intact_records_after_damage(&[0u8; 4096]), 0);
    }
}
