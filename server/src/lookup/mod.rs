//! Lookup files (LogScale's "Files": CSV and JSON tables per repository that `match()` and
//! `readFile()` read, <https://library.humio.com/logscale-api/api-lookup.html>). A view holds
//! files of its own too (as in LogScale); a query on a view reads the view's files first, then
//! those of the connected repository each source searches (see [`files_in`]). A file is a
//! Global item of kind `LookupFile`, so every node has every file and a replacement reaches
//! all nodes in log order; the content is stored gzip-compressed (base64 in the item's JSON
//! body) and must fit one Global record. Parsed tables are cached per (repository, file,
//! version), so a query recompiled on every node of a cluster parses a file once per node.
//!
//! The HTTP routes are in `api/files.rs`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use strata_global::{Global, GlobalEvent, Item, ItemKind, Outcome};

use crate::query::lookup::{Files, Table};

/// Largest file accepted for upload (the raw CSV or JSON).
pub const MAX_FILE_BYTES: usize = 16 << 20;
/// Largest compressed content one Global record carries (Kafka's default message size is
/// 1 MB; base64 adds a third).
pub const MAX_STORED_BYTES: usize = 700 << 10;
/// Parsed files kept in memory per node.
const CACHE_FILES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("the file is {size} bytes; lookup files may be at most {max} bytes")]
    TooLarge { size: usize, max: usize },
    #[error(
        "the file compresses to {size} bytes; Global stores lookup files of at most {max} \
         bytes compressed (split it, or drop columns match() does not use)"
    )]
    TooLargeStored { size: usize, max: usize },
    #[error(
        "file name {0:?} must end in .csv or .json and be 1-255 characters without '/' or \
         control characters"
    )]
    BadName(String),
    #[error("{name}: {message}")]
    BadContent { name: String, message: String },
    #[error("no lookup file {name:?} in {repo:?}")]
    NotFound { repo: String, name: String },
    #[error("repository or view {0:?} does not exist")]
    NoRepository(String),
    #[error("the stored file {0:?} is damaged: {1}")]
    Damaged(String, String),
    #[error("the metadata store cannot take the file now: {0}")]
    Unavailable(String),
}

/// What Global holds for one file (the item's body), with LogScale's `File` fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredFile {
    /// `gzip+base64`.
    pub format: String,
    pub data: String,
    pub size_bytes: usize,
    #[serde(default)]
    pub content_hash: String,
    #[serde(default)]
    pub created_by: String,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub modified_by: String,
    #[serde(default)]
    pub modified_at: i64,
}

/// One file as the list API answers it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    pub name: String,
    pub file_size_bytes: usize,
    pub content_hash: String,
    pub created_by: String,
    pub created_at: i64,
    pub modified_by: String,
    pub modified_at: i64,
}

fn info(name: &str, f: &StoredFile) -> FileInfo {
    FileInfo {
        name: name.to_string(),
        file_size_bytes: f.size_bytes,
        content_hash: f.content_hash.clone(),
        created_by: f.created_by.clone(),
        created_at: f.created_at,
        modified_by: f.modified_by.clone(),
        modified_at: f.modified_at,
    }
}

pub fn check_name(name: &str) -> Result<(), LookupError> {
    let lower = name.to_ascii_lowercase();
    if name.is_empty()
        || name.len() > 255
        || !(lower.ends_with(".csv") || lower.ends_with(".json"))
        || name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(LookupError::BadName(name.to_string()));
    }
    Ok(())
}

/// Parses a file by its extension: CSV with a header row, or JSON as an array of flat objects
/// (each object a row; strings as they are, numbers and booleans as their text, `null` as a
/// missing value).
pub fn parse(name: &str, bytes: &[u8]) -> Result<Table, LookupError> {
    let bad = |message: String| LookupError::BadContent {
        name: name.to_string(),
        message,
    };
    if name.to_ascii_lowercase().ends_with(".json") {
        return parse_json(bytes).map_err(bad);
    }
    let mut r = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let columns: Vec<String> = r
        .headers()
        .map_err(|e| bad(format!("the header row cannot be read: {e}")))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(bad("the file has no header row naming its columns".into()));
    }
    let mut rows = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| bad(format!("row {}: {e}", i + 2)))?;
        if rec.len() > columns.len() {
            return Err(bad(format!(
                "row {} has {} values but the header names {} columns",
                i + 2,
                rec.len(),
                columns.len()
            )));
        }
        rows.push(rec.iter().map(|v| Some(v.to_string())).collect());
    }
    Ok(Table { columns, rows })
}

fn parse_json(bytes: &[u8]) -> Result<Table, String> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| format!("not valid JSON: {e}"))?;
    let serde_json::Value::Array(items) = v else {
        return Err("a JSON lookup file is an array of objects, one per row".into());
    };
    let mut columns: Vec<String> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut rows = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let serde_json::Value::Object(obj) = item else {
            return Err(format!("element {i} is not an object"));
        };
        let mut row: Vec<Option<String>> = vec![None; columns.len()];
        for (k, v) in obj {
            let value = match v {
                serde_json::Value::String(s) => Some(s),
                serde_json::Value::Null => None,
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => {
                    return Err(format!(
                        "element {i}: {k:?} holds an object or array; values must be strings, \
                         numbers or booleans"
                    ))
                }
            };
            let c = *index.entry(k.clone()).or_insert_with(|| {
                columns.push(k);
                columns.len() - 1
            });
            if row.len() <= c {
                row.resize(c + 1, None);
            }
            row[c] = value;
        }
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

/// Checks and encodes an upload for Global.
pub fn encode(
    name: &str,
    bytes: &[u8],
    user: &str,
    now_ms: i64,
    created: Option<(&str, i64)>,
) -> Result<StoredFile, LookupError> {
    check_name(name)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(LookupError::TooLarge {
            size: bytes.len(),
            max: MAX_FILE_BYTES,
        });
    }
    parse(name, bytes)?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let compressed = gz
        .write_all(bytes)
        .and_then(|_| gz.finish())
        .map_err(|e| LookupError::Damaged(name.to_string(), e.to_string()))?;
    if compressed.len() > MAX_STORED_BYTES {
        return Err(LookupError::TooLargeStored {
            size: compressed.len(),
            max: MAX_STORED_BYTES,
        });
    }
    let (created_by, created_at) = created.unwrap_or((user, now_ms));
    Ok(StoredFile {
        format: "gzip+base64".into(),
        data: base64::engine::general_purpose::STANDARD.encode(&compressed),
        size_bytes: bytes.len(),
        content_hash: hex::encode(sha2::Sha256::digest(bytes)),
        created_by: created_by.to_string(),
        created_at,
        modified_by: user.to_string(),
        modified_at: now_ms,
    })
}

fn stored(name: &str, item: &Item) -> Result<StoredFile, LookupError> {
    serde_json::from_str(&item.body).map_err(|e| LookupError::Damaged(name.into(), e.to_string()))
}

/// The file's bytes as uploaded.
pub fn content(name: &str, f: &StoredFile) -> Result<Vec<u8>, LookupError> {
    let damaged = |m: String| LookupError::Damaged(name.to_string(), m);
    if f.format != "gzip+base64" {
        return Err(damaged(format!("unknown storage format {:?}", f.format)));
    }
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(&f.data)
        .map_err(|e| damaged(e.to_string()))?;
    let mut out = Vec::with_capacity(f.size_bytes.min(MAX_FILE_BYTES));
    flate2::read::GzDecoder::new(&compressed[..])
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| damaged(e.to_string()))?;
    if out.len() > MAX_FILE_BYTES {
        return Err(damaged("the content is larger than any upload".into()));
    }
    Ok(out)
}

fn item<'a>(s: &'a strata_global::State, repo: &str, name: &str) -> Option<&'a Item> {
    s.domain_items(repo)?.get(&ItemKind::LookupFile)?.get(name)
}

/// The files of `repo`, by name.
pub fn list(global: &Global, repo: &str) -> Result<Vec<FileInfo>, LookupError> {
    global.read(|s| {
        let items = s
            .domain_items(repo)
            .ok_or_else(|| LookupError::NoRepository(repo.to_string()))?;
        items
            .get(&ItemKind::LookupFile)
            .into_iter()
            .flat_map(|m| m.values())
            .map(|i| stored(&i.id, i).map(|f| info(&i.id, &f)))
            .collect()
    })
}

/// The stored file `name` of `repo`, with its version.
pub fn get(global: &Global, repo: &str, name: &str) -> Result<(StoredFile, u64), LookupError> {
    global.read(|s| {
        if s.domain_items(repo).is_none() {
            return Err(LookupError::NoRepository(repo.to_string()));
        }
        let i = item(s, repo, name).ok_or_else(|| LookupError::NotFound {
            repo: repo.to_string(),
            name: name.to_string(),
        })?;
        Ok((stored(name, i)?, i.version))
    })
}

/// Creates or replaces `name` in `repo` (LogScale: an upload of an existing name replaces it).
pub async fn put(
    global: &Global,
    repo: &str,
    name: &str,
    bytes: &[u8],
    user: &str,
) -> Result<FileInfo, LookupError> {
    let now = crate::text::now_ms();
    let existing = match get(global, repo, name) {
        Ok((f, v)) => Some((f, v)),
        Err(LookupError::NotFound { .. }) => None,
        Err(e) => return Err(e),
    };
    let created = existing
        .as_ref()
        .map(|(f, _)| (f.created_by.as_str(), f.created_at));
    let f = encode(name, bytes, user, now, created)?;
    let body = serde_json::to_string(&f).map_err(|e| LookupError::Unavailable(e.to_string()))?;
    let ev = GlobalEvent::PutItem {
        repo: repo.to_string(),
        kind: ItemKind::LookupFile,
        id: name.to_string(),
        name: name.to_string(),
        body,
        expected_version: existing.map(|(_, v)| v),
    };
    publish(global, ev).await?;
    Ok(info(name, &f))
}

pub async fn delete(global: &Global, repo: &str, name: &str) -> Result<(), LookupError> {
    get(global, repo, name)?;
    publish(
        global,
        GlobalEvent::DeleteItem {
            repo: repo.to_string(),
            kind: ItemKind::LookupFile,
            id: name.to_string(),
        },
    )
    .await
}

async fn publish(global: &Global, ev: GlobalEvent) -> Result<(), LookupError> {
    match global.publish(ev).await {
        Ok((_, Outcome::Applied)) => Ok(()),
        // A concurrent change of the same file: the caller may retry.
        Ok((_, Outcome::Rejected(r))) => Err(LookupError::Unavailable(r)),
        Err(e) => Err(LookupError::Unavailable(e.to_string())),
    }
}

type CacheKey = (String, String);

/// Parsed tables by (repository, file), with the Global version they were parsed from.
type Cache = Mutex<HashMap<CacheKey, (u64, Arc<Table>)>>;

fn cache() -> &'static Cache {
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The parsed table of `name` in `repo`, from the cache when Global still holds that version.
pub fn table(global: &Global, repo: &str, name: &str) -> Result<Arc<Table>, LookupError> {
    let (f, version) = get(global, repo, name)?;
    let key = (repo.to_string(), name.to_string());
    if let Ok(c) = cache().lock() {
        if let Some((v, t)) = c.get(&key) {
            if *v == version {
                return Ok(t.clone());
            }
        }
    }
    let t = Arc::new(parse(name, &content(name, &f)?)?);
    if let Ok(mut c) = cache().lock() {
        if c.len() >= CACHE_FILES && !c.contains_key(&key) {
            // Any entry: files are few and a miss only costs a parse.
            if let Some(k) = c.keys().next().cloned() {
                c.remove(&k);
            }
        }
        c.insert(key, (version, t.clone()));
    }
    Ok(t)
}

/// The lookup files a query sees: those of each search domain in turn (a view's, then its
/// connected repository's), the first that has the name winning.
pub struct RepoFiles {
    pub global: Global,
    pub domains: Vec<String>,
}

impl Files for RepoFiles {
    fn get(&self, name: &str) -> Result<Arc<Table>, String> {
        for d in &self.domains {
            match table(&self.global, d, name) {
                Ok(t) => return Ok(t),
                // Absent here: the next domain may have it.
                Err(LookupError::NotFound { .. }) | Err(LookupError::NoRepository(_)) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(format!(
            "no lookup file {name:?} in {}",
            self.domains
                .iter()
                .map(|d| format!("{d:?}"))
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    }
}

/// The file source of queries on `repo` (a repository or a view).
pub fn files(global: &Global, repo: &str) -> Arc<dyn Files> {
    files_in(global, &[repo])
}

/// The file source of a query that runs in `domains`, the first one's files first: a view's
/// source searches its view's files, then its repository's.
pub fn files_in(global: &Global, domains: &[&str]) -> Arc<dyn Files> {
    Arc::new(RepoFiles {
        global: global.clone(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_parse() {
        let t = parse("a.csv", b"ip, name\n10.0.0.1,web\n10.0.0.2\n").unwrap();
        assert_eq!(t.columns, ["ip", "name"]);
        assert_eq!(t.rows[1], vec![Some("10.0.0.2".to_string())]);
        assert!(parse("a.csv", b"a,b\n1,2,3\n").is_err());
        let t = parse(
            "a.json",
            br#"[{"ip":"1.2.3.4","n":5},{"x":true,"ip":null}]"#,
        )
        .unwrap();
        assert_eq!(t.columns, ["ip", "n", "x"]);
        assert_eq!(t.rows[1], vec![None, None, Some("true".to_string())]);
        assert!(parse("a.json", br#"{"ip":"1"}"#).is_err());
        assert!(parse("a.json", br#"[{"ip":{"a":1}}]"#).is_err());
        assert!(check_name("x.txt").is_err());
        assert!(check_name("a/b.csv").is_err());
    }

    #[test]
    fn stored_round_trip_and_limits() {
        let f = encode("h.csv", b"a,b\n1,2\n", "root", 5, None).unwrap();
        assert_eq!(content("h.csv", &f).unwrap(), b"a,b\n1,2\n");
        assert_eq!(f.created_at, 5);
        let big = vec![b'a'; MAX_FILE_BYTES + 1];
        assert!(matches!(
            encode("h.csv", &big, "root", 5, None),
            Err(LookupError::TooLarge { .. })
        ));
    }
}
