//! Column encodings inside a block. Each column is compressed on its own so a query that reads
//! one field never decompresses `@rawstring`, and vice versa.
//!
//! This module holds what the encodings share: the column ids, the field-column mode bytes, the
//! decoded [`StrColumn`] and the dispatch on a field column's mode. Each encoding has its own
//! file, which documents its bytes:
//!
//! - time (id 0), ingest (id 1), id (id 2): `numeric.rs`;
//! - raw (id 3), and field columns of mode 0 (inline): `strings.rs`;
//! - field columns of mode 1 (references into `@rawstring`, format version 1 only):
//!   `raw_refs.rs`;
//! - field columns of mode 2 (dictionary, for low-cardinality fields): `dict.rs`;
//! - raw template (id 4, format version 2; a block has id 3 or id 4), and field columns of
//!   mode 3 (composite: long values such as messages that embed other fields' values):
//!   `template/`.
//!
//! A field column has id 16 + n, where n indexes the segment's field-name table, and starts
//! with its mode byte.

mod dict;
mod numeric;
mod raw_refs;
mod strings;
mod template;

pub(crate) use dict::encode_field_v2;
pub(crate) use numeric::{
    decode_id, decode_ingest, decode_time, encode_id, encode_ingest, encode_time,
};
pub(crate) use strings::encode_raw;
pub(crate) use template::{composite_candidates, encode_composite, encode_template, Templates};

pub(crate) const COL_TIME: u32 = 0;
pub(crate) const COL_INGEST: u32 = 1;
pub(crate) const COL_ID: u32 = 2;
pub(crate) const COL_RAW: u32 = 3;
pub(crate) const COL_TEMPLATE: u32 = 4;
pub(crate) const COL_FIELD_BASE: u32 = 16;

pub(crate) const FIELD_INLINE: u8 = 0;
pub(crate) const FIELD_RAW_REFS: u8 = 1;
pub(crate) const FIELD_DICT: u8 = 2;
pub(crate) const FIELD_TEMPLATE: u8 = 3;

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

    /// Decodes a field column of mode 0, 1 or 2; `raw` (the block's raw column) is needed for
    /// mode 1. Composite columns (mode 3) need their slots: the reader resolves them.
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
            FIELD_DICT => StrColumn::decode_dict(&bytes[1..], count),
            FIELD_RAW_REFS => StrColumn::decode_raw_refs(&bytes[1..], count, raw),
            other => Err(format!("unknown field column mode {other}")),
        }
    }

    /// A column from decoded bytes, once they are valid UTF-8 with every offset on a character
    /// boundary (the invariant [`get`](Self::get) relies on).
    fn checked(
        data: Vec<u8>,
        offsets: Vec<u32>,
        present: Option<Vec<bool>>,
    ) -> Result<StrColumn, String> {
        let data = String::from_utf8(data).map_err(|e| {
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

#[cfg(test)]
mod tests {
    use super::strings::encode_strings;
    use super::*;

    proptest::proptest! {
        /// Arbitrary bytes as a field column of any mode never panic its decoder.
        #[test]
        fn arbitrary_field_bytes_never_panic(mode in 0u8..4, bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), count in 0usize..6) {
            let mut col = vec![mode];
            col.extend_from_slice(&bytes);
            let raw = StrColumn::decode(encode_strings((0..count).map(|_| Some("raw"))), count, true).unwrap();
            let _ = StrColumn::decode_field(col.clone(), count, Some(&raw));
            let _ = StrColumn::decode_field(col, count, None);
        }
    }

    /// Row counts come from the footer, which a valid-checksum hostile file controls: a huge
    /// count over a few bytes is an error, never an allocation of the claimed size.
    #[test]
    fn huge_row_counts_over_small_columns_are_errors() {
        let huge = u32::MAX as usize;
        assert!(decode_time(&[0, 0, 0, 0], huge).is_err());
        assert!(decode_ingest(&[0, 0], huge).is_err());
        assert!(decode_id(&[0, 0, 0, 0, 0, 0], huge).is_err());
        assert!(StrColumn::decode(vec![0, 0], huge, false).is_err());
        assert!(StrColumn::decode(vec![0, 0], huge, true).is_err());
        let raw = StrColumn::decode(encode_strings([Some("raw")].into_iter()), 1, true).unwrap();
        for mode in [FIELD_INLINE, FIELD_DICT, FIELD_RAW_REFS] {
            let col = vec![mode, 0, 0, 0];
            assert!(
                StrColumn::decode_field(col, huge, Some(&raw)).is_err(),
                "mode {mode}"
            );
        }
        assert!(Templates::decode(vec![0, 0, 0, 0], huge, true).is_err());
    }
}
