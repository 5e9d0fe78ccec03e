//! Loads a snapshot directory and reports the time; used to profile snapshot loading.
//! Run with: `cargo run --release -p strata-global --example snapshot_load -- DIR`
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let dir = std::env::args().nth(1).expect("snapshot directory");
    let t = std::time::Instant::now();
    let (snap, warnings) = strata_global::snapshot::load(std::path::Path::new(&dir));
    let snap = snap.expect("a snapshot");
    println!(
        "{} segments loaded in {:.2} s ({} warnings)",
        snap.state.segments.len(),
        t.elapsed().as_secs_f64(),
        warnings.len()
    );
}
