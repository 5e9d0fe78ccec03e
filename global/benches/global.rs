//! Global benchmarks: apply rate of segment events (decode + apply, as the follower does) —
//! replaying 1 million `AddSegment`s into an empty state, and a steady-state mix of segment
//! events at 1 million segments — and snapshot write / load time for that state. The baseline
//! printed beside the replay rate is a bare `BTreeMap<String, _>` insert of the same segments,
//! measured in the same run.
//!
//! Run with: `cargo bench -p strata-global --bench global`
//! (`STRATA_BENCH_SEGMENTS=200000` for a quicker run; default 1,000,000.)

// The server binary uses mimalloc; measure with the allocator it runs with.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use strata_global::*;

mod gen;
use gen::seg;

fn mini(i: u64) -> SegmentInfo {
    SegmentInfo {
        id: format!(
            "2-p{}-{:016x}",
            i % 24,
            i.wrapping_mul(0xff51_afd7_ed55_8ccd)
        )
        .into(),
        merged: false,
        merge_target: Some(format!("{:016x}-p{}", i / 4, i % 24).into()),
        bucket_key: None,
        nodes: NodeSet::from([2]),
        file_bytes: 100_000,
        ..seg(i)
    }
}

/// `rounds * 10` encoded churn events against a state holding segments `0..n` (see above).
fn churn_records(n: u64, events: u64) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(events as usize);
    for r in 0..events / 10 {
        let first = n + r * 4;
        for k in 0..4 {
            out.push(event::encode(&GlobalEvent::AddSegment {
                segment: mini(first + k),
                safe_offset: None,
            }));
        }
        let merged = SegmentInfo {
            id: format!("2-m-{:016x}", r.wrapping_mul(0x9e37_79b9_7f4a_7c15)).into(),
            ..seg(first)
        };
        let merged_id = merged.id.to_string();
        out.push(event::encode(&GlobalEvent::ReplaceSegments {
            remove: (0..4).map(|k| mini(first + k).id.to_string()).collect(),
            add: merged,
        }));
        for _ in 0..2 {
            out.push(event::encode(&GlobalEvent::SetSegmentInBucket {
                id: merged_id.clone(),
                key: format!("segments/{merged_id}"),
            }));
        }
        for node in [3, 4] {
            out.push(event::encode(&GlobalEvent::AddSegmentHolder {
                id: merged_id.clone(),
                node,
            }));
        }
        out.push(event::encode(&GlobalEvent::DeleteSegments {
            ids: vec![seg(r).id.to_string()],
        }));
    }
    out
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

    // Replay: one full pass from an empty state, as a node without a snapshot does. Every
    // byte of the state is memory touched for the first time; on these VMs first touches cost
    // anywhere from 0.4 to 20 GB/s from one run to the next (the host backs guest memory
    // lazily), so the baseline beside it builds the same structs in the same run.
    let t = Instant::now();
    let mut st = base_state();
    for (i, r) in records.iter().enumerate() {
        let ev = event::decode(i as u64 + 20, r).unwrap();
        st.apply_owned(i as u64 + 20, ev);
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
        "\nreplay (decode + apply) of {n} AddSegment events into an empty state: {:.2} M events/s ({:.2}x the rate of building and inserting the same structs into a bare BTreeMap, {:.2} M/s)",
        n as f64 / apply_s / 1e6,
        bare_s / apply_s,
        n as f64 / bare_s / 1e6
    );

    // Steady state at n segments: what a running cluster applies. Per round of 10 events:
    // 4 new minis, 1 merge of 4 minis into one merged segment, 2 uploads to the bucket, 2 new
    // holders, 1 retention delete of an old segment; the segment count stays near n.
    let churn = churn_records(n, 2_000_000);
    let t = Instant::now();
    let mut rejected = 0;
    for (i, r) in churn.iter().enumerate() {
        let off = n + 20 + i as u64;
        let ev = event::decode(off, r).unwrap();
        rejected += usize::from(!st.apply_owned(off, ev).is_applied());
    }
    let churn_s = t.elapsed().as_secs_f64();
    assert_eq!(rejected, 0, "churn events must all apply");
    println!(
        "steady state (decode + apply) at {} segments: {:.2} M events/s over {} events (new minis, merges, uploads, holders, deletes)",
        st.segments.len(),
        churn.len() as f64 / churn_s / 1e6,
        churn.len()
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
