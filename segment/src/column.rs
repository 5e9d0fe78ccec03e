//! Column encodings inside a block. Each column is compressed on its own so a query that reads
//! one field never decompresses `@rawstring`, and vice versa.
//!
//! - time (id 0): per event, zigzag varint of the delta to the previous `@timestamp`, then a
//!   varint of the sub-millisecond nanoseconds.
//! - ingest (id 1): zigzag varint deltas of the ingest timestamp.
//! - id (id 2): per event varint partition, zigzag varint offset delta, varint index.
//! - raw (id 3): `count` varint lengths, then the strings back to back.
//! - field (id 16 + n, n indexes the segment's field-name table), a mode byte then:
//!   - mode 0, inline: `count` varints of `length + 1` (0 = the event lacks the field), then the
//!     present values back to back;
//!   - mode 1, references into `@rawstring`: per row a varint `t` — 0 absent, 1 inline (a varint
//!     length, the bytes go to the tail), `t >= 2` the value is the row's raw string at byte
//!     `t - 2` with a varint length following — then the tail. Used for high-cardinality
//!     fields whose values appear verbatim in the raw string (JSON, kv), so they are not stored
//!     twice; low-cardinality fields stay inline so `groupBy(status)` never reads the raw column.

use crate::codec::{put_varint, unzigzag, zigzag, Dec};
use crate::event::{Event, EventId};

pub(crate) const COL_TIME: u32 = 0;
pub(crate) const COL_INGEST: u32 = 1;
pub(crate) const COL_ID: u32 = 2;
pub(crate) const COL_RAW: u32 = 3;
pub(crate) const COL_FIELD_BASE: u32 = 16;

pub(crate) fn encode_time(events: &[Event]) -> Vec<u8> {
    let mut b = Vec::with_capacity(events.len() * 4);
    let mut prev = 0i64;
    for e in events {
        put_varint(&mut b, zigzag(e.timestamp.wrapping_sub(prev)));
        put_varint(&mut b, u64::from(e.timestamp_nanos));
        prev = e.timestamp;
    }
    b
}

pub(crate) fn encode_ingest(events: &[Event]) -> Vec<u8> {
    let mut b = Vec::with_capacity(events.len() * 2);
    let mut prev = 0i64;
    for e in events {
        put_varint(&mut b, zigzag(e.ingest_timestamp.wrapping_sub(prev)));
        prev = e.ingest_timestamp;
    }
    b
}

pub(crate) fn encode_id(events: &[Event]) -> Vec<u8> {
    let mut b = Vec::with_capacity(events.len() * 4);
    let mut prev = 0u64;
    for e in events {
        put_varint(&mut b, u64::from(e.id.partition));
        put_varint(&mut b, zigzag(e.id.offset.wrapping_sub(prev) as i64));
        put_varint(&mut b, u64::from(e.id.index));
        prev = e.id.offset;
    }
    b
}

pub(crate) const FIELD_INLINE: u8 = 0;
pub(crate) const FIELD_RAW_REFS: u8 = 1;

/// Encodes a field column, choosing reference mode when it pays (see the module docs).
pub(crate) fn encode_field(values: &[Option<&str>], raws: &[&str]) -> Vec<u8> {
    let present: Vec<&str> = values.iter().flatten().copied().collect();
    let total: usize = present.iter().map(|v| v.len()).sum();
    let worth_trying = present.len() >= 8 && total >= present.len() * 4 && {
        let distinct: rustc_hash::FxHashSet<&str> = present.iter().copied().collect();
        distinct.len() * 8 > present.len()
    };
    if worth_trying {
        let mut head = vec![FIELD_RAW_REFS];
        let mut tail = Vec::new();
        let mut found = 0usize;
        // Structured logs put a field at about the same place in every line: try the previous
        // row's position before searching.
        let mut hint = 0usize;
        for (v, raw) in values.iter().zip(raws) {
            match v {
                None => put_varint(&mut head, 0),
                Some("") => {
                    put_varint(&mut head, 1);
                    put_varint(&mut head, 0);
                }
                Some(v) => match raw
                    .as_bytes()
                    .get(hint..hint + v.len())
                    .filter(|s| *s == v.as_bytes())
                    .map(|_| hint)
                    .or_else(|| memchr::memmem::find(raw.as_bytes(), v.as_bytes()))
                {
                    Some(at) => {
                        hint = at;
                        found += 1;
                        put_varint(&mut head, at as u64 + 2);
                        put_varint(&mut head, v.len() as u64);
                    }
                    None => {
                        put_varint(&mut head, 1);
                        put_varint(&mut head, v.len() as u64);
                        tail.extend_from_slice(v.as_bytes());
                    }
                },
            }
        }
        if found * 10 >= present.len() * 9 {
            head.extend_from_slice(&tail);
            return head;
        }
    }
    let mut b = vec![FIELD_INLINE];
    b.extend_from_slice(&encode_strings(values.iter().copied()));
    b
}

pub(crate) fn encode_strings<'a>(values: impl Iterator<Item = Option<&'a str>> + Clone) -> Vec<u8> {
    let mut b = Vec::new();
    let mut total = 0usize;
    for v in values.clone() {
        match v {
            Some(s) => {
                put_varint(&mut b, s.len() as u64 + 1);
                total += s.len();
            }
            None => put_varint(&mut b, 0),
        }
    }
    b.reserve(total);
    for s in values.flatten() {
        b.extend_from_slice(s.as_bytes());
    }
    b
}

pub(crate) fn encode_raw(events: &[Event]) -> Vec<u8> {
    let mut b = Vec::new();
    let mut total = 0;
    for e in events {
        put_varint(&mut b, e.raw.len() as u64);
        total += e.raw.len();
    }
    b.reserve(total);
    for e in events {
        b.extend_from_slice(e.raw.as_bytes());
    }
    b
}

/// A decoded column of strings (`@rawstring` or a field): values back to back plus offsets.
#[derive(Debug, Clone, Default)]
pub struct StrColumn {
    /// All present values concatenated (valid UTF-8, every offset on a char boundary).
    pub data: String,
    /// `offsets[i]..offsets[i + 1]` is row i's value; absent rows have an empty range.
    pub offsets: Vec<u32>,
    /// Per row: does the event have this field. `None` means every row does.
    pub present: Option<Vec<bool>>,
}

impl StrColumn {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `row`'s value, `None` when the event lacks the field or the row is out of range.
    #[inline]
    pub fn get(&self, row: usize) -> Option<&str> {
        if let Some(p) = &self.present {
            if !*p.get(row)? {
                return None;
            }
        }
        let a = *self.offsets.get(row)? as usize;
        let b = *self.offsets.get(row + 1)? as usize;
        self.data.get(a..b)
    }

    /// Row index that byte position `pos` of `data` belongs to (the data must be non-empty).
    #[inline]
    pub fn row_of(&self, pos: usize) -> usize {
        // offsets is sorted; the row is the last offset <= pos (skipping empty rows).
        self.offsets.partition_point(|&o| o as usize <= pos) - 1
    }

    /// Decodes a field column of either mode; `raw` (the block's raw column) is needed for
    /// mode 1 — see [`field_needs_raw`].
    pub(crate) fn decode_field(
        mut bytes: Vec<u8>,
        count: usize,
        raw: Option<&StrColumn>,
    ) -> Result<StrColumn, String> {
        let Some(&mode) = bytes.first() else {
            return Err("field column is empty".into());
        };
        match mode {
            FIELD_INLINE => {
                bytes.remove(0);
                StrColumn::decode(bytes, count, true)
            }
            FIELD_RAW_REFS => {
                let raw = raw.ok_or_else(|| {
                    "reference-mode field decoded without its raw column".to_string()
                })?;
                let mut d = Dec::new(&bytes[1..]);
                // Per row: None absent, Ok(range in the row's raw string), Err(inline length).
                let mut refs: Vec<Option<Result<(usize, usize), usize>>> =
                    Vec::with_capacity(count);
                for row in 0..count {
                    let t = d.varint("field reference")?;
                    refs.push(match t {
                        0 => None,
                        1 => Some(Err(d.varint("inline length")? as usize)),
                        _ => {
                            let start = (t - 2) as usize;
                            let len = d.varint("reference length")? as usize;
                            let row_raw = raw
                                .get(row)
                                .ok_or_else(|| format!("row {row} has no raw string"))?;
                            if start.checked_add(len).is_none_or(|e| e > row_raw.len())
                                || !row_raw.is_char_boundary(start)
                                || !row_raw.is_char_boundary(start + len)
                            {
                                return Err(format!(
                                    "row {row}: reference {start}+{len} is outside its raw string"
                                ));
                            }
                            Some(Ok((start, len)))
                        }
                    });
                }
                let tail = std::str::from_utf8(&bytes[1 + d.pos..])
                    .map_err(|_| "inline field values are not valid UTF-8".to_string())?;
                let mut data = String::new();
                let mut offsets = Vec::with_capacity(count + 1);
                let mut present = Vec::with_capacity(count);
                let mut tail_pos = 0usize;
                offsets.push(0u32);
                for (row, r) in refs.into_iter().enumerate() {
                    match r {
                        None => present.push(false),
                        Some(Ok((start, len))) => {
                            present.push(true);
                            data.push_str(
                                raw.get(row)
                                    .and_then(|s| s.get(start..start + len))
                                    .unwrap_or_default(),
                            );
                        }
                        Some(Err(len)) => {
                            present.push(true);
                            let v = tail.get(tail_pos..tail_pos + len).ok_or_else(|| {
                                format!("row {row}: inline value runs past the column")
                            })?;
                            data.push_str(v);
                            tail_pos += len;
                        }
                    }
                    offsets.push(
                        u32::try_from(data.len())
                            .map_err(|_| "field column too large".to_string())?,
                    );
                }
                if tail_pos != tail.len() {
                    return Err(format!(
                        "field column has {} trailing bytes",
                        tail.len() - tail_pos
                    ));
                }
                Ok(StrColumn {
                    data,
                    offsets,
                    present: Some(present),
                })
            }
            other => Err(format!("unknown field column mode {other}")),
        }
    }

    pub(crate) fn decode(
        bytes: Vec<u8>,
        count: usize,
        optional: bool,
    ) -> Result<StrColumn, String> {
        let mut d = Dec::new(&bytes);
        let mut offsets = Vec::with_capacity(count + 1);
        let mut present = if optional {
            Some(Vec::with_capacity(count))
        } else {
            None
        };
        let mut total: u64 = 0;
        offsets.push(0u32);
        for row in 0..count {
            let v = d.varint("string length")?;
            let len = match &mut present {
                Some(p) => {
                    p.push(v != 0);
                    v.saturating_sub(1)
                }
                None => v,
            };
            total += len;
            if total > u32::MAX as u64 {
                return Err(format!("string lengths overflow at row {row}"));
            }
            offsets.push(total as u32);
        }
        let start = d.pos;
        if (bytes.len() - start) as u64 != total {
            return Err(format!(
                "string data is {} bytes, the lengths add up to {total}",
                bytes.len() - start
            ));
        }
        let mut bytes = bytes;
        bytes.drain(..start);
        let data = String::from_utf8(bytes).map_err(|e| {
            format!(
                "string data is not valid UTF-8 at byte {}",
                e.utf8_error().valid_up_to()
            )
        })?;
        if let Some(bad) = offsets
            .iter()
            .find(|&&o| !data.is_char_boundary(o as usize))
        {
            return Err(format!("string boundary {bad} splits a UTF-8 character"));
        }
        Ok(StrColumn {
            data,
            offsets,
            present,
        })
    }
}

/// True when a field column's bytes need the raw column to decode (reference mode).
pub(crate) fn field_needs_raw(bytes: &[u8]) -> bool {
    bytes.first() == Some(&FIELD_RAW_REFS)
}

pub(crate) fn decode_time(bytes: &[u8], count: usize) -> Result<Vec<(i64, u32)>, String> {
    let mut d = Dec::new(bytes);
    let mut out = Vec::with_capacity(count);
    let mut prev = 0i64;
    for _ in 0..count {
        let ts = prev.wrapping_add(unzigzag(d.varint("timestamp delta")?));
        let nanos = d.varint("timestamp nanos")?;
        if nanos >= 1_000_000 {
            return Err(format!("sub-millisecond nanos {nanos} out of range"));
        }
        out.push((ts, nanos as u32));
        prev = ts;
    }
    trailing(&d, "time")?;
    Ok(out)
}

pub(crate) fn decode_ingest(bytes: &[u8], count: usize) -> Result<Vec<i64>, String> {
    let mut d = Dec::new(bytes);
    let mut out = Vec::with_capacity(count);
    let mut prev = 0i64;
    for _ in 0..count {
        prev = prev.wrapping_add(unzigzag(d.varint("ingest delta")?));
        out.push(prev);
    }
    trailing(&d, "ingest")?;
    Ok(out)
}

pub(crate) fn decode_id(bytes: &[u8], count: usize) -> Result<Vec<EventId>, String> {
    let mut d = Dec::new(bytes);
    let mut out = Vec::with_capacity(count);
    let mut prev = 0u64;
    for _ in 0..count {
        let partition = u32::try_from(d.varint("id partition")?)
            .map_err(|_| "id partition exceeds 32 bits".to_string())?;
        let offset = prev.wrapping_add(unzigzag(d.varint("id offset")?) as u64);
        let index = u32::try_from(d.varint("id index")?)
            .map_err(|_| "id index exceeds 32 bits".to_string())?;
        out.push(EventId {
            partition,
            offset,
            index,
        });
        prev = offset;
    }
    trailing(&d, "id")?;
    Ok(out)
}

fn trailing(d: &Dec<'_>, what: &str) -> Result<(), String> {
    if d.remaining() != 0 {
        return Err(format!(
            "{what} column has {} trailing bytes",
            d.remaining()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_cardinality_fields_found_in_raw_become_references() {
        let raws: Vec<String> = (0..20)
            .map(|i| format!(r#"{{"trace":"t{i:05}x","level":"INFO"}}"#))
            .collect();
        let raw_refs: Vec<&str> = raws.iter().map(String::as_str).collect();
        let traces: Vec<String> = (0..20).map(|i| format!("t{i:05}x")).collect();
        let mut values: Vec<Option<&str>> = traces.iter().map(|t| Some(t.as_str())).collect();
        values[3] = None;
        values[4] = Some("not-in-raw");
        let enc = encode_field(&values, &raw_refs);
        assert_eq!(enc[0], FIELD_RAW_REFS);
        let raw_col =
            StrColumn::decode(encode_strings(raw_refs.iter().map(|r| Some(*r))), 20, true).unwrap();
        let dec = StrColumn::decode_field(enc, 20, Some(&raw_col)).unwrap();
        for (i, v) in values.iter().enumerate() {
            assert_eq!(dec.get(i), *v, "row {i}");
        }
        assert!(StrColumn::decode_field(encode_field(&values, &raw_refs), 20, None).is_err());
        // Low-cardinality fields stay inline so reading them never needs the raw column.
        let levels = vec![Some("INFO"); 20];
        assert_eq!(encode_field(&levels, &raw_refs)[0], FIELD_INLINE);
    }
}
