//! Prints how many compressed bytes each column and the filters take in a merged segment of
//! generated app logs. Run with: `cargo run --release -p strata-segment --example column_sizes`
use std::collections::BTreeMap;

use strata_segment::datagen::AppLogs;
use strata_segment::*;

fn main() {
    let path = std::env::temp_dir().join("strata-column-sizes.seg");
    let mut w = SegmentWriter::create(&path, Datasource::default(), options()).unwrap();
    let mut raw = 0usize;
    let events: Vec<Event> = AppLogs::new(1, 0)
        .take(150_000)
        .enumerate()
        .map(|(i, g)| {
            raw += g.raw.len();
            g.into_event(0, i as u64)
        })
        .collect();
    let t = std::time::Instant::now();
    for e in events {
        w.push(e).unwrap();
    }
    let s = w.finish().unwrap();
    println!(
        "written at {:.1} MB/s of raw text",
        raw as f64 / t.elapsed().as_secs_f64() / 1e6
    );
    let r = SegmentReader::open(&path).unwrap();
    let mut by: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut filters = 0u64;
    for b in r.blocks() {
        filters += b.filter.encoded_len() as u64;
        for c in &b.columns {
            let name = match c.id {
                0 => "time".to_string(),
                1 => "ingest".into(),
                2 => "id".into(),
                3 => "raw".into(),
                4 => "raw template".into(),
                n => r.meta().field_names[(n - 16) as usize].clone(),
            };
            let e = by.entry(name).or_default();
            e.0 += u64::from(c.compressed_len);
            e.1 += u64::from(c.uncompressed_len);
        }
    }
    println!(
        "raw {raw} bytes, file {} bytes ({:.1}x), {} blocks",
        s.file_bytes,
        raw as f64 / s.file_bytes as f64,
        r.blocks().len()
    );
    println!(
        "filters: {filters} ({:.1}%)",
        100.0 * filters as f64 / s.file_bytes as f64
    );
    let mut fp = 0usize;
    let trials = 2000;
    for i in 0..trials {
        let mut q = FilterQuery::default();
        q.add_field("marker", &format!("absent-{i}"));
        fp += r.candidate_blocks(i64::MIN, i64::MAX, &q).len();
    }
    println!(
        "single field-pair false positive rate: {:.2}%",
        100.0 * fp as f64 / (trials * r.blocks().len()) as f64
    );
    for (k, (c, u)) in by {
        println!(
            "{k:>12}: {c:>9} compressed, {u:>10} uncompressed ({:.1}% of file)",
            100.0 * c as f64 / s.file_bytes as f64
        );
    }
}

/// Merged-segment options (`ZSTD_LEVEL=n`, `BLOCK_KB=n` override the level and block size), or
/// a mini's with `MINI=1`.
fn options() -> WriterOptions {
    if std::env::var_os("MINI").is_some() {
        WriterOptions::mini()
    } else {
        let mut o = WriterOptions::merged();
        if let Some(l) = std::env::var("ZSTD_LEVEL")
            .ok()
            .and_then(|l| l.parse().ok())
        {
            o.codec = Codec::Zstd { level: l };
        }
        if let Some(kb) = std::env::var("BLOCK_KB")
            .ok()
            .and_then(|l| l.parse::<usize>().ok())
        {
            o.block_bytes = kb << 10;
        }
        o
    }
}
