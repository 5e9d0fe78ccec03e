//! Segment benchmarks on a deterministic generated data set (JSON application logs and
//! combined access logs): write throughput, compression ratio per codec, substring-scan and
//! field-scan throughput, and the block-skip rate for a rare term. Every figure is printed
//! next to a baseline measured in the same run on the same bytes (raw lz4_flex / zstd and raw
//! `memmem`), because absolute numbers on a shared 2-core machine are noise.
//!
//! Run with: `cargo bench -p strata-segment --bench segment`
//! (`STRATA_BENCH_MB=400` for a larger data set; default 200 MB of raw events.)

// The server binary uses mimalloc; measure with the allocator it runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use memchr::memmem;
use strata_segment::datagen::{AccessLogs, AppLogs, GenEvent};
use strata_segment::scan::{equal_rows, SubstringMatcher};
use strata_segment::*;

const NEEDLE: &str = "some rare token";

/// Events up to `mb` of raw text; the needle is appended to the one event at `needle_at`.
fn to_events(
    gen: impl Iterator<Item = GenEvent>,
    mb: usize,
    needle_at: Option<usize>,
) -> Vec<Event> {
    let mut out = Vec::new();
    let mut bytes = 0;
    for (i, g) in gen.enumerate() {
        if bytes >= mb << 20 {
            break;
        }
        bytes += g.raw.len() + 1;
        let mut raw = g.raw;
        if needle_at == Some(i) {
            raw.push_str(" some rare token");
        }
        out.push(Event {
            timestamp: g.timestamp,
            timestamp_nanos: 0,
            ingest_timestamp: g.timestamp + 3,
            id: EventId {
                partition: 0,
                offset: i as u64,
                index: 0,
            },
            raw,
            fields: g.fields,
        });
    }
    out
}

fn write_segment(path: &std::path::Path, events: &[Event], opts: WriterOptions) -> SegmentSummary {
    let mut w = SegmentWriter::create(
        path,
        Datasource {
            repo: "bench".into(),
            ..Default::default()
        },
        opts,
    )
    .unwrap();
    for e in events {
        w.push(e.clone()).unwrap();
    }
    w.finish().unwrap()
}

/// Best of `n` timings of `f`, in seconds.
fn best<T>(n: usize, mut f: impl FnMut() -> T) -> f64 {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn report(name: &str, events: &[Event], dir: &std::path::Path) {
    let raw: Vec<u8> = events
        .iter()
        .flat_map(|e| e.raw.bytes().chain(std::iter::once(b'\n')))
        .collect();
    let raw_mb = raw.len() as f64 / 1e6;
    println!("\n== {name}: {} events, {raw_mb:.0} MB raw", events.len());
    let t = Instant::now();
    let mini = write_segment(
        &dir.join(format!("{name}.mini")),
        events,
        WriterOptions::mini(),
    );
    let mini_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let merged = write_segment(
        &dir.join(format!("{name}.merged")),
        events,
        WriterOptions::merged(),
    );
    let merged_s = t.elapsed().as_secs_f64();
    // Baselines: the codecs alone over the same bytes in 1 MiB chunks.
    let t = Instant::now();
    let lz: usize = raw
        .chunks(1 << 20)
        .map(|c| lz4_flex::block::compress(c).len())
        .sum();
    let lz_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let zs: usize = raw
        .chunks(1 << 20)
        .map(|c| zstd::bulk::compress(c, 9).unwrap().len())
        .sum();
    let zs_s = t.elapsed().as_secs_f64();
    println!(
        "compression ratio (raw bytes / file bytes): mini lz4 {:.1}x (raw lz4_flex {:.1}x), merged zstd-9 {:.1}x (raw zstd-9 {:.1}x)",
        raw.len() as f64 / mini.file_bytes as f64,
        raw.len() as f64 / lz as f64,
        raw.len() as f64 / merged.file_bytes as f64,
        raw.len() as f64 / zs as f64
    );
    println!(
        "write throughput: mini {:.0} MB/s ({:.2}x of raw lz4_flex compress {:.0} MB/s), merged {:.0} MB/s ({:.2}x of raw zstd-9 {:.0} MB/s)",
        raw_mb / mini_s, (raw_mb / mini_s) / (raw_mb / lz_s), raw_mb / lz_s,
        raw_mb / merged_s, (raw_mb / merged_s) / (raw_mb / zs_s), raw_mb / zs_s
    );

    let r = SegmentReader::open(&merged.path).unwrap();
    let cols: Vec<StrColumn> = (0..r.blocks().len())
        .map(|b| r.raw_column(b).unwrap())
        .collect();
    let col_bytes: usize = cols.iter().map(|c| c.data.len()).sum();
    let finder = memmem::Finder::new("zzzneverzzz");
    let base = best(5, || finder.find_iter(&raw).count());
    let mut m = SubstringMatcher::new("zzzneverzzz", false);
    let warm = best(5, || {
        let mut rows = Vec::new();
        for c in &cols {
            m.matching_rows(c, &mut rows);
        }
        rows.len()
    });
    let mut mi = SubstringMatcher::new("ZZZneverZZZ", true);
    let warm_ci = best(3, || {
        let mut rows = Vec::new();
        for c in &cols {
            mi.matching_rows(c, &mut rows);
        }
        rows.len()
    });
    let with_zstd = best(3, || {
        let mut rows = Vec::new();
        for b in 0..r.blocks().len() {
            m.matching_rows(&r.raw_column(b).unwrap(), &mut rows);
        }
        rows.len()
    });
    let gb = col_bytes as f64 / 1e9;
    println!(
        "substring scan (decoded blocks, cache warm): {:.2} GB/s case-sensitive ({:.2}x of raw memmem {:.2} GB/s), {:.2} GB/s ASCII-case-insensitive; including zstd decompression {:.2} GB/s",
        gb / warm, base / warm, raw.len() as f64 / 1e9 / base, gb / warm_ci, gb / with_zstd
    );
    let rm = SegmentReader::open(&mini.path).unwrap();
    let with_lz4 = best(3, || {
        let mut rows = Vec::new();
        for b in 0..rm.blocks().len() {
            m.matching_rows(&rm.raw_column(b).unwrap(), &mut rows);
        }
        rows.len()
    });
    println!(
        "substring scan including lz4 decompression (mini segment): {:.2} GB/s",
        gb / with_lz4
    );

    let field = if name == "app" {
        ("level", "ERROR")
    } else {
        ("statuscode", "500")
    };
    let fcols: Vec<StrColumn> = (0..r.blocks().len())
        .filter_map(|b| r.field_column(b, field.0).unwrap())
        .collect();
    let fbytes: usize = fcols.iter().map(|c| c.data.len()).sum();
    let events_n = events.len() as f64;
    let fscan = best(5, || {
        let mut rows = Vec::new();
        for c in &fcols {
            equal_rows(c, field.1, &mut rows);
        }
        rows.len()
    });
    let fscan_cold = best(3, || {
        let mut rows = Vec::new();
        for b in 0..r.blocks().len() {
            if let Some(c) = r.field_column(b, field.0).unwrap() {
                equal_rows(&c, field.1, &mut rows);
            }
        }
        rows.len()
    });
    println!(
        "field scan {}={}: {:.0} M events/s decoded ({:.2} GB/s of column), {:.0} M events/s including zstd decompression; raw-equivalent {:.2} GB/s",
        field.0, field.1, events_n / fscan / 1e6, fbytes as f64 / 1e9 / fscan, events_n / fscan_cold / 1e6,
        raw.len() as f64 / 1e9 / fscan_cold
    );

    let q = FilterQuery::for_substring(NEEDLE);
    let blocks_with = (0..r.blocks().len())
        .filter(|&b| cols[b].data.contains(NEEDLE))
        .count();
    let read = r.candidate_blocks(i64::MIN, i64::MAX, &q).len();
    let total = r.blocks().len();
    let filter_bytes: usize = r.blocks().iter().map(|b| b.filter.encoded_len()).sum();
    // Absent rare terms: every block they make us read is a false positive.
    let absent: Vec<String> = (0..50).map(|i| format!("zq{i}x{}", i * 7919)).collect();
    let fp_reads: usize = absent
        .iter()
        .map(|t| {
            r.candidate_blocks(i64::MIN, i64::MAX, &FilterQuery::for_substring(t))
                .len()
        })
        .sum();
    println!(
        "block skipping for {NEEDLE:?}: term in {blocks_with} of {total} blocks ({:.2}%), search reads {read} ({:.2}%); 50 absent terms read {:.2}% of blocks on average; filters are {:.1}% of the merged file",
        100.0 * blocks_with as f64 / total as f64,
        100.0 * read as f64 / total as f64,
        100.0 * fp_reads as f64 / (50 * total) as f64,
        100.0 * filter_bytes as f64 / merged.file_bytes as f64
    );
}

fn benches(c: &mut Criterion) {
    let mb: usize = std::env::var("STRATA_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    // The needle lands in exactly one block (1 of ~150 at the default size); the false-positive
    // rate over absent terms is measured separately below.
    let app = to_events(
        AppLogs::new(42, 1_700_000_000_000),
        mb * 3 / 4,
        Some(200_000),
    );
    let acc = to_events(AccessLogs::new(42, 1_700_000_000_000), mb / 4, None);
    report("app", &app, dir.path());
    report("access", &acc, dir.path());

    let slice = &app[..app.len().min(40_000)];
    let slice_bytes: u64 = slice.iter().map(|e| e.raw.len() as u64).sum();
    let mut g = c.benchmark_group("write");
    g.sample_size(10).throughput(Throughput::Bytes(slice_bytes));
    g.bench_function("mini_lz4", |b| {
        b.iter(|| write_segment(&dir.path().join("w.mini"), slice, WriterOptions::mini()))
    });
    g.bench_function("merged_zstd", |b| {
        b.iter(|| write_segment(&dir.path().join("w.merged"), slice, WriterOptions::merged()))
    });
    let raw: Vec<u8> = slice.iter().flat_map(|e| e.raw.bytes()).collect();
    g.bench_function("baseline_lz4_flex_compress", |b| {
        b.iter(|| lz4_flex::block::compress(&raw))
    });
    g.bench_function("baseline_zstd9_compress", |b| {
        b.iter(|| zstd::bulk::compress(&raw, 9).unwrap())
    });
    g.finish();

    let seg = write_segment(
        &dir.path().join("scan.merged"),
        slice,
        WriterOptions::merged(),
    );
    let r = SegmentReader::open(&seg.path).unwrap();
    let cols: Vec<StrColumn> = (0..r.blocks().len())
        .map(|b| r.raw_column(b).unwrap())
        .collect();
    let mut g = c.benchmark_group("scan");
    g.throughput(Throughput::Bytes(slice_bytes));
    let mut m = SubstringMatcher::new("zzzneverzzz", false);
    g.bench_function("substring_warm", |b| {
        b.iter(|| {
            let mut rows = Vec::new();
            for c in &cols {
                m.matching_rows(c, &mut rows);
            }
            rows
        })
    });
    g.bench_function("substring_with_zstd_decompress", |b| {
        b.iter(|| {
            let mut rows = Vec::new();
            for blk in 0..r.blocks().len() {
                m.matching_rows(&r.raw_column(blk).unwrap(), &mut rows);
            }
            rows
        })
    });
    let finder = memmem::Finder::new("zzzneverzzz");
    g.bench_function("baseline_memmem", |b| {
        b.iter(|| finder.find_iter(&raw).count())
    });
    g.finish();
}

criterion_group!(segment, benches);
criterion_main!(segment);
