//! Golden tests of the query language: every `tests/golden/cases/*.txt` file holds a query and
//! the rows it must return over the data set `tests/golden/events.txt` (JSON lines with
//! `#type=app`, key=value lines with `#type=kv`). Adding a case is adding a file:
//!
//! ```text
//! # what the case shows
//! query: level=ERROR | groupBy(service)
//! fields: service, _count        (optional: project each row onto these fields)
//! arguments: {"svc": "api"}      (optional: values for ?parameters)
//! ---
//! {"service":"api","_count":"3"}
//! ```
//!
//! A case expecting an error has `error: <message> at position <n>` after `---`. Lookup files
//! that `match()` and `readFile()` name are read from `tests/golden/files/`, parsed as an
//! upload is.
//! `STRATA_BLESS=1 cargo test --test golden` rewrites the expectations (review the diff!).
//!
//! Each query runs twice: over segment files (two thirds of each datasource, small blocks,
//! Bloom filters, two threads) plus work in progress (the rest), and over in-memory events
//! only. Both runs must agree, which pins the column-wise path to the row-wise one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata::query::lookup::{Files, Table};
use strata::query::{compile_with, parse_with, PlanOptions};
use strata::search::{execute, Progress, SearchRange, SearchResult, WipSnapshot};
use strata_segment::{
    Codec, Datasource, Event, EventId, SegmentReader, SegmentWriter, WriterOptions,
};

const REPO: &str = "golden";
/// 2026-01-01T00:00:00Z and one day later: the data set's range.
const START: i64 = 1_767_225_600_000;
const END: i64 = START + 86_400_000;

type Segments = Vec<(Arc<SegmentReader>, Arc<BTreeMap<String, String>>)>;

struct Data {
    segments: Segments,
    wip: Vec<WipSnapshot>,
    all: Vec<WipSnapshot>,
    _dir: tempfile::TempDir,
}

fn load() -> Data {
    let text = std::fs::read_to_string(golden_dir().join("events.txt")).unwrap();
    let mut by_tags: BTreeMap<BTreeMap<String, String>, Vec<Event>> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let (parser, ty) = if line.starts_with('{') {
            ("json", "app")
        } else {
            ("kv", "kv")
        };
        let p = strata::ingest::parsers::parse(parser, line).unwrap();
        let (ts, nanos) = p.timestamp.expect("every golden event has a timestamp");
        let tags: BTreeMap<String, String> = [("type".to_string(), ty.to_string())].into();
        by_tags.entry(tags).or_default().push(Event {
            timestamp: ts,
            timestamp_nanos: nanos,
            ingest_timestamp: ts + 1000,
            id: EventId {
                partition: 0,
                offset: i as u64,
                index: 0,
            },
            raw: line.to_string(),
            fields: p.fields,
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let mut segments = Vec::new();
    let mut wip = Vec::new();
    let mut all = Vec::new();
    for (n, (tags, mut events)) in by_tags.into_iter().enumerate() {
        events.sort_by_key(Event::sort_key);
        let cut = events.len() * 2 / 3;
        let path = dir.path().join(format!("seg{n}"));
        let mut w = SegmentWriter::create(
            &path,
            Datasource {
                repo: REPO.into(),
                tags: tags.clone(),
            },
            WriterOptions {
                codec: Codec::Lz4,
                block_bytes: 1024,
                max_block_events: 4,
                build_filters: true,
                composite_fields: true,
            },
        )
        .unwrap();
        for e in &events[..cut] {
            w.push(e.clone()).unwrap();
        }
        w.finish().unwrap();
        let tags = Arc::new(tags);
        segments.push((Arc::new(SegmentReader::open(&path).unwrap()), tags.clone()));
        wip.push((tags.clone(), vec![Arc::new(events[cut..].to_vec())]));
        all.push((tags, vec![Arc::new(events)]));
    }
    Data {
        segments,
        wip,
        all,
        _dir: dir,
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

struct Case {
    query: String,
    fields: Option<Vec<String>>,
    arguments: HashMap<String, String>,
    header: String,
    expected: String,
}

fn read_case(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let (header, expected) = text
        .split_once("\n---\n")
        .map(|(h, e)| (h.to_string(), e.to_string()))
        .unwrap_or_else(|| (text.trim_end().to_string(), String::new()));
    let mut query = Vec::new();
    let mut fields = None;
    let mut arguments = HashMap::new();
    for line in header.lines() {
        if let Some(q) = line.strip_prefix("query:") {
            query.push(q.trim().to_string());
        } else if let Some(f) = line.strip_prefix("fields:") {
            fields = Some(f.split(',').map(|s| s.trim().to_string()).collect());
        } else if let Some(a) = line.strip_prefix("arguments:") {
            arguments = serde_json::from_str(a.trim()).expect("arguments: must be a JSON object");
        }
    }
    assert!(!query.is_empty(), "{} has no query: line", path.display());
    Case {
        query: query.join("\n"),
        fields,
        arguments,
        header,
        expected,
    }
}

fn render(r: &SearchResult, fields: &Option<Vec<String>>) -> String {
    let mut out = String::new();
    for row in &r.rows {
        let mut m = serde_json::Map::new();
        let j = row.to_json();
        match fields {
            Some(fs) => {
                for f in fs {
                    if let Some(v) = j.get(f) {
                        m.insert(f.clone(), v.clone());
                    }
                }
            }
            None if r.is_aggregate => m = j,
            None => {
                for f in ["@timestamp", "@rawstring"] {
                    if let Some(v) = j.get(f) {
                        m.insert(f.to_string(), v.clone());
                    }
                }
            }
        }
        out.push_str(&serde_json::Value::Object(m).to_string());
        out.push('\n');
    }
    for w in &r.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    out
}

/// The lookup files of the golden cases: `tests/golden/files/NAME`.
struct GoldenFiles;

impl Files for GoldenFiles {
    fn get(&self, name: &str) -> Result<Arc<Table>, String> {
        strata::lookup::check_name(name).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(golden_dir().join("files").join(name))
            .map_err(|_| format!("no lookup file {name:?} in repository {REPO:?}"))?;
        strata::lookup::parse(name, &bytes)
            .map(Arc::new)
            .map_err(|e| e.to_string())
    }
}

fn run(data: &Data, case: &Case, in_memory: bool) -> String {
    let q = match parse_with(&case.query, &case.arguments) {
        Ok(q) => q,
        Err(e) => return format!("error: {e}\n"),
    };
    let opts = PlanOptions {
        start: START,
        end: END,
        default_limit: 200,
        zone: strata::query::Zone::UTC,
    };
    let plan = match compile_with(&q, opts, Arc::new(GoldenFiles)) {
        Ok(p) => p,
        Err(e) => return format!("error: {e}\n"),
    };
    let range = SearchRange {
        start: START,
        end: END,
    };
    let progress = Progress::default();
    let r = if in_memory {
        execute(&plan, REPO, range, &progress, &data.all, &[], 1, None)
    } else {
        execute(
            &plan,
            REPO,
            range,
            &progress,
            &data.wip,
            &data.segments,
            2,
            None,
        )
    };
    match r {
        Ok(r) => render(&r, &case.fields),
        Err(e) => format!("error: {e}\n"),
    }
}

#[test]
fn golden_cases() {
    let data = load();
    let bless = std::env::var("STRATA_BLESS").is_ok();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(golden_dir().join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 50, "the golden suite lost cases");
    let mut failures = Vec::new();
    for path in &paths {
        let case = read_case(path);
        let got = run(&data, &case, false);
        let mem = run(&data, &case, true);
        if got != mem {
            failures.push(format!(
                "{}: segment and in-memory runs disagree\n-- segments:\n{got}-- in memory:\n{mem}",
                path.display()
            ));
            continue;
        }
        if bless {
            std::fs::write(path, format!("{}\n---\n{got}", case.header.trim_end())).unwrap();
        } else if got != case.expected {
            failures.push(format!(
                "{}: query {:?}\n-- expected:\n{}-- got:\n{got}",
                path.display(),
                case.query,
                case.expected
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n\n")
    );
}
