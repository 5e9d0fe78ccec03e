//! The writer's memory is bounded by the block, not by fields × events: a block whose events
//! carry 20,000 distinct field names is cut into blocks within `MAX_BLOCK_CELLS`, and the data
//! reads back intact. Peak heap is measured with a counting allocator (this test binary only).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use strata_segment::*;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

const FIELDS: usize = 20_000;

fn event(i: usize) -> Event {
    let fields = BTreeMap::from([
        (format!("f{i:05}"), format!("v{i}")),
        ("level".to_string(), "info".to_string()),
    ]);
    Event {
        timestamp: 1_700_000_000_000 + i as i64,
        timestamp_nanos: 0,
        ingest_timestamp: 1_700_000_000_000,
        id: EventId {
            partition: 0,
            offset: i as u64,
            index: 0,
        },
        raw: format!("event {i} level=info f{i:05}=v{i}"),
        fields,
    }
}

#[test]
fn twenty_thousand_distinct_fields_in_one_block_stay_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.seg");
    // Blocks large enough by bytes and count to take all 20k events at once: only the cell
    // bound can cut them.
    let opts = WriterOptions {
        block_bytes: 64 << 20,
        max_block_events: 64 << 10,
        ..WriterOptions::mini()
    };
    let ds = Datasource {
        repo: "r".into(),
        tags: BTreeMap::new(),
    };
    let events: Vec<Event> = (0..FIELDS).map(event).collect();
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let mut w = SegmentWriter::create(&path, ds, opts).unwrap();
    for e in events.iter().cloned() {
        w.push(e).unwrap();
    }
    w.finish().unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    // Unbounded, this block lays out 20k columns of 20k slots: 6.4 GB.
    let limit = MAX_BLOCK_CELLS * 16 * 3;
    assert!(
        peak < limit,
        "writing peaked at {peak} bytes of heap, over {limit}"
    );

    let r = SegmentReader::open(&path).unwrap();
    assert!(r.blocks().len() > 1, "the block was cut");
    for b in r.blocks() {
        // Time, ingest, id and raw/template columns, then one per field the block has.
        let field_columns = b.columns.len() - 4;
        assert!(
            field_columns * b.count as usize <= MAX_BLOCK_CELLS,
            "a block of {} events has {field_columns} field columns",
            b.count
        );
    }
    let got: Vec<Event> = r.events().collect::<Result<_>>().unwrap();
    assert_eq!(got, events, "every event and field reads back");
    assert_eq!(r.meta().field_names.len(), FIELDS + 1);
}
