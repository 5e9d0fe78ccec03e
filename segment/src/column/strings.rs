//! Length-prefixed strings: the raw column (id 3) and inline field columns (mode 0). The
//! lengths come first and the bytes back to back, so a decoded column is the chunk's tail as
//! it is plus offsets, not a copy value by value.
//!
//! - raw: `count` varint lengths, then the strings back to back.
//! - field mode 0, inline: `count` varints of `length + 1` (0 = the event lacks the field),
//!   then the present values back to back.

use super::{StrColumn, FIELD_INLINE};
use crate::codec::{put_varint, Dec};
use crate::event::Event;

/// Encodes a field column inline (mode 0).
pub(crate) fn encode_field_inline(values: &[Option<&str>]) -> Vec<u8> {
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

impl StrColumn {
    pub(crate) fn decode(
        bytes: Vec<u8>,
        count: usize,
        optional: bool,
    ) -> Result<StrColumn, String> {
        let mut d = Dec::new(&bytes);
        // `count` comes from the footer; every row takes at least a byte.
        let rows = count.min(d.remaining());
        let mut offsets = Vec::with_capacity(rows + 1);
        let mut present = if optional {
            Some(Vec::with_capacity(rows))
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
        StrColumn::checked(bytes, offsets, present)
    }
}
