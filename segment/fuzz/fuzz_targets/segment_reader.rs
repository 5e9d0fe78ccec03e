//! Arbitrary bytes given to the segment reader never panic.
//! Run with: `cd segment/fuzz && cargo +nightly fuzz run segment_reader -- -max_total_time=60`
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    strata_segment::fuzz_read(data);
});
