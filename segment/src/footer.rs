//! The segment header, footer and trailer (see `segment/FORMAT.md` for the byte layout).

use std::collections::BTreeMap;

use crate::codec::{Codec, Dec, Enc};
use crate::event::{Datasource, OffsetRange};
use crate::filter::Filter;

pub(crate) const MAGIC: &[u8; 8] = b"STRATSEG";
pub(crate) const TRAILER_MAGIC: &[u8; 8] = b"STRATEND";
/// The format version this build writes and the newest it reads.
pub const FORMAT_VERSION: u16 = 2;
pub(crate) const HEADER_LEN: u64 = 16;
pub(crate) const TRAILER_LEN: u64 = 24;
/// Largest uncompressed column chunk a reader accepts (a guard against corrupt lengths).
pub(crate) const MAX_COLUMN_BYTES: u32 = 256 << 20;

pub(crate) fn encode_header(codec: Codec) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[..8].copy_from_slice(MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[10] = codec.id();
    h
}

/// Where one compressed column chunk lives in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnMeta {
    /// Column id: 0 time, 1 ingest, 2 id, 3 raw, 4 raw template, 16 + n field n of the field
    /// table.
    pub id: u32,
    pub offset: u64,
    pub compressed_len: u32,
    pub uncompressed_len: u32,
    /// crc32 (IEEE) of the compressed bytes.
    pub crc: u32,
}

/// Summary and directory entry of one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockMeta {
    pub min_ts: i64,
    pub max_ts: i64,
    pub count: u32,
    /// Uncompressed bytes of `@rawstring` in the block.
    pub raw_bytes: u64,
    pub filter: Filter,
    pub columns: Vec<ColumnMeta>,
}

impl BlockMeta {
    pub(crate) fn column(&self, id: u32) -> Option<&ColumnMeta> {
        self.columns.iter().find(|c| c.id == id)
    }
}

/// Everything the footer says about a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentMeta {
    pub codec: Codec,
    pub datasource: Datasource,
    pub event_count: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    /// Total uncompressed `@rawstring` bytes.
    pub raw_bytes: u64,
    /// Queue offsets the events came from, merged into ranges.
    pub offsets: Vec<OffsetRange>,
    /// Names of the fields with columns; column `16 + n` holds field `n`.
    pub field_names: Vec<String>,
    pub blocks: Vec<BlockMeta>,
}

pub(crate) fn encode_footer(m: &SegmentMeta) -> Vec<u8> {
    let mut e = Enc::default();
    e.str(&m.datasource.repo);
    e.u32(m.datasource.tags.len() as u32);
    for (k, v) in &m.datasource.tags {
        e.str(k);
        e.str(v);
    }
    e.u64(m.event_count);
    e.i64(m.min_ts);
    e.i64(m.max_ts);
    e.u64(m.raw_bytes);
    e.u32(m.offsets.len() as u32);
    for r in &m.offsets {
        e.u32(r.partition);
        e.u64(r.first);
        e.u64(r.last);
    }
    e.u32(m.field_names.len() as u32);
    for f in &m.field_names {
        e.str(f);
    }
    e.u32(m.blocks.len() as u32);
    for b in &m.blocks {
        e.i64(b.min_ts);
        e.i64(b.max_ts);
        e.u32(b.count);
        e.u64(b.raw_bytes);
        b.filter.encode(&mut e);
        e.u32(b.columns.len() as u32);
        for c in &b.columns {
            e.u32(c.id);
            e.u64(c.offset);
            e.u32(c.compressed_len);
            e.u32(c.uncompressed_len);
            e.u32(c.crc);
        }
    }
    e.buf
}

/// Decodes and validates a footer; `data_end` is where column data must end (footer offset).
pub(crate) fn decode_footer(
    bytes: &[u8],
    codec: Codec,
    data_end: u64,
    version: u16,
) -> Result<SegmentMeta, String> {
    let mut d = Dec::new(bytes);
    let repo = d.str("datasource repository")?;
    let ntags = d.count("tag count", 8)?;
    let mut tags = BTreeMap::new();
    for _ in 0..ntags {
        let k = d.str("tag name")?;
        let v = d.str("tag value")?;
        tags.insert(k, v);
    }
    let event_count = d.u64("event count")?;
    let min_ts = d.i64("min timestamp")?;
    let max_ts = d.i64("max timestamp")?;
    let raw_bytes = d.u64("raw bytes")?;
    let noff = d.count("offset range count", 20)?;
    let mut offsets = Vec::with_capacity(noff);
    for _ in 0..noff {
        let partition = d.u32("offset partition")?;
        let first = d.u64("first offset")?;
        let last = d.u64("last offset")?;
        if last < first {
            return Err(format!("offset range {first}..{last} is reversed"));
        }
        offsets.push(OffsetRange {
            partition,
            first,
            last,
        });
    }
    let nfields = d.count("field count", 4)?;
    let mut field_names = Vec::with_capacity(nfields);
    for _ in 0..nfields {
        field_names.push(d.str("field name")?);
    }
    let nblocks = d.count("block count", 40)?;
    let mut blocks = Vec::with_capacity(nblocks);
    let mut total: u64 = 0;
    for bi in 0..nblocks {
        let bmin = d.i64("block min timestamp")?;
        let bmax = d.i64("block max timestamp")?;
        let count = d.u32("block event count")?;
        let braw = d.u64("block raw bytes")?;
        let filter = Filter::decode(&mut d, version).map_err(|e| format!("block {bi}: {e}"))?;
        let ncols = d.count("column count", 24)?;
        let mut columns = Vec::with_capacity(ncols);
        for _ in 0..ncols {
            let c = ColumnMeta {
                id: d.u32("column id")?,
                offset: d.u64("column offset")?,
                compressed_len: d.u32("column length")?,
                uncompressed_len: d.u32("column uncompressed length")?,
                crc: d.u32("column crc")?,
            };
            let end = c.offset.checked_add(u64::from(c.compressed_len));
            if c.offset < HEADER_LEN || end.is_none_or(|e| e > data_end) {
                return Err(format!(
                    "block {bi} column {} lies outside the data area",
                    c.id
                ));
            }
            if c.uncompressed_len > MAX_COLUMN_BYTES {
                return Err(format!(
                    "block {bi} column {} claims {} uncompressed bytes",
                    c.id, c.uncompressed_len
                ));
            }
            if c.id >= crate::column::COL_FIELD_BASE
                && (c.id - crate::column::COL_FIELD_BASE) as usize >= field_names.len()
            {
                return Err(format!("block {bi} names unknown field column {}", c.id));
            }
            columns.push(c);
        }
        for needed in [
            crate::column::COL_TIME,
            crate::column::COL_INGEST,
            crate::column::COL_ID,
        ] {
            if !columns.iter().any(|c| c.id == needed) {
                return Err(format!("block {bi} lacks column {needed}"));
            }
        }
        let raws = columns
            .iter()
            .filter(|c| c.id == crate::column::COL_RAW || c.id == crate::column::COL_TEMPLATE)
            .count();
        if raws != 1 {
            return Err(format!(
                "block {bi} has {raws} raw columns (3 or 4), needs exactly one"
            ));
        }
        if bmin > bmax || count == 0 {
            return Err(format!("block {bi} has an empty or reversed summary"));
        }
        total += u64::from(count);
        blocks.push(BlockMeta {
            min_ts: bmin,
            max_ts: bmax,
            count,
            raw_bytes: braw,
            filter,
            columns,
        });
    }
    if d.remaining() != 0 {
        return Err(format!("footer has {} trailing bytes", d.remaining()));
    }
    if total != event_count {
        return Err(format!(
            "blocks hold {total} events, the footer says {event_count}"
        ));
    }
    Ok(SegmentMeta {
        codec,
        datasource: Datasource { repo, tags },
        event_count,
        min_ts,
        max_ts,
        raw_bytes,
        offsets,
        field_names,
        blocks,
    })
}

/// Merges offset ranges that touch or overlap, per partition.
pub(crate) fn normalize_offsets(mut v: Vec<OffsetRange>) -> Vec<OffsetRange> {
    v.sort();
    let mut out: Vec<OffsetRange> = Vec::with_capacity(v.len());
    for r in v {
        if let Some(last) = out.last_mut() {
            if last.partition == r.partition && r.first <= last.last.saturating_add(1) {
                last.last = last.last.max(r.last);
                continue;
            }
        }
        out.push(r);
    }
    out
}
