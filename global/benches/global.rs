//! Global benchmarks: apply rate of segment events (decode + apply, as the follower does) and
//! snapshot write / load time for a state holding 1 million segments. The baseline printed
//! beside the apply rate is a bare `BTreeMap<String, _>` insert of the same segments, measured
//! in the same run.
//!
//! Run with: `cargo bench -p strata-global --bench global`
//! (`STRATA_BENCH_SEGMENTS=200000` for a quicker run; default 1,000,000.)

// The server binary uses mimalloc; measure with the allocator it runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strata_global::*;

fn seg(i: u64) -> SegmentInfo {
    SegmentInfo {
        id: format!("{:016x}-{i:08}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        repo: format!("repo{}", i % 20),
        tags: BTreeMap::from([("host".to_string(), format!("web-{}", i % 50))]),
        min_ts: 1_700_000_000_000 + i as i64 * 1000,
        max_ts: 1_700_000_000_000 + i as i64 * 1000 + 60_000,
        event_count: 50_000,
        raw_bytes: 30 << 20,
        file_bytes: 3 << 20,
        file_crc: i as u32,
        codec: "zstd".into(),
        partition: (i % 24) as u32,
        first_offset: i * 1000,
        last_offset: i * 1000 + 999,
        nodes: BTreeSet::from([1, 2]),
        bucket_key: Some(format!("segments/{i}")),
        merged: true,
        merge_target: None,
        created_ms: 0,
        version: 0,
    }
}

fn base_state() -> State {
    let mut st = State::default();
    for r in 0..20 {
        st.apply(
            r,
            &GlobalEvent::CreateRepository {
                name: format!("repo{r}"),
                description: String::new(),
            },
        );
    }
    st
}

fn benches(c: &mut Criterion) {
    let n: u64 = std::env::var("STRATA_BENCH_SEGMENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let records: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            event::encode(&GlobalEvent::AddSegment {
                segment: seg(i),
                safe_offset: Some(i * 1000),
            })
        })
        .collect();

    // One full pass for the headline figures.
    let t = Instant::now();
    let mut st = base_state();
    for (i, r) in records.iter().enumerate() {
        let ev = event::decode(i as u64 + 20, r).unwrap();
        st.apply(i as u64 + 20, &ev);
    }
    let apply_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut bare = BTreeMap::new();
    for i in 0..n {
        let s = seg(i);
        bare.insert(s.id.clone(), s);
    }
    let bare_s = t.elapsed().as_secs_f64();
    black_box(bare);
    println!(
        "\napply (decode + apply) of {n} AddSegment events: {:.2} M events/s ({:.2}x the rate of building and inserting the same structs into a bare BTreeMap, {:.2} M/s)",
        n as f64 / apply_s / 1e6,
        bare_s / apply_s,
        n as f64 / bare_s / 1e6
    );
    let dir = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("STRATA_BENCH_KEEP_SNAPSHOT");
    let dir_path = keep
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    let dir_ref = dir_path.as_path();
    let snap = Snapshot {
        next_offset: n + 20,
        state: st,
    };
    let t = Instant::now();
    snapshot::write(dir_ref, &snap).unwrap();
    let write_s = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(dir_ref.join(snapshot::SNAPSHOT_FILE))
        .unwrap()
        .len();
    let t = Instant::now();
    let (loaded, _) = snapshot::load(dir_ref);
    let load_s = t.elapsed().as_secs_f64();
    let loaded = loaded.unwrap();
    assert_eq!(loaded.state.segments.len() as u64, n);
    let t = Instant::now();
    let bytes = std::fs::read(dir_ref.join(snapshot::SNAPSHOT_FILE)).unwrap();
    // The file is a header line plus concatenated JSON values: parse them all generically.
    let v: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&bytes)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    let parse_s = t.elapsed().as_secs_f64();
    black_box(v);
    println!(
        "snapshot of {n} segments: {:.0} MB, write {write_s:.2} s, load {load_s:.2} s (baseline: reading and parsing the same file into serde_json::Value on one core {parse_s:.2} s)",
        size as f64 / 1e6
    );

    let small = &records[..records.len().min(100_000)];
    let mut g = c.benchmark_group("global");
    g.sample_size(10)
        .throughput(Throughput::Elements(small.len() as u64));
    g.bench_function("decode_apply_add_segment", |b| {
        b.iter(|| {
            let mut st = base_state();
            for (i, r) in small.iter().enumerate() {
                let ev = event::decode(i as u64 + 20, r).unwrap();
                st.apply(i as u64 + 20, &ev);
            }
            st
        })
    });
    g.finish();
}

criterion_group!(global, benches);
criterion_main!(global);
