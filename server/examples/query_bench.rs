//! Query benchmark: generates N application-log events (deterministic, one rare needle),
//! writes them as merged segments plus a TSV copy for a peer database, then times Strata's
//! engine on the queries (cache warm, median of runs) and a raw `memmem` scan of the
//! same bytes as the in-run baseline. Prints one JSON object per line.
//!
//! `cargo run --release -p strata --example query_bench -- [events] [dir] [runs]`; the
//! script `scripts/bench-query.py` runs this and ClickHouse (chdb) side by side.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use strata::query::{compile, parse, PlanOptions};
use strata::search::{execute, ColumnCache, Progress, SearchRange, SegmentSource};
use strata_segment::datagen::AppLogs;
use strata_segment::{Datasource, SegmentReader, SegmentWriter, WriterOptions};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: i64 = 1_767_225_600_000;
const NEEDLE: &str = "some rare token";
const PER_SEGMENT: usize = 250_000;

fn generate(n: usize, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tsv = std::io::BufWriter::new(std::fs::File::create(dir.join("events.tsv.partial"))?);
    let mut w: Option<SegmentWriter> = None;
    for (i, g) in AppLogs::new(42, START).take(n).enumerate() {
        let mut e = g.into_event(0, i as u64);
        if i == n * 3 / 5 {
            e.raw = e
                .raw
                .replace("\"message\":\"", &format!("\"message\":\"{NEEDLE} "));
        }
        if i % PER_SEGMENT == 0 {
            if let Some(w) = w.take() {
                w.finish().map_err(std::io::Error::other)?;
            }
            let ds = Datasource {
                repo: "bench".into(),
                tags: BTreeMap::new(),
            };
            w = Some(
                SegmentWriter::create(
                    dir.join(format!("seg-{:04}", i / PER_SEGMENT)),
                    ds,
                    WriterOptions::merged(),
                )
                .map_err(std::io::Error::other)?,
            );
        }
        let f = |k: &str| e.fields.get(k).cloned().unwrap_or_default();
        writeln!(
            tsv,
            "{}\t{}\t{}\t{}\t{}\t{}",
            e.timestamp,
            e.raw.replace('\\', "\\\\").replace('\t', "\\t"),
            f("level"),
            f("service"),
            f("host"),
            f("latency_ms")
        )?;
        if let Some(w) = w.as_mut() {
            w.push(e).map_err(std::io::Error::other)?;
        }
    }
    if let Some(w) = w.take() {
        w.finish().map_err(std::io::Error::other)?;
    }
    tsv.flush()?;
    drop(tsv);
    std::fs::rename(dir.join("events.tsv.partial"), dir.join("events.tsv"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000_000);
    let dir = Path::new(args.get(2).map_or("target/query-bench", |s| s.as_str())).to_path_buf();
    let runs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);
    if !dir.join("events.tsv").exists() {
        let t = Instant::now();
        generate(n, &dir).expect("generate the data set");
        eprintln!("generated {n} events in {:.1} s", t.elapsed().as_secs_f64());
    }
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().is_some_and(|f| {
                f.to_string_lossy().starts_with("seg-") && !f.to_string_lossy().ends_with("partial")
            })
        })
        .collect();
    paths.sort();
    paths.reverse();
    let segments: Vec<SegmentSource> = paths
        .iter()
        .map(|p| {
            (
                Arc::new(SegmentReader::open(p).unwrap()),
                Arc::new(BTreeMap::new()),
            )
        })
        .collect();
    let raw_bytes: u64 = segments
        .iter()
        .flat_map(|s| s.0.blocks().iter().map(|b| b.raw_bytes))
        .sum();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());

    // Baseline: memmem over the decoded raw columns (decode not timed), one core.
    let mut raws = Vec::new();
    for (r, _) in &segments {
        for b in 0..r.blocks().len() {
            raws.push(r.raw_column(b).unwrap());
        }
    }
    let finder = memchr::memmem::Finder::new(b"timeout");
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let mut hits = 0usize;
        for c in &raws {
            hits += finder.find_iter(c.data.as_bytes()).count();
        }
        std::hint::black_box(hits);
        times.push(t.elapsed().as_secs_f64());
    }
    let base = median(times);
    println!(
        "{}",
        serde_json::json!({"name": "baseline_memmem_1core", "ms": base * 1e3, "gb_per_s": raw_bytes as f64 / base / 1e9, "raw_bytes": raw_bytes})
    );
    drop(raws);

    let queries = [
        ("needle", format!("\"{NEEDLE}\" | head(100)")),
        ("timeout_count", "timeout | count()".to_string()),
        (
            "error_groupby_service",
            "level=ERROR | groupBy(service)".to_string(),
        ),
        (
            "groupby_host_avg",
            "groupBy(host, function=avg(latency_ms))".to_string(),
        ),
        ("timechart_1h", "timeChart(span=1h)".to_string()),
    ];
    let range = SearchRange {
        start: START - 1,
        end: START + 86_400_000,
    };
    let only = std::env::var("QUERY_BENCH_ONLY").ok();
    // Cold: every block decompressed per run (OS page cache warm). Cached: the node's
    // decoded-column cache holds the data set (warmed by the first, untimed run).
    let cache = ColumnCache::new(4 << 30);
    for (name, q) in &queries {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        for (t, cached) in [(1, false), (threads, false), (1, true), (threads, true)] {
            let plan = compile(
                &parse(q).unwrap(),
                PlanOptions {
                    start: range.start,
                    end: range.end,
                    default_limit: 200,
                    zone: strata::query::Zone::UTC,
                },
            )
            .unwrap();
            let mut times = Vec::new();
            let mut rows = 0;
            for i in 0..=runs {
                let p = Progress::default();
                let s = Instant::now();
                let c = cached.then_some(&cache);
                let r = execute(&plan, "bench", range, &p, &[], &segments, t, c).unwrap();
                if i > 0 {
                    times.push(s.elapsed().as_secs_f64());
                }
                rows = r.rows.len();
            }
            let m = median(times);
            println!(
                "{}",
                serde_json::json!({"name": name, "query": q, "threads": t, "cached": cached, "ms": m * 1e3, "rows": rows, "gb_per_s": raw_bytes as f64 / m / 1e9, "per_core_gb_per_s": raw_bytes as f64 / m / 1e9 / t as f64})
            );
        }
    }
}
