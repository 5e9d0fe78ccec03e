//! Writes a mini segment of generated app logs; used to profile the writer.
//! Run with: `cargo run --release -p strata-segment --example write_profile`
use strata_segment::datagen::AppLogs;
use strata_segment::*;

fn main() {
    let events: Vec<Event> = AppLogs::new(1, 0)
        .take(200_000)
        .enumerate()
        .map(|(i, g)| g.into_event(0, i as u64))
        .collect();
    let bytes: usize = events.iter().map(|e| e.raw.len()).sum();
    let dir = std::env::temp_dir().join("strata-write-profile");
    let t = std::time::Instant::now();
    let mut w = SegmentWriter::create(&dir, Datasource::default(), WriterOptions::mini()).unwrap();
    for e in events {
        w.push(e).unwrap();
    }
    w.finish().unwrap();
    let s = t.elapsed().as_secs_f64();
    println!("{:.0} MB/s", bytes as f64 / 1e6 / s);
}
