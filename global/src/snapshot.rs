//! Local snapshots of Global: `global-snapshot.json` in the data dir. Written atomically (temp
//! file, fsync, rename, fsync the directory); the previous snapshot is kept as
//! `global-snapshot.prev.json` so a damaged newest file falls back to an older one.
//!
//! Layout: one header line `{"format":1,"next_offset":N,"crc32":C,"parts":[L0,L1,…]}`, then
//! `L0` bytes of the state's JSON (everything but segments), then each further part: `Li` bytes
//! of a JSON array of segments, sorted by id across parts. The crc32 covers the offset and
//! every byte after the header line. Segment parts parse on all cores: a snapshot of millions
//! of segments is mostly segments.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{GlobalError, Result};
use crate::event::SegmentInfo;
use crate::state::{datasource_key, State};

pub const SNAPSHOT_FILE: &str = "global-snapshot.json";
pub const PREVIOUS_SNAPSHOT_FILE: &str = "global-snapshot.prev.json";
const SNAPSHOT_FORMAT: u32 = 1;
/// Segments per part: enough parts to keep every core busy on large snapshots.
const SEGMENTS_PER_PART: usize = 50_000;

/// A state together with the first log offset it does not include.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub next_offset: u64,
    pub state: State,
}

fn ser_err(e: serde_json::Error) -> GlobalError {
    GlobalError::Snapshot {
        path: "-".into(),
        reason: format!("cannot serialise state: {e}"),
    }
}

/// Encodes a snapshot as the bytes of the file.
pub fn encode(snap: &Snapshot) -> Result<Vec<u8>> {
    let mut body = serde_json::to_vec(&snap.state).map_err(ser_err)?;
    let mut parts = vec![body.len()];
    let mut segs: Vec<&SegmentInfo> = snap.state.segments.values().collect();
    segs.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    for chunk in segs.chunks(SEGMENTS_PER_PART) {
        let before = body.len();
        serde_json::to_writer(&mut body, chunk).map_err(ser_err)?;
        parts.push(body.len() - before);
    }
    let crc = checksum(snap.next_offset, &body);
    let header = serde_json::json!({
        "format": SNAPSHOT_FORMAT,
        "next_offset": snap.next_offset,
        "crc32": crc,
        "parts": parts,
    });
    let mut out = serde_json::to_vec(&header).map_err(ser_err)?;
    out.push(b'\n');
    out.extend_from_slice(&body);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: u32,
    next_offset: u64,
    crc32: u32,
    parts: Vec<usize>,
}

/// Decodes and verifies snapshot bytes; `path` names the source in errors.
pub fn decode(path: &str, bytes: &[u8]) -> Result<Snapshot> {
    let err = |reason: String| GlobalError::Snapshot {
        path: path.to_string(),
        reason,
    };
    let nl = bytes
        .iter()
        .take(1 << 20)
        .position(|&b| b == b'\n')
        .ok_or_else(|| err("not a snapshot: no header line".into()))?;
    let h: Header =
        serde_json::from_slice(&bytes[..nl]).map_err(|e| err(format!("bad header: {e}")))?;
    if h.format != SNAPSHOT_FORMAT {
        return Err(err(format!("unknown snapshot format {}", h.format)));
    }
    let body = &bytes[nl + 1..];
    let total = h.parts.iter().try_fold(0usize, |a, l| a.checked_add(*l));
    if h.parts.is_empty() || total != Some(body.len()) {
        return Err(err(format!(
            "parts add up to {total:?} bytes, the file holds {}",
            body.len()
        )));
    }
    if checksum(h.next_offset, body) != h.crc32 {
        return Err(err("checksum mismatch".into()));
    }
    let mut slices = Vec::with_capacity(h.parts.len());
    let mut at = 0;
    for l in &h.parts {
        slices.push(&body[at..at + l]);
        at += l;
    }
    let mut state: State =
        serde_json::from_slice(slices[0]).map_err(|e| err(format!("bad state: {e}")))?;
    let seg_parts = &slices[1..];
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(seg_parts.len().max(1));
    let datasources = &state.datasources;
    let parsed: Vec<std::result::Result<Vec<SegmentInfo>, String>> = std::thread::scope(|scope| {
        let per = seg_parts.len().div_ceil(threads.max(1)).max(1);
        let handles: Vec<_> = seg_parts
            .chunks(per)
            .map(|group| {
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for p in group {
                        let v: Vec<SegmentInfo> =
                            serde_json::from_slice(p).map_err(|e| format!("bad segments: {e}"))?;
                        out.extend(v);
                    }
                    // Share each datasource's tags, as `apply` does.
                    for s in &mut out {
                        if let Some(ds) = datasources.get(&datasource_key(&s.repo, &s.tags)) {
                            s.tags = ds.tags.clone();
                        }
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("segment parser panicked".into()))
            })
            .collect()
    });
    let mut all = Vec::new();
    for p in parsed {
        all.push(p.map_err(err)?);
    }
    state.segments.reserve(all.iter().map(Vec::len).sum());
    for group in all {
        for s in group {
            if let Some(dup) = state.segments.insert(s) {
                return Err(err(format!("segment {:?} appears twice", dup.id)));
            }
        }
    }
    Ok(Snapshot {
        next_offset: h.next_offset,
        state,
    })
}

/// crc32 over the offset (little-endian) and the state's exact JSON bytes, so neither can
/// change without detection.
fn checksum(next_offset: u64, state_json: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&next_offset.to_le_bytes());
    h.update(state_json);
    h.finalize()
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> GlobalError + '_ {
    move |source| GlobalError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `snap` as the newest snapshot in `dir`, keeping the previous one.
pub fn write(dir: &Path, snap: &Snapshot) -> Result<()> {
    let bytes = encode(snap)?;
    write_bytes(dir, &bytes)
}

/// Writes already-encoded snapshot bytes atomically into `dir`.
pub fn write_bytes(dir: &Path, bytes: &[u8]) -> Result<()> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join("global-snapshot.json.tmp");
    let cur = dir.join(SNAPSHOT_FILE);
    let prev = dir.join(PREVIOUS_SNAPSHOT_FILE);
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    if cur.exists() {
        fs::rename(&cur, &prev).map_err(io(&prev))?;
    }
    fs::rename(&tmp, &cur).map_err(io(&cur))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

/// Loads the newest valid snapshot in `dir`: the current file, else the previous one.
/// Returns `None` when neither is usable; problems are returned as warnings to log.
pub fn load(dir: &Path) -> (Option<Snapshot>, Vec<GlobalError>) {
    let mut warnings = Vec::new();
    for name in [SNAPSHOT_FILE, PREVIOUS_SNAPSHOT_FILE] {
        let path: PathBuf = dir.join(name);
        match fs::read(&path) {
            Ok(bytes) => match decode(&path.display().to_string(), &bytes) {
                Ok(s) => return (Some(s), warnings),
                Err(e) => warnings.push(e),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => warnings.push(GlobalError::Io {
                path: path.display().to_string(),
                source: e,
            }),
        }
    }
    (None, warnings)
}
