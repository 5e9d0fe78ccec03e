//! Applies 1 million generated `AddSegment` records and prints the rate per 100k, to profile
//! apply at scale. Run with: `cargo run --release -p strata-global --example apply_profile`
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../benches/gen.rs"]
mod gen;

use strata_global::*;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let records: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            event::encode(&GlobalEvent::AddSegment {
                segment: gen::seg(i),
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
