//! Segment reader: opens a file (or bytes), verifies the trailer and footer checksum, and reads
//! block columns lazily, verifying each chunk's crc32 before decompressing it.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::codec::Codec;
use crate::column::{
    self, StrColumn, Templates, COL_FIELD_BASE, COL_ID, COL_INGEST, COL_RAW, COL_TEMPLATE, COL_TIME,
};
use crate::error::{Result, SegmentError};
use crate::event::{Event, EventId};
use crate::filter::FilterQuery;
use crate::footer::{
    self, BlockMeta, ColumnMeta, SegmentMeta, FORMAT_VERSION, HEADER_LEN, MAGIC, TRAILER_LEN,
    TRAILER_MAGIC,
};

/// Field columns decoded during one call, by field-table index.
type FieldCache = Vec<(u32, StrColumn)>;

/// Where a field column is being decoded from, which limits what it may refer to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Nesting {
    /// Asked for directly.
    Top,
    /// A slot of the raw template column: may be composite, not a reference column.
    RawSlot,
    /// A slot of a composite column: must be plain.
    CompositeSlot,
}

enum Source {
    File(File),
    Memory(Arc<[u8]>),
}

/// An open segment. Cheap to share behind an `Arc`; reads use positional I/O.
pub struct SegmentReader {
    path: PathBuf,
    source: Source,
    meta: SegmentMeta,
    field_lookup: std::collections::HashMap<String, u32>,
}

impl SegmentReader {
    /// Opens and validates the segment at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|e| SegmentError::io(&path, e))?;
        let len = file
            .metadata()
            .map_err(|e| SegmentError::io(&path, e))?
            .len();
        Self::from_source(path, Source::File(file), len)
    }

    /// Reads a segment held in memory (used for downloaded copies and by the fuzzer).
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: impl Into<Arc<[u8]>>) -> Result<Self> {
        let bytes: Arc<[u8]> = bytes.into();
        let len = bytes.len() as u64;
        Self::from_source(name.into(), Source::Memory(bytes), len)
    }

    fn from_source(path: PathBuf, source: Source, len: u64) -> Result<Self> {
        let corrupt = |what: String| SegmentError::Corrupt {
            path: path.clone(),
            block: None,
            what,
        };
        if len < HEADER_LEN + TRAILER_LEN {
            return Err(corrupt(format!(
                "file is {len} bytes, too short for a segment"
            )));
        }
        let mut header = [0u8; HEADER_LEN as usize];
        read_at(&source, &path, &mut header, 0)?;
        if &header[..8] != MAGIC {
            return Err(corrupt("bad magic bytes at the start".into()));
        }
        let version = u16::from_le_bytes([header[8], header[9]]);
        if version == 0 || version > FORMAT_VERSION {
            return Err(SegmentError::UnsupportedVersion {
                path,
                version,
                supported: FORMAT_VERSION,
            });
        }
        let codec = Codec::from_id(header[10])
            .ok_or_else(|| corrupt(format!("unknown codec id {}", header[10])))?;
        let mut trailer = [0u8; TRAILER_LEN as usize];
        read_at(&source, &path, &mut trailer, len - TRAILER_LEN)?;
        if &trailer[16..24] != TRAILER_MAGIC {
            return Err(corrupt(
                "bad trailer magic (truncated or incomplete file?)".into(),
            ));
        }
        let footer_offset = u64::from_le_bytes(trailer[0..8].try_into().unwrap_or_default());
        let footer_len = u32::from_le_bytes(trailer[8..12].try_into().unwrap_or_default());
        let footer_crc = u32::from_le_bytes(trailer[12..16].try_into().unwrap_or_default());
        if footer_offset < HEADER_LEN
            || footer_offset.checked_add(u64::from(footer_len)) != Some(len - TRAILER_LEN)
        {
            return Err(corrupt(format!(
                "footer at {footer_offset} of {footer_len} bytes does not end where the trailer starts"
            )));
        }
        let mut fbytes = vec![0u8; footer_len as usize];
        read_at(&source, &path, &mut fbytes, footer_offset)?;
        if crc32fast::hash(&fbytes) != footer_crc {
            return Err(corrupt("footer checksum mismatch".into()));
        }
        let meta =
            footer::decode_footer(&fbytes, codec, footer_offset, version).map_err(corrupt)?;
        let field_lookup = meta
            .field_names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Ok(SegmentReader {
            path,
            source,
            meta,
            field_lookup,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn meta(&self) -> &SegmentMeta {
        &self.meta
    }

    pub fn blocks(&self) -> &[BlockMeta] {
        &self.meta.blocks
    }

    /// Indexes of the blocks whose time range overlaps `[start, end)` and whose filter does
    /// not rule out `q`, in time order.
    pub fn candidate_blocks(&self, start: i64, end: i64, q: &FilterQuery) -> Vec<usize> {
        self.meta
            .blocks
            .iter()
            .enumerate()
            .filter(|(_, b)| b.max_ts >= start && b.min_ts < end && q.may_match(&b.filter))
            .map(|(i, _)| i)
            .collect()
    }

    /// True when some block may hold a match for `q` (the segment-level filter check).
    pub fn may_match(&self, q: &FilterQuery) -> bool {
        q.is_empty() || self.meta.blocks.iter().any(|b| q.may_match(&b.filter))
    }

    fn corrupt(&self, block: usize, what: String) -> SegmentError {
        SegmentError::Corrupt {
            path: self.path.clone(),
            block: Some(block),
            what,
        }
    }

    fn block_meta(&self, block: usize) -> Result<&BlockMeta> {
        self.meta.blocks.get(block).ok_or_else(|| {
            SegmentError::Invalid(format!(
                "block {block} requested from {} which has {} blocks",
                self.path.display(),
                self.meta.blocks.len()
            ))
        })
    }

    /// Reads, verifies and decompresses one column chunk.
    fn read_column(&self, block: usize, c: &ColumnMeta) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; c.compressed_len as usize];
        read_at(&self.source, &self.path, &mut buf, c.offset)?;
        if crc32fast::hash(&buf) != c.crc {
            return Err(self.corrupt(block, format!("column {} checksum mismatch", c.id)));
        }
        self.meta
            .codec
            .decompress(&buf, c.uncompressed_len as usize)
            .map_err(|e| self.corrupt(block, format!("column {}: {e}", c.id)))
    }

    fn required(&self, block: usize, id: u32) -> Result<Vec<u8>> {
        let b = self.block_meta(block)?;
        let c = b
            .column(id)
            .ok_or_else(|| self.corrupt(block, format!("column {id} missing")))?;
        self.read_column(block, c)
    }

    /// `@rawstring` of every event in the block.
    pub fn raw_column(&self, block: usize) -> Result<StrColumn> {
        self.raw_with(block, &mut Vec::new())
    }

    /// `@rawstring` of the block; a templated raw column decodes its slots' field columns,
    /// which land in `cache` so [`read_block`](Self::read_block) reuses them.
    fn raw_with(&self, block: usize, cache: &mut FieldCache) -> Result<StrColumn> {
        let b = self.block_meta(block)?;
        let count = b.count as usize;
        let Some(tc) = b.column(COL_TEMPLATE) else {
            let bytes = self.required(block, COL_RAW)?;
            return StrColumn::decode(bytes, count, false)
                .map_err(|e| self.corrupt(block, format!("raw column: {e}")));
        };
        let t = Templates::decode(self.read_column(block, tc)?, count, false)
            .map_err(|e| self.corrupt(block, format!("raw template column: {e}")))?;
        self.rebuild(block, &t, cache, Nesting::RawSlot)
            .map_err(|e| self.corrupt(block, format!("raw template column: {e}")))
    }

    /// Rows of `block` whose `@rawstring` contains `needle` ASCII-case-insensitively, ascending
    /// — the rows a substring scan of [`raw_column`](Self::raw_column) finds — rebuilding only
    /// the raw strings that may match when the raw column is templated. `None` for a plain raw
    /// column: the caller scans it whole.
    pub fn raw_rows_containing(&self, block: usize, needle: &str) -> Result<Option<Vec<u32>>> {
        let b = self.block_meta(block)?;
        let count = b.count as usize;
        let Some(tc) = b.column(COL_TEMPLATE) else {
            return Ok(None);
        };
        let t = Templates::decode(self.read_column(block, tc)?, count, false)
            .map_err(|e| self.corrupt(block, format!("raw template column: {e}")))?;
        let mut cache = Vec::new();
        let values = self.slot_columns(block, &t, &mut cache, Nesting::RawSlot)?;
        let time = if t.uses_time() {
            self.time_column(block)?
        } else {
            Vec::new()
        };
        t.rows_containing(needle, &values, &time)
            .map(Some)
            .map_err(|e| self.corrupt(block, format!("raw template column: {e}")))
    }

    /// The field columns of a template's slots, in slot order (decoded into `cache`).
    fn slot_columns<'c>(
        &self,
        block: usize,
        t: &Templates,
        cache: &'c mut FieldCache,
        slots_are: Nesting,
    ) -> Result<Vec<&'c StrColumn>> {
        for &idx in &t.slots {
            self.ensure_field(block, idx, cache, slots_are)?;
        }
        let cache: &'c FieldCache = cache;
        t.slots
            .iter()
            .map(|&idx| {
                cache
                    .iter()
                    .find(|(i, _)| *i == idx)
                    .map(|(_, c)| c)
                    .ok_or_else(|| self.corrupt(block, format!("slot field {idx} not decoded")))
            })
            .collect()
    }

    /// Rebuilds the texts of a template column from its slots (decoded into `cache`).
    fn rebuild(
        &self,
        block: usize,
        t: &Templates,
        cache: &mut FieldCache,
        slots_are: Nesting,
    ) -> Result<StrColumn> {
        let values = self.slot_columns(block, t, cache, slots_are)?;
        let time = if t.uses_time() {
            self.time_column(block)?
        } else {
            Vec::new()
        };
        t.rebuild(&values, &time)
            .map_err(|e| self.corrupt(block, e))
    }

    /// Decodes field `idx` of `block` into `cache` unless it is there. Composite columns
    /// (mode 3) resolve their slots, which must be plain; reference columns (mode 1, format
    /// version 1) decode the raw column, which then must be plain too — so no decoding loops.
    fn ensure_field(
        &self,
        block: usize,
        idx: u32,
        cache: &mut FieldCache,
        nesting: Nesting,
    ) -> Result<()> {
        if cache.iter().any(|(i, _)| *i == idx) {
            return Ok(());
        }
        let b = self.block_meta(block)?;
        let count = b.count as usize;
        let name = self
            .meta
            .field_names
            .get(idx as usize)
            .ok_or_else(|| self.corrupt(block, format!("unknown field {idx}")))?;
        let c = b.column(COL_FIELD_BASE + idx).ok_or_else(|| {
            self.corrupt(
                block,
                format!("field {name:?} is named but the block lacks it"),
            )
        })?;
        let mut bytes = self.read_column(block, c)?;
        let bad = |e: String| self.corrupt(block, format!("field {name:?}: {e}"));
        let col = match bytes.first() {
            Some(&column::FIELD_TEMPLATE) => {
                if nesting == Nesting::CompositeSlot {
                    return Err(bad("a composite column is a slot of another".into()));
                }
                bytes.remove(0);
                let t = Templates::decode(bytes, count, true).map_err(bad)?;
                self.rebuild(block, &t, cache, Nesting::CompositeSlot)?
            }
            Some(&column::FIELD_RAW_REFS) => {
                if nesting != Nesting::Top || b.column(COL_TEMPLATE).is_some() {
                    return Err(bad(
                        "a reference column where the raw column is not plain".into()
                    ));
                }
                let raw = self.raw_column(block)?;
                StrColumn::decode_field(bytes, count, Some(&raw)).map_err(bad)?
            }
            _ => StrColumn::decode_field(bytes, count, None).map_err(bad)?,
        };
        cache.push((idx, col));
        Ok(())
    }

    /// One field's column; `None` when no event in the block has the field.
    pub fn field_column(&self, block: usize, name: &str) -> Result<Option<StrColumn>> {
        let b = self.block_meta(block)?;
        let Some(&idx) = self.field_lookup.get(name) else {
            return Ok(None);
        };
        if b.column(COL_FIELD_BASE + idx).is_none() {
            return Ok(None);
        }
        let mut cache = Vec::new();
        self.ensure_field(block, idx, &mut cache, Nesting::Top)?;
        Ok(cache.into_iter().find(|(i, _)| *i == idx).map(|(_, c)| c))
    }

    /// `(@timestamp ms, sub-ms nanos)` of every event in the block.
    pub fn time_column(&self, block: usize) -> Result<Vec<(i64, u32)>> {
        let count = self.block_meta(block)?.count as usize;
        let bytes = self.required(block, COL_TIME)?;
        column::decode_time(&bytes, count).map_err(|e| self.corrupt(block, e))
    }

    /// `@id` of every event in the block.
    pub fn id_column(&self, block: usize) -> Result<Vec<EventId>> {
        let count = self.block_meta(block)?.count as usize;
        let bytes = self.required(block, COL_ID)?;
        column::decode_id(&bytes, count).map_err(|e| self.corrupt(block, e))
    }

    /// Ingest time (epoch ms) of every event in the block.
    pub fn ingest_column(&self, block: usize) -> Result<Vec<i64>> {
        let count = self.block_meta(block)?.count as usize;
        column::decode_ingest(&self.required(block, COL_INGEST)?, count)
            .map_err(|e| self.corrupt(block, e))
    }

    /// Decodes every column of a block.
    pub fn read_block(&self, block: usize) -> Result<DecodedBlock> {
        let b = self.block_meta(block)?;
        let count = b.count as usize;
        let time = self.time_column(block)?;
        let ingest = column::decode_ingest(&self.required(block, COL_INGEST)?, count)
            .map_err(|e| self.corrupt(block, e))?;
        let ids = self.id_column(block)?;
        let mut cache = Vec::new();
        let raw = self.raw_with(block, &mut cache)?;
        let mut fields = Vec::new();
        for c in &b.columns {
            if c.id >= COL_FIELD_BASE {
                let idx = c.id - COL_FIELD_BASE;
                let name = &self.meta.field_names[idx as usize];
                let col = match cache.iter().position(|(i, _)| *i == idx) {
                    Some(i) => cache.swap_remove(i).1,
                    None => {
                        let bytes = self.read_column(block, c)?;
                        if bytes.first() == Some(&column::FIELD_TEMPLATE) {
                            self.ensure_field(block, idx, &mut cache, Nesting::Top)?;
                            let i = cache.iter().position(|(i, _)| *i == idx).ok_or_else(|| {
                                self.corrupt(block, format!("field {name:?} not decoded"))
                            })?;
                            cache.swap_remove(i).1
                        } else {
                            StrColumn::decode_field(bytes, count, Some(&raw))
                                .map_err(|e| self.corrupt(block, format!("field {name:?}: {e}")))?
                        }
                    }
                };
                fields.push((name.clone(), col));
            }
        }
        if let Some(pos) = time.windows(2).position(|w| w[1].0 < w[0].0) {
            return Err(self.corrupt(block, format!("timestamps out of order at row {}", pos + 1)));
        }
        if time.first().map(|t| t.0) != Some(b.min_ts) || time.last().map(|t| t.0) != Some(b.max_ts)
        {
            return Err(self.corrupt(block, "timestamps disagree with the block summary".into()));
        }
        Ok(DecodedBlock {
            time,
            ingest,
            ids,
            raw,
            fields,
        })
    }

    /// All events in time order (oldest first). Reads one block at a time.
    pub fn events(&self) -> impl Iterator<Item = Result<Event>> + '_ {
        BlockEvents::new(self, false)
    }

    /// All events newest first, as searches return them.
    pub fn events_rev(&self) -> impl Iterator<Item = Result<Event>> + '_ {
        BlockEvents::new(self, true)
    }
}

fn read_at(source: &Source, path: &Path, buf: &mut [u8], offset: u64) -> Result<()> {
    match source {
        Source::File(f) => f
            .read_exact_at(buf, offset)
            .map_err(|e| SegmentError::io(path, e)),
        Source::Memory(m) => {
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            let slice = start
                .checked_add(buf.len())
                .and_then(|end| m.get(start..end))
                .ok_or_else(|| SegmentError::Corrupt {
                    path: path.to_path_buf(),
                    block: None,
                    what: format!("read of {} bytes at {offset} runs past the end", buf.len()),
                })?;
            buf.copy_from_slice(slice);
            Ok(())
        }
    }
}

/// Every column of one block, decoded.
#[derive(Debug, Clone)]
pub struct DecodedBlock {
    pub time: Vec<(i64, u32)>,
    pub ingest: Vec<i64>,
    pub ids: Vec<EventId>,
    pub raw: StrColumn,
    pub fields: Vec<(String, StrColumn)>,
}

impl DecodedBlock {
    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Materialises row `row` as an event.
    pub fn event(&self, row: usize) -> Event {
        let (timestamp, timestamp_nanos) = self.time[row];
        Event {
            timestamp,
            timestamp_nanos,
            ingest_timestamp: self.ingest[row],
            id: self.ids[row],
            raw: self.raw.get(row).unwrap_or_default().to_string(),
            fields: self
                .fields
                .iter()
                .filter_map(|(n, c)| c.get(row).map(|v| (n.clone(), v.to_string())))
                .collect(),
        }
    }
}

struct BlockEvents<'r> {
    reader: &'r SegmentReader,
    reverse: bool,
    next_block: usize,
    current: Option<(DecodedBlock, std::ops::Range<usize>)>,
    failed: bool,
}

impl<'r> BlockEvents<'r> {
    fn new(reader: &'r SegmentReader, reverse: bool) -> Self {
        BlockEvents {
            reader,
            reverse,
            next_block: 0,
            current: None,
            failed: false,
        }
    }
}

impl Iterator for BlockEvents<'_> {
    type Item = Result<Event>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            if let Some((block, rows)) = &mut self.current {
                let row = if self.reverse {
                    rows.next_back()
                } else {
                    rows.next()
                };
                if let Some(row) = row {
                    return Some(Ok(block.event(row)));
                }
            }
            let n = self.reader.meta.blocks.len();
            if self.next_block >= n {
                return None;
            }
            let idx = if self.reverse {
                n - 1 - self.next_block
            } else {
                self.next_block
            };
            self.next_block += 1;
            match self.reader.read_block(idx) {
                Ok(b) => {
                    let len = b.len();
                    self.current = Some((b, 0..len));
                }
                Err(e) => {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
    }
}
