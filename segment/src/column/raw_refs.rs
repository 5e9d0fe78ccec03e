//! Reference field columns (mode 1), written by format version 1 only: a field value found
//! verbatim in its event's raw string is stored as its position there. Version 2 turned this
//! round (raw templates refer to the field columns, so fields decode without `@rawstring`);
//! the decoder stays for version-1 files, and the encoder for testing it.
//!
//! Layout: per row a varint `t` — 0 absent, 1 inline (a varint length, the bytes go to the
//! tail), `t >= 2` the value is the row's raw string at byte `t - 2` with a varint length
//! following — then the tail of inline values.

use super::StrColumn;
#[cfg(test)]
use super::{strings::encode_strings, FIELD_INLINE, FIELD_RAW_REFS};
#[cfg(test)]
use crate::codec::put_varint;
use crate::codec::Dec;

/// Encodes a field column, choosing reference mode when it pays (see the module docs). Format
/// version 1 wrote this; version 2 writes raw templates instead, and the reader still decodes
/// both, so it stays for testing that.
#[cfg(test)]
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

impl StrColumn {
    /// Decodes a reference field column, `bytes` without its mode byte, against the block's
    /// raw column.
    pub(super) fn decode_raw_refs(
        bytes: &[u8],
        count: usize,
        raw: Option<&StrColumn>,
    ) -> Result<StrColumn, String> {
        let raw =
            raw.ok_or_else(|| "reference-mode field decoded without its raw column".to_string())?;
        let mut d = Dec::new(bytes);
        // Per row: None absent, Ok(range in the row's raw string), Err(inline length).
        let mut refs: Vec<Option<Result<(usize, usize), usize>>> =
            Vec::with_capacity(count.min(d.remaining()));
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
        let tail = std::str::from_utf8(&bytes[d.pos..])
            .map_err(|_| "inline field values are not valid UTF-8".to_string())?;
        let mut data = String::new();
        let mut offsets = Vec::with_capacity(refs.len() + 1);
        let mut present = Vec::with_capacity(refs.len());
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
                    let v = tail
                        .get(tail_pos..tail_pos + len)
                        .ok_or_else(|| format!("row {row}: inline value runs past the column"))?;
                    data.push_str(v);
                    tail_pos += len;
                }
            }
            offsets
                .push(u32::try_from(data.len()).map_err(|_| "field column too large".to_string())?);
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
