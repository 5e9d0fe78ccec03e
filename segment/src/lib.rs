//! Strata's segment files: the immutable, compressed, self-checking files every event ends up
//! in. A segment holds the events of one datasource in time order, in blocks of bounded size;
//! inside a block each column (`@timestamp`, ingest time, `@id`, `@rawstring`, each field) is
//! compressed on its own, and a Bloom filter per block lets searches skip blocks. The byte
//! layout is documented in `segment/FORMAT.md`.
//!
//! - [`SegmentWriter`] streams sorted events into a file (LZ4 for minis, zstd for merged).
//! - [`SegmentReader`] validates a file and reads block columns lazily, checksum first.
//! - [`merge_segments`] merges segments of a datasource in bounded memory.
//! - [`scan`] holds the kernels the query engine calls on decoded columns.
//! - [`datagen`] generates the deterministic benchmark and test data sets.

mod codec;
mod column;
pub mod datagen;
mod error;
mod event;
mod filter;
mod footer;
mod merge;
mod reader;
pub mod scan;
mod writer;

pub use codec::{hash64, Codec};
pub use column::StrColumn;
pub use error::{Result, SegmentError};
pub use event::{Datasource, Event, EventId, OffsetRange};
pub use filter::{is_token_byte, Filter, FilterQuery, MAX_INDEXED_VALUE};
pub use footer::{BlockMeta, ColumnMeta, SegmentMeta, FORMAT_VERSION};
pub use merge::merge_segments;
pub use reader::{DecodedBlock, SegmentReader};
pub use writer::{sync_dir, SegmentSummary, SegmentWriter, WriterOptions, MAX_BLOCK_CELLS};

/// Opens `data` as a segment and reads every block and event, discarding the results. The
/// fuzz target and its smoke test call this: for any bytes it must return, never panic.
pub fn fuzz_read(data: &[u8]) {
    let Ok(r) = SegmentReader::from_bytes("fuzz", data.to_vec()) else {
        return;
    };
    let q = FilterQuery::for_substring("error 42");
    let _ = r.candidate_blocks(i64::MIN, i64::MAX, &q);
    for b in 0..r.blocks().len() {
        if let Ok(col) = r.raw_column(b) {
            let mut rows = Vec::new();
            scan::SubstringMatcher::new("a", true).matching_rows(&col, &mut rows);
        }
        let _ = r.read_block(b);
        for name in r.meta().field_names.clone() {
            let _ = r.field_column(b, &name);
        }
    }
    for e in r.events_rev() {
        if e.is_err() {
            break;
        }
    }
}
