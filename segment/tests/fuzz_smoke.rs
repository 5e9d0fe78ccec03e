//! Smoke run of the fuzz target on stable: valid segments, then many deterministic mutations
//! of them (bit flips, byte overwrites, truncations, splices), all fed to `fuzz_read`, which
//! must never panic. The coverage-guided run is `segment/fuzz` (cargo fuzz, nightly).

use strata_segment::datagen::{AppLogs, Rng};
use strata_segment::*;

fn seed_segment(codec: Codec) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed");
    let mut w = SegmentWriter::create(
        &path,
        Datasource {
            repo: "r".into(),
            ..Default::default()
        },
        WriterOptions {
            codec,
            block_bytes: 2000,
            max_block_events: 8,
            build_filters: true,
            composite_fields: true,
        },
    )
    .unwrap();
    for (i, g) in AppLogs::new(9, 0).take(30).enumerate() {
        w.push(g.into_event(0, i as u64)).unwrap();
    }
    w.finish().unwrap();
    std::fs::read(path).unwrap()
}

#[test]
fn mutated_segments_never_panic() {
    let seeds = [
        seed_segment(Codec::Lz4),
        seed_segment(Codec::Zstd { level: 3 }),
    ];
    let mut rng = Rng::new(1234);
    let iterations: u64 = std::env::var("STRATA_FUZZ_SMOKE_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    for i in 0..iterations {
        let mut data = seeds[(i % 2) as usize].clone();
        let mutations = 1 + rng.below(4);
        for _ in 0..mutations {
            let len = data.len().max(1) as u64;
            match rng.below(5) {
                0 => {
                    let p = rng.below(len) as usize;
                    if p < data.len() {
                        data[p] ^= 1 << rng.below(8);
                    }
                }
                1 => {
                    let p = rng.below(len) as usize;
                    if p < data.len() {
                        data[p] = rng.below(256) as u8;
                    }
                }
                2 => {
                    let n = rng.below(len) as usize;
                    data.truncate(n);
                }
                3 => {
                    // Overwrite 4 bytes with an extreme integer: lengths and counts.
                    let p = rng.below(len) as usize;
                    let v = [0u32, 1, 0x7fff_ffff, u32::MAX, 65_536][rng.below(5) as usize]
                        .to_le_bytes();
                    for (k, b) in v.iter().enumerate() {
                        if let Some(x) = data.get_mut(p + k) {
                            *x = *b;
                        }
                    }
                }
                _ => {
                    let a = rng.below(len) as usize;
                    let b = rng.below(len) as usize;
                    let (a, b) = (a.min(b), a.max(b));
                    if b <= data.len() {
                        let chunk = data[a..b].to_vec();
                        data.extend_from_slice(&chunk);
                    }
                }
            }
        }
        fuzz_read(&data);
    }
    for s in &seeds {
        fuzz_read(s);
    }
    fuzz_read(&[]);
}
