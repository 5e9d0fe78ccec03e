//! Streaming segment writer. Events must arrive in segment order ([`Event::sort_key`]); they
//! are buffered one block at a time, so memory stays bounded by the block size whatever the
//! segment's total size. The file appears at its final path only when complete and fsynced.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::codec::Codec;
use crate::column::{self, COL_FIELD_BASE, COL_ID, COL_INGEST, COL_RAW, COL_TEMPLATE, COL_TIME};
use crate::error::{Result, SegmentError};
use crate::event::{Datasource, Event, EventId, OffsetRange};
use crate::filter::FilterBuilder;
use crate::footer::{self, BlockMeta, ColumnMeta, SegmentMeta, HEADER_LEN, TRAILER_MAGIC};

/// Most (distinct fields × events) cells one block may hold. The writer lays out a full-length
/// column per distinct field of a block, so a block of many events with many distinct field
/// names (hostile or just very sparse data) would need fields × events memory; a block is cut
/// before an event would take it past this. 4 Mi cells is 64 MiB of column slots, far above
/// what ordinary logs reach (32 Ki events × 128 fields).
pub const MAX_BLOCK_CELLS: usize = 4 << 20;

/// Tuning of a writer.
#[derive(Clone, Copy, Debug)]
pub struct WriterOptions {
    pub codec: Codec,
    /// Close a block once its uncompressed raw + field bytes reach this.
    pub block_bytes: usize,
    /// Close a block once it holds this many events.
    pub max_block_events: usize,
    /// Build Bloom filters. Without them every block reads as "may match" (an all-ones
    /// filter): digest's minis skip the cost, since they are small, recent and soon merged.
    pub build_filters: bool,
    /// Store messages as composites over the other fields' values (see `FORMAT.md`): 15% smaller
    /// merged segments, a quarter of a mini's write time, so minis skip it.
    pub composite_fields: bool,
}

impl WriterOptions {
    /// Mini segments written during digest: LZ4, 512 KiB blocks.
    pub fn mini() -> Self {
        WriterOptions {
            codec: Codec::Lz4,
            block_bytes: 512 << 10,
            max_block_events: 32 << 10,
            build_filters: false,
            composite_fields: false,
        }
    }

    /// Merged segments: zstd level 9, 2 MiB blocks. Bigger blocks amortise what a block holds
    /// once whatever its size (templates, dictionaries, the trigrams of its filter): 2 MiB
    /// stores generated app logs at 15.4x against 13.9x for 1 MiB, at the same write speed.
    pub fn merged() -> Self {
        WriterOptions {
            codec: Codec::Zstd { level: 9 },
            block_bytes: 2 << 20,
            max_block_events: 64 << 10,
            build_filters: true,
            composite_fields: true,
        }
    }
}

/// What a finished segment looks like, for recording in Global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    pub path: PathBuf,
    pub event_count: u64,
    pub min_ts: i64,
    pub max_ts: i64,
    pub raw_bytes: u64,
    pub file_bytes: u64,
    /// crc32 of the whole file, for verifying copies (bucket, replicas).
    pub file_crc: u32,
    pub offsets: Vec<OffsetRange>,
    pub codec: Codec,
}

/// Writes one segment file. A writer dropped before `finish` leaves a `*.partial` file, which
/// is never read as a segment; owners delete such leftovers when they start.
pub struct SegmentWriter {
    path: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    pos: u64,
    opts: WriterOptions,
    datasource: Datasource,
    pending: Vec<Event>,
    pending_bytes: usize,
    /// Field-table index of every (event, field) of `pending`, in iteration order.
    pending_idxs: Vec<u32>,
    /// Distinct field-table indexes in `pending` (for [`MAX_BLOCK_CELLS`]).
    pending_fields: rustc_hash::FxHashSet<u32>,
    last_key: Option<(i64, u32, EventId)>,
    blocks: Vec<BlockMeta>,
    field_names: Vec<String>,
    field_index: rustc_hash::FxHashMap<String, u32>,
    offsets: BTreeMap<u32, (u64, u64)>,
    raw_bytes: u64,
    count: u64,
    filter: FilterBuilder,
    crc: crc32fast::Hasher,
}

impl SegmentWriter {
    /// Starts a segment at `path` (written as `path.partial` until [`finish`](Self::finish)).
    pub fn create(
        path: impl AsRef<Path>,
        datasource: Datasource,
        opts: WriterOptions,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut tmp = path.clone().into_os_string();
        tmp.push(".partial");
        let tmp = PathBuf::from(tmp);
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| SegmentError::io(&tmp, e))?;
        let mut w = SegmentWriter {
            path,
            tmp,
            out: BufWriter::with_capacity(256 << 10, file),
            pos: 0,
            opts,
            datasource,
            pending: Vec::new(),
            pending_bytes: 0,
            pending_idxs: Vec::new(),
            pending_fields: rustc_hash::FxHashSet::default(),
            last_key: None,
            blocks: Vec::new(),
            field_names: Vec::new(),
            field_index: rustc_hash::FxHashMap::default(),
            offsets: BTreeMap::new(),
            raw_bytes: 0,
            count: 0,
            filter: FilterBuilder::new(),
            crc: crc32fast::Hasher::new(),
        };
        w.write_all(&footer::encode_header(opts.codec))?;
        debug_assert_eq!(w.pos, HEADER_LEN);
        Ok(w)
    }

    fn write_all(&mut self, b: &[u8]) -> Result<()> {
        self.out
            .write_all(b)
            .map_err(|e| SegmentError::io(&self.tmp, e))?;
        self.crc.update(b);
        self.pos += b.len() as u64;
        Ok(())
    }

    /// Adds one event; it must not sort before the previous one.
    pub fn push(&mut self, event: Event) -> Result<()> {
        let key = event.sort_key();
        if let Some(last) = self.last_key {
            if key < last {
                return Err(SegmentError::Invalid(format!(
                    "event {} at {} arrives after {} at {}: segments are written in time order",
                    event.id, event.timestamp, last.2, last.0
                )));
            }
        }
        if event.timestamp_nanos >= 1_000_000 {
            return Err(SegmentError::Invalid(format!(
                "event {} has sub-millisecond part {} ns, must be below 1000000",
                event.id, event.timestamp_nanos
            )));
        }
        if event.raw.len() > u32::MAX as usize / 2 {
            return Err(SegmentError::Invalid(format!(
                "event {} is too large",
                event.id
            )));
        }
        self.last_key = Some(key);
        // Field values mostly repeat the raw string (which then stores a template in their
        // place) or are short, so blocks are sized by their raw bytes; the per-event constant
        // covers the rest.
        let size = event.raw.len() + 8 * event.fields.len() + 24;
        let r = self
            .offsets
            .entry(event.id.partition)
            .or_insert((event.id.offset, event.id.offset));
        r.0 = r.0.min(event.id.offset);
        r.1 = r.1.max(event.id.offset);
        let idxs: Vec<u32> = event.fields.keys().map(|k| self.field_idx(k)).collect();
        let new_fields = idxs
            .iter()
            .filter(|i| !self.pending_fields.contains(i))
            .count();
        let cells = (self.pending_fields.len() + new_fields) * (self.pending.len() + 1);
        if !self.pending.is_empty() && cells > MAX_BLOCK_CELLS {
            self.flush_block()?;
        }
        self.pending_fields.extend(idxs.iter().copied());
        self.pending_idxs.extend_from_slice(&idxs);
        self.pending_bytes += size;
        self.pending.push(event);
        if self.pending_bytes >= self.opts.block_bytes
            || self.pending.len() >= self.opts.max_block_events
        {
            self.flush_block()?;
        }
        Ok(())
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let events = std::mem::take(&mut self.pending);
        let idxs = std::mem::take(&mut self.pending_idxs);
        self.pending_fields.clear();
        self.pending_bytes = 0;
        let mut columns = Vec::new();
        let raw_bytes: u64 = events.iter().map(|e| e.raw.len() as u64).sum();
        let templates = column::encode_template(&events, &idxs);
        if self.opts.build_filters {
            let mut seen = rustc_hash::FxHashSet::default();
            let mut at = 0;
            for e in &events {
                self.filter.add_raw(e.raw.as_bytes());
                for ((k, v), &idx) in e.fields.iter().zip(&idxs[at..]) {
                    if templates.uncovered.contains(&idx) {
                        self.filter.add_field(k, v);
                    } else if seen.insert(idx) {
                        self.filter.cover_field(k);
                    }
                }
                at += e.fields.len();
            }
        }
        columns.push(self.write_column(COL_TIME, &column::encode_time(&events))?);
        columns.push(self.write_column(COL_INGEST, &column::encode_ingest(&events))?);
        columns.push(self.write_column(COL_ID, &column::encode_id(&events))?);
        match &templates.column {
            Some(t) => columns.push(self.write_column(COL_TEMPLATE, t)?),
            None => columns.push(self.write_column(COL_RAW, &column::encode_raw(&events))?),
        }
        // Field columns in field-table order, only for fields this block has.
        let mut by_field: Vec<Option<Vec<Option<&str>>>> = vec![None; self.field_names.len()];
        let mut at = 0;
        for (row, e) in events.iter().enumerate() {
            for (v, &idx) in e.fields.values().zip(&idxs[at..]) {
                let col = by_field[idx as usize].get_or_insert_with(|| vec![None; events.len()]);
                col[row] = Some(v.as_str());
            }
            at += e.fields.len();
        }
        let composite = if self.opts.composite_fields {
            column::composite_candidates(&by_field)
        } else {
            vec![false; by_field.len()]
        };
        for (idx, col) in by_field.iter().enumerate() {
            if let Some(col) = col {
                let bytes = match composite[idx] {
                    true => column::encode_composite(idx, &by_field, &composite),
                    false => None,
                }
                .unwrap_or_else(|| column::encode_field_v2(col));
                columns.push(self.write_column(COL_FIELD_BASE + idx as u32, &bytes)?);
            }
        }
        let filter = if self.opts.build_filters {
            self.filter.finish()
        } else {
            crate::filter::Filter::match_all()
        };
        let min_ts = events.first().map(|e| e.timestamp).unwrap_or_default();
        let max_ts = events.last().map(|e| e.timestamp).unwrap_or_default();
        self.count += events.len() as u64;
        self.raw_bytes += raw_bytes;
        self.blocks.push(BlockMeta {
            min_ts,
            max_ts,
            count: events.len() as u32,
            raw_bytes,
            filter,
            columns,
        });
        Ok(())
    }

    /// The segment-wide field-table index of `name`, added on first sight.
    fn field_idx(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.field_index.get(name) {
            return i;
        }
        let i = self.field_names.len() as u32;
        self.field_index.insert(name.to_string(), i);
        self.field_names.push(name.to_string());
        i
    }

    fn write_column(&mut self, id: u32, data: &[u8]) -> Result<ColumnMeta> {
        if data.len() > footer::MAX_COLUMN_BYTES as usize {
            return Err(SegmentError::Invalid(format!(
                "column {id} of a block would be {} bytes; lower block_bytes",
                data.len()
            )));
        }
        let compressed = self
            .opts
            .codec
            .compress(data)
            .map_err(SegmentError::Invalid)?;
        let meta = ColumnMeta {
            id,
            offset: self.pos,
            compressed_len: compressed.len() as u32,
            uncompressed_len: data.len() as u32,
            crc: crc32fast::hash(&compressed),
        };
        self.write_all(&compressed)?;
        Ok(meta)
    }

    /// Number of events pushed so far.
    pub fn event_count(&self) -> u64 {
        self.count + self.pending.len() as u64
    }

    /// Writes the footer, fsyncs, and moves the file to its final path (then fsyncs the
    /// directory), so a crash leaves either no segment or a complete one.
    pub fn finish(mut self) -> Result<SegmentSummary> {
        self.flush_block()?;
        if self.count == 0 {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(SegmentError::Invalid(
                "a segment needs at least one event".into(),
            ));
        }
        let offsets = footer::normalize_offsets(
            self.offsets
                .iter()
                .map(|(&partition, &(first, last))| OffsetRange {
                    partition,
                    first,
                    last,
                })
                .collect(),
        );
        let meta = SegmentMeta {
            codec: self.opts.codec,
            datasource: std::mem::take(&mut self.datasource),
            event_count: self.count,
            min_ts: self
                .blocks
                .iter()
                .map(|b| b.min_ts)
                .min()
                .unwrap_or_default(),
            max_ts: self
                .blocks
                .iter()
                .map(|b| b.max_ts)
                .max()
                .unwrap_or_default(),
            raw_bytes: self.raw_bytes,
            offsets: offsets.clone(),
            field_names: std::mem::take(&mut self.field_names),
            blocks: std::mem::take(&mut self.blocks),
        };
        let footer_bytes = footer::encode_footer(&meta);
        let footer_offset = self.pos;
        let mut trailer = Vec::with_capacity(24);
        trailer.extend_from_slice(&footer_offset.to_le_bytes());
        trailer.extend_from_slice(&(footer_bytes.len() as u32).to_le_bytes());
        trailer.extend_from_slice(&crc32fast::hash(&footer_bytes).to_le_bytes());
        trailer.extend_from_slice(TRAILER_MAGIC);
        self.write_all(&footer_bytes)?;
        self.write_all(&trailer)?;
        let tmp = self.tmp.clone();
        let file = self
            .out
            .into_inner()
            .map_err(|e| SegmentError::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| SegmentError::io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &self.path).map_err(|e| SegmentError::io(&self.path, e))?;
        sync_dir(&self.path)?;
        Ok(SegmentSummary {
            path: self.path,
            event_count: meta.event_count,
            min_ts: meta.min_ts,
            max_ts: meta.max_ts,
            raw_bytes: meta.raw_bytes,
            file_bytes: self.pos,
            file_crc: self.crc.finalize(),
            offsets,
            codec: meta.codec,
        })
    }
}

/// fsyncs the directory holding `path`, making a rename into it durable.
pub fn sync_dir(path: &Path) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| SegmentError::io(dir, e))
}
