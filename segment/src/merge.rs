//! Streaming k-way merge of segments of one datasource into one time-ordered segment. Each
//! input holds one decoded block in memory at a time, so memory is bounded by
//! `inputs × block size` whatever the inputs' total size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::Path;

use crate::error::{Result, SegmentError};
use crate::event::Event;
use crate::reader::SegmentReader;
use crate::writer::{SegmentSummary, SegmentWriter, WriterOptions};

/// Merges `inputs` (all of one datasource) into a new segment at `out`.
pub fn merge_segments(
    inputs: &[&SegmentReader],
    out: impl AsRef<Path>,
    opts: WriterOptions,
) -> Result<SegmentSummary> {
    let first = inputs
        .first()
        .ok_or_else(|| SegmentError::Invalid("merge needs at least one input".into()))?;
    let ds = first.meta().datasource.clone();
    if let Some(other) = inputs.iter().find(|r| r.meta().datasource != ds) {
        return Err(SegmentError::Invalid(format!(
            "cannot merge {} ({}) with {} ({}): different datasources",
            first.path().display(),
            ds,
            other.path().display(),
            other.meta().datasource
        )));
    }
    let mut writer = SegmentWriter::create(out, ds, opts)?;
    let mut cursors: Vec<Box<dyn Iterator<Item = Result<Event>> + '_>> = inputs
        .iter()
        .map(|r| Box::new(r.events()) as Box<_>)
        .collect();
    let mut heads: Vec<Option<Event>> = Vec::with_capacity(inputs.len());
    let mut heap = BinaryHeap::new();
    for (i, c) in cursors.iter_mut().enumerate() {
        let e = c.next().transpose()?;
        if let Some(e) = &e {
            heap.push(Reverse((e.sort_key(), i)));
        }
        heads.push(e);
    }
    while let Some(Reverse((_, i))) = heap.pop() {
        let next = cursors[i].next().transpose()?;
        if let Some(n) = &next {
            heap.push(Reverse((n.sort_key(), i)));
        }
        if let Some(e) = std::mem::replace(&mut heads[i], next) {
            writer.push(e)?;
        }
    }
    writer.finish()
}
