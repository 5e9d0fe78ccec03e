//! Profiles rebuilding `@rawstring` of a merged segment of generated app logs:
//! `cargo run --release -p strata-segment --example raw_decode_profile`.
use strata_segment::datagen::AppLogs;
use strata_segment::*;

fn main() {
    let path = std::env::temp_dir().join("strata-raw-decode.seg");
    let mut w =
        SegmentWriter::create(&path, Datasource::default(), WriterOptions::merged()).unwrap();
    let mut raw = 0u64;
    for (i, g) in AppLogs::new(1, 0).take(40_000).enumerate() {
        raw += g.raw.len() as u64;
        w.push(g.into_event(0, i as u64)).unwrap();
    }
    w.finish().unwrap();
    let r = SegmentReader::open(&path).unwrap();
    let t = std::time::Instant::now();
    let rounds = 400;
    for _ in 0..rounds {
        for b in 0..r.blocks().len() {
            std::hint::black_box(r.raw_column(b).unwrap());
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!("raw column: {:.2} GB/s", (raw * rounds) as f64 / s / 1e9);
}
