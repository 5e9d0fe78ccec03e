//! Bucket benchmark: upload throughput of segment files (each upload verified by reading it
//! back, as the uploader does) and the cost of a cold query over segments evicted to the
//! bucket, against the time to merely download them, using the node's real `Searcher`.
//!
//! `scripts/bench-bucket.sh` starts a local S3 server (moto) and runs
//! `cargo run --release -p strata --example bucket_bench -- <s3 endpoint> <bucket> <segments dir>`
//! over the query benchmark's segments (`target/query-bench`, created by bench-query.py).
//! The figure to read is `penalty_over_download` = (cold − local) / download, medians of 7 runs:
//! what a cold query pays beyond the same query over local files, in units of the download.

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use strata::bucket::Bucket;
use strata::digest::WipRegistry;
use strata::merge::NewSegment;
use strata::query::{compile, parse, PlanOptions};
use strata::search::{Progress, SearchRange, Searcher};
use strata::store::SegmentStore;
use strata_global::{Global, GlobalEvent, MemoryLog, Snapshot};
use strata_segment::SegmentReader;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args
        .get(1)
        .expect("usage: bucket_bench <endpoint> <bucket> <segments dir>");
    let bucket_name = args.get(2).map_or("bench", |s| s.as_str());
    let src = std::path::PathBuf::from(args.get(3).map_or("target/query-bench", |s| s.as_str()));
    let bucket = Bucket::open(&format!("s3://{bucket_name}/bench"), Some(endpoint)).unwrap();

    let mut files: Vec<_> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|f| f.to_string_lossy().starts_with("seg-"))
        })
        .collect();
    files.sort();
    let total: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();

    // Upload, one at a time and 4 in parallel (each put is read back and checked).
    for par in [1usize, 4] {
        let t = Instant::now();
        futures::stream::iter(files.iter().enumerate())
            .map(|(i, f)| {
                let b = bucket.clone();
                async move { b.put_file(&format!("up{par}/{i}"), f).await.unwrap() }
            })
            .buffer_unordered(par)
            .collect::<Vec<_>>()
            .await;
        let s = t.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({"name": "upload_verified", "parallel": par, "mb": total as f64 / 1e6, "seconds": s, "mb_per_s": total as f64 / 1e6 / s})
        );
    }

    // Global knows the segments as uploaded; the local segment dir is empty (all evicted).
    let global = Global::start(Arc::new(MemoryLog::new()), Snapshot::default());
    let work = tempfile::tempdir().unwrap();
    let segdir = work.path().join("segments");
    std::fs::create_dir_all(&segdir).unwrap();
    global
        .publish(GlobalEvent::CreateRepository {
            name: "bench".into(),
            description: String::new(),
        })
        .await
        .unwrap();
    let mut infos = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let r = SegmentReader::open(f).unwrap();
        let bytes = std::fs::read(f).unwrap();
        let id = format!("bench-{i}");
        let key = Bucket::segment_key(&id);
        bucket
            .put_verified(&key, bytes.clone().into())
            .await
            .unwrap();
        let m = r.meta();
        let summary = strata_segment::SegmentSummary {
            path: f.clone(),
            event_count: r.blocks().iter().map(|b| u64::from(b.count)).sum(),
            min_ts: r.blocks().first().map_or(0, |b| b.min_ts),
            max_ts: r.blocks().last().map_or(0, |b| b.max_ts),
            raw_bytes: r.blocks().iter().map(|b| b.raw_bytes).sum(),
            file_bytes: bytes.len() as u64,
            file_crc: crc32fast::hash(&bytes),
            offsets: Vec::new(),
            codec: strata_segment::Codec::Zstd { level: 9 },
        };
        let info = NewSegment {
            id: id.clone(),
            repo: "bench".into(),
            tags: m.datasource.tags.clone(),
            partition: 0,
            first_offset: i as u64,
            last_offset: i as u64,
            node: 1,
            merged: true,
            merge_target: None,
        }
        .info(&summary);
        global
            .publish(GlobalEvent::AddSegment {
                segment: info.clone(),
                safe_offset: None,
            })
            .await
            .unwrap();
        global
            .publish(GlobalEvent::SetSegmentInBucket { id, key })
            .await
            .unwrap();
        infos.push(info);
    }

    // Download only (what a cold query cannot avoid), 4 in parallel as the searcher does.
    // Every figure is the median of RUNS runs: single runs of a few tens of ms vary 3x here.
    const RUNS: usize = 7;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut downloads = Vec::new();
    for _ in 0..RUNS {
        let _ = std::fs::remove_dir_all(work.path().join("dl"));
        let t = Instant::now();
        futures::stream::iter(infos.iter())
            .map(|s| {
                let b = bucket.clone();
                let dest = work.path().join("dl").join(&s.id);
                async move {
                    b.get_file(&Bucket::segment_key(&s.id), &dest, s.file_bytes, s.file_crc)
                        .await
                        .unwrap()
                }
            })
            .buffer_unordered(4)
            .collect::<Vec<_>>()
            .await;
        downloads.push(t.elapsed().as_secs_f64());
    }
    let download = median(downloads);
    println!(
        "{}",
        serde_json::json!({"name": "download_only", "seconds": download, "mb_per_s": total as f64 / 1e6 / download})
    );

    let queries = [
        "timeout | count()",
        "groupBy(host, function=avg(latency_ms))",
    ];
    for q in queries {
        let range = SearchRange {
            start: 0,
            end: i64::MAX / 2,
        };
        let plan = Arc::new(
            compile(
                &parse(q).unwrap(),
                PlanOptions {
                    start: range.start,
                    end: range.end,
                    default_limit: 200,
                    zone: strata::query::Zone::UTC,
                },
            )
            .unwrap(),
        );
        let (mut colds, mut locals) = (Vec::new(), Vec::new());
        let mut rows = Vec::new();
        for _ in 0..RUNS {
            // Cold: nothing local, no column cache.
            for info in &infos {
                let _ = std::fs::remove_file(segdir.join(format!("{}.seg", info.id)));
            }
            let searcher = Arc::new(Searcher::new(
                global.clone(),
                Arc::new(WipRegistry::new(0)),
                Arc::new(SegmentStore::open(&segdir).unwrap()),
                0,
                Some(bucket.clone()),
            ));
            let t = Instant::now();
            let r = searcher
                .search("bench", plan.clone(), range, Arc::new(Progress::default()))
                .await
                .unwrap();
            colds.push(t.elapsed().as_secs_f64());
            // Local disk: the same query with every file local (no column cache either).
            let t = Instant::now();
            let r2 = searcher
                .search("bench", plan.clone(), range, Arc::new(Progress::default()))
                .await
                .unwrap();
            locals.push(t.elapsed().as_secs_f64());
            assert_eq!(r.rows, r2.rows);
            assert!(!r.rows.is_empty());
            rows = r.rows;
        }
        let (cold, local) = (median(colds), median(locals));
        println!(
            "{}",
            serde_json::json!({"name": "cold_query", "query": q, "rows": rows.len(), "first": rows[0].to_json(), "cold_seconds": cold, "local_seconds": local,
                "download_seconds": download, "penalty_over_download": (cold - local) / download, "cold_over_download": cold / download})
        );
    }
}
