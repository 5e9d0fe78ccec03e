//! Applies 1 million generated `AddSegment` records and prints the rate per 100k, to profile
//! apply at scale. Run with: `cargo run --release -p strata-global --example apply_profile`
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use strata_global::*;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let records: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            event::encode(&GlobalEvent::AddSegment {
                segment: SegmentInfo {
                    // The server's id format: `{node}-p{partition}-{random hex}`.
                    id: format!(
                        "{}-p{}-{:016x}",
                        1 + i % 3,
                        i % 24,
                        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    )
                    .into(),
                    repo: format!("repo{}", i % 20).into(),
                    tags: BTreeMap::from([("host".to_string(), format!("web-{}", i % 50))]).into(),
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
                    nodes: NodeSet::from([1, 2]),
                    bucket_key: Some(format!(
                        "segments/{}-p{}-{:016x}",
                        1 + i % 3,
                        i % 24,
                        i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
                    )),
                    merged: true,
                    merge_target: None,
                    created_ms: 0,
                    version: 0,
                },
                safe_offset: Some(i * 1000),
            })
        })
        .collect();
    eprintln!(
        "sizeof SegmentInfo {} GlobalEvent {}",
        std::mem::size_of::<SegmentInfo>(),
        std::mem::size_of::<GlobalEvent>()
    );
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
    let t0 = std::time::Instant::now();
    let (mut dec, mut app) = (0.0, 0.0);
    for (c, chunk) in records.chunks(100_000).enumerate() {
        let t = std::time::Instant::now();
        let evs: Vec<GlobalEvent> = chunk
            .iter()
            .enumerate()
            .map(|(i, r)| event::decode(i as u64, r).unwrap())
            .collect();
        let d = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        for (i, ev) in evs.into_iter().enumerate() {
            st.apply_owned((c * 100_000 + i) as u64 + 20, ev);
        }
        let a = t.elapsed().as_secs_f64();
        dec += d;
        app += a;
        println!(
            "chunk {c}: decode {:.0} ns/ev, apply {:.0} ns/ev",
            d * 1e4,
            a * 1e4
        );
    }
    println!(
        "total {:.2} M/s (decode {:.2} s, apply {:.2} s)",
        n as f64 / t0.elapsed().as_secs_f64() / 1e6,
        dec,
        app
    );
}
#[allow(dead_code)]
fn sizes() {}
