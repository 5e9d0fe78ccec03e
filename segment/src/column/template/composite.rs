//! Composite field columns (mode 3): which of a block's fields are worth storing as a template
//! over the block's other fields, and their encoding. A message that embeds other fields'
//! values (`user 5120` next to `user_id=5120`) then stores those values once, in their own
//! columns.

use super::encode::TemplateEncoder;
use crate::column::dict::dict_encode;
use crate::column::FIELD_TEMPLATE;

/// Values of at least this many bytes on average make a field a candidate for a composite
/// column (a message that embeds other fields' values).
const COMPOSITE_MIN_AVG: usize = 16;
/// Only values of at least this many bytes are cut out of a composite field's values.
const COMPOSITE_MIN_CUT: usize = 3;

/// Which of a block's fields (by position in `columns`) are worth storing as composites.
pub(crate) fn composite_candidates(columns: &[Option<Vec<Option<&str>>>]) -> Vec<bool> {
    columns
        .iter()
        .map(|c| {
            c.as_ref().is_some_and(|c| {
                let (n, total) = c
                    .iter()
                    .flatten()
                    .fold((0usize, 0usize), |(n, t), v| (n + 1, t + v.len()));
                n > 0 && total >= n * COMPOSITE_MIN_AVG && dict_encode(c).is_none()
            })
        })
        .collect()
}

/// Encodes field `idx` (its values `col`) as a composite column (mode 3) over the block's
/// other non-composite fields (`columns`, indexed by field-table index); `None` when no value
/// contains another field's value.
pub(crate) fn encode_composite(
    idx: usize,
    columns: &[Option<Vec<Option<&str>>>],
    composite: &[bool],
) -> Option<Vec<u8>> {
    let col = columns.get(idx)?.as_ref()?;
    let mut enc = TemplateEncoder::default();
    let mut ignored = rustc_hash::FxHashSet::default();
    for (row, v) in col.iter().enumerate() {
        let Some(v) = v else {
            enc.absent();
            continue;
        };
        let cuts = columns.iter().enumerate().filter_map(|(j, c)| {
            if j == idx || composite.get(j) != Some(&false) {
                return None;
            }
            let o = (*c.as_ref()?.get(row)?)?;
            (o.len() >= COMPOSITE_MIN_CUT).then_some((j as u32, o.as_bytes()))
        });
        // Only whole tokens: a number inside a hex id is a coincidence, not structure.
        enc.push(v.as_bytes(), cuts, None, &mut ignored, true);
    }
    let body = enc.finish()?;
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(FIELD_TEMPLATE);
    out.extend_from_slice(&body);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::strings::encode_field_inline;
    use crate::column::{StrColumn, Templates};

    #[test]
    fn messages_that_embed_other_fields_become_composites() {
        let users: Vec<String> = (0..64).map(|i| format!("{}", 5000 + i)).collect();
        let msgs: Vec<String> = (0..64)
            .map(|i| format!("rate limit close for user {} (x{}5000)", 5000 + i, i))
            .collect();
        let columns: Vec<Option<Vec<Option<&str>>>> = vec![
            Some(users.iter().map(|s| Some(s.as_str())).collect()),
            Some(
                msgs.iter()
                    .enumerate()
                    .map(|(i, s)| (i % 7 != 3).then_some(s.as_str()))
                    .collect(),
            ),
        ];
        let composite = composite_candidates(&columns);
        assert_eq!(composite, vec![false, true]);
        let enc = encode_composite(1, &columns, &composite).unwrap();
        assert_eq!(enc[0], FIELD_TEMPLATE);
        let t = Templates::decode(enc[1..].to_vec(), 64, true).unwrap();
        assert_eq!(t.slots, vec![0]);
        let user_col =
            StrColumn::decode_field(encode_field_inline(columns[0].as_ref().unwrap()), 64, None)
                .unwrap();
        let back = t.rebuild(&[&user_col], &[]).unwrap();
        for (i, v) in columns[1].as_ref().unwrap().iter().enumerate() {
            assert_eq!(back.get(i), *v, "row {i}");
        }
        // The user value is cut; "5000" inside "x05000" is not token-bounded and stays.
        assert!(memchr::memmem::find(&enc, b"user 5003").is_none());
        assert!(memchr::memmem::find(&enc, b"(x05000)").is_some());
    }
}
