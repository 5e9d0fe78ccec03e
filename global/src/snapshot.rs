//! Local snapshots of Global: `global-snapshot.json` in the data dir holds the state, the log
//! offset it covers and a crc32 over both (the state as its exact JSON bytes). Written atomically (temp
//! file, fsync, rename, fsync the directory); the previous snapshot is kept as
//! `global-snapshot.prev.json` so a damaged newest file falls back to an older one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{GlobalError, Result};
use crate::state::State;

pub const SNAPSHOT_FILE: &str = "global-snapshot.json";
pub const PREVIOUS_SNAPSHOT_FILE: &str = "global-snapshot.prev.json";
const SNAPSHOT_FORMAT: u32 = 1;

/// A state together with the first log offset it does not include.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    pub next_offset: u64,
    pub state: State,
}

/// Encodes a snapshot as the bytes of the file:
/// `{"format":1,"next_offset":N,"crc32":C,"state":{...}}`, the state last so a reader can
/// checksum and parse it in place without a second pass.
pub fn encode(snap: &Snapshot) -> Result<Vec<u8>> {
    let state = serde_json::to_vec(&snap.state).map_err(|e| GlobalError::Snapshot {
        path: "-".into(),
        reason: format!("cannot serialise state: {e}"),
    })?;
    let crc = checksum(snap.next_offset, &state);
    let mut out = format!(
        "{{\"format\":{SNAPSHOT_FORMAT},\"next_offset\":{},\"crc32\":{crc},\"state\":",
        snap.next_offset
    )
    .into_bytes();
    out.reserve(state.len() + 2);
    out.extend_from_slice(&state);
    out.extend_from_slice(b"}\n");
    Ok(out)
}

/// Decodes and verifies snapshot bytes; `path` names the source in errors.
pub fn decode(path: &str, bytes: &[u8]) -> Result<Snapshot> {
    let err = |reason: String| GlobalError::Snapshot {
        path: path.to_string(),
        reason,
    };
    const STATE_KEY: &[u8] = b",\"state\":";
    let head_end = memfind(bytes, STATE_KEY)
        .filter(|&i| i < 200)
        .ok_or_else(|| err("not a snapshot: no state member near the start".into()))?;
    let mut head = bytes[..head_end].to_vec();
    head.push(b'}');
    let h: Header = serde_json::from_slice(&head).map_err(|e| err(format!("bad header: {e}")))?;
    if h.format != SNAPSHOT_FORMAT {
        return Err(err(format!("unknown snapshot format {}", h.format)));
    }
    let body = &bytes[head_end + STATE_KEY.len()..];
    let body = body.strip_suffix(b"\n").unwrap_or(body);
    let state = body
        .strip_suffix(b"}")
        .ok_or_else(|| err("truncated: no closing brace".into()))?;
    if checksum(h.next_offset, state) != h.crc32 {
        return Err(err("checksum mismatch".into()));
    }
    let state: State = serde_json::from_slice(state).map_err(|e| err(format!("bad state: {e}")))?;
    Ok(Snapshot {
        next_offset: h.next_offset,
        state,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    format: u32,
    next_offset: u64,
    crc32: u32,
}

/// crc32 over the offset (little-endian) and the state's exact JSON bytes, so neither can
/// change without detection.
fn checksum(next_offset: u64, state_json: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&next_offset.to_le_bytes());
    h.update(state_json);
    h.finalize()
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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
