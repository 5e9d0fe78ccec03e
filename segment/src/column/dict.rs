//! Dictionary field columns (mode 2, format version 2), for fields with few distinct values in
//! a block, and the choice between a dictionary and an inline column: either decodes without
//! the raw column, so either can be a template slot.
//!
//! Layout: a varint `d`, `d` values (varint length, bytes), then per row a varint (0 absent,
//! `i >= 1` value `i - 1`).

use super::strings::encode_field_inline;
use super::{StrColumn, FIELD_DICT};
use crate::codec::{put_varint, Dec};

/// Dictionary mode is used when a block's field has at most this many distinct values...
const DICT_MAX: usize = 4096;
/// ...and they are at most this fraction (1/n) of its present values.
const DICT_RATIO: usize = 8;

/// Encodes a field column as a dictionary (mode 2) when it has few distinct values (levels,
/// status codes, hosts, paths: one small number per row compresses far better than the
/// repeated text), else inline. Both decode without the raw column.
pub(crate) fn encode_field_v2(values: &[Option<&str>]) -> Vec<u8> {
    dict_encode(values).unwrap_or_else(|| encode_field_inline(values))
}

/// The dictionary encoding (mode 2) of a field column, `None` when it has too many distinct
/// values for one.
pub(super) fn dict_encode(values: &[Option<&str>]) -> Option<Vec<u8>> {
    let present = values.iter().flatten().count();
    let mut ids: rustc_hash::FxHashMap<&str, u64> = rustc_hash::FxHashMap::default();
    let mut dict: Vec<&str> = Vec::new();
    let limit = DICT_MAX.min(present / DICT_RATIO);
    for v in values.iter().flatten() {
        if !ids.contains_key(v) {
            if dict.len() >= limit {
                return None;
            }
            ids.insert(v, dict.len() as u64);
            dict.push(v);
        }
    }
    if dict.is_empty() {
        return None;
    }
    let mut b = vec![FIELD_DICT];
    put_varint(&mut b, dict.len() as u64);
    for v in &dict {
        put_varint(&mut b, v.len() as u64);
        b.extend_from_slice(v.as_bytes());
    }
    for v in values {
        put_varint(&mut b, v.map_or(0, |v| ids[v] + 1));
    }
    Some(b)
}

impl StrColumn {
    /// Decodes a dictionary field column, `bytes` without its mode byte.
    pub(super) fn decode_dict(bytes: &[u8], count: usize) -> Result<StrColumn, String> {
        let mut d = Dec::new(bytes);
        let n = d.varint("dictionary size")?;
        if n > d.remaining() as u64 {
            return Err(format!("dictionary of {n} values exceeds the column"));
        }
        let mut dict: Vec<&str> = Vec::with_capacity(n as usize);
        for i in 0..n {
            let len = d.varint("dictionary value length")? as usize;
            let v = d.take(len, "dictionary value")?;
            dict.push(
                std::str::from_utf8(v)
                    .map_err(|_| format!("dictionary value {i} is not valid UTF-8"))?,
            );
        }
        let mut data = String::new();
        let mut offsets = Vec::with_capacity(count.min(d.remaining()) + 1);
        let mut present = Vec::with_capacity(count.min(d.remaining()));
        offsets.push(0u32);
        for row in 0..count {
            let id = d.varint("dictionary reference")?;
            if id == 0 {
                present.push(false);
            } else {
                let v = dict
                    .get((id - 1) as usize)
                    .ok_or_else(|| format!("row {row} names dictionary value {} of {n}", id - 1))?;
                data.push_str(v);
                present.push(true);
            }
            offsets
                .push(u32::try_from(data.len()).map_err(|_| "field column too large".to_string())?);
        }
        if d.remaining() != 0 {
            return Err(format!("field column has {} trailing bytes", d.remaining()));
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
    use crate::column::FIELD_INLINE;

    #[test]
    fn low_cardinality_fields_become_dictionaries() {
        let levels: Vec<Option<&str>> = (0..64)
            .map(|i| match i % 5 {
                0 => None,
                1 => Some("ERROR"),
                _ => Some("INFO"),
            })
            .collect();
        let dict = encode_field_v2(&levels);
        assert_eq!(dict[0], FIELD_DICT);
        let back = StrColumn::decode_field(dict, 64, None).unwrap();
        for (i, v) in levels.iter().enumerate() {
            assert_eq!(back.get(i), *v);
        }
        // Distinct values: inline.
        let ids: Vec<String> = (0..64).map(|i| format!("id-{i}")).collect();
        let distinct: Vec<Option<&str>> = ids.iter().map(|s| Some(s.as_str())).collect();
        assert_eq!(encode_field_v2(&distinct)[0], FIELD_INLINE);
    }
}
