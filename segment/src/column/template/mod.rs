//! Template bodies, the layout shared by the raw template column (id 4, format version 2; a
//! block has id 3 or id 4) and composite field columns (mode 3). The raw template column is
//! `@rawstring` with the spans that equal one of the event's field values, or its
//! `@timestamp` written as ISO-8601, cut out; a composite column is a long value such as a
//! message with the block's other (mode 0 or 2) fields' values cut out. Structured logs then
//! keep one copy of each value, in its field column where it compresses with its kind, and a
//! block holds a handful of distinct templates, so rebuilding a raw string is a few copies.
//!
//! A *template body*: a varint `n` and `n` varints of field-table indexes (the slots); a
//! varint `t` and `t` distinct templates, each a varint length and its bytes; then per row a
//! varint code (1 the next template not used before, `k >= 2` template `k - 2`; 0, absent,
//! only in composite field columns). In a template, byte 0x00 starts an escape, a varint `k`:
//! 0 a literal 0x00 byte, 1 the row's `@timestamp` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC), 2..=7
//! reserved, `k >= 8` the row's value of slot `k - 8`.
//!
//! Decoding and rebuilding ([`Templates`]) live here, `encode.rs` builds template bodies and
//! the raw template column, `composite.rs` the composite field columns.

mod composite;
mod encode;
mod search;

pub(crate) use composite::{composite_candidates, encode_composite};
pub(crate) use encode::encode_template;

use super::StrColumn;
use crate::codec::Dec;

const ESC: u8 = 0;
const ESC_LITERAL: u64 = 0;
const ESC_ISO_MILLIS: u64 = 1;
const FIRST_SLOT: u64 = 8;
const ISO_LEN: usize = 24;

/// Row codes after the template dictionary: absent (composite field columns only), the next
/// template not used before, or one used before.
const ROW_ABSENT: u64 = 0;
const ROW_NEW: u64 = 1;
const ROW_SEEN: u64 = 2;

/// Writes epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`, reusing the date and time of
/// the previous call (`cache` holds its second) when only the milliseconds changed. `false`
/// for years outside 0..=9999, which do not fit the pattern.
fn iso_millis(ms: i64, out: &mut [u8; ISO_LEN], cache: &mut Option<i64>) -> bool {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000) as u32;
    if *cache != Some(secs) {
        let (y, m, d) = crate::datagen::civil_from_days(secs.div_euclid(86_400));
        if !(0..=9999).contains(&y) {
            *cache = None;
            return false;
        }
        let sod = secs.rem_euclid(86_400) as u32;
        let two = |o: &mut [u8], v: u32| {
            o[0] = b'0' + (v / 10) as u8;
            o[1] = b'0' + (v % 10) as u8;
        };
        two(&mut out[0..2], (y / 100) as u32);
        two(&mut out[2..4], (y % 100) as u32);
        out[4] = b'-';
        two(&mut out[5..7], m);
        out[7] = b'-';
        two(&mut out[8..10], d);
        out[10] = b'T';
        two(&mut out[11..13], sod / 3600);
        out[13] = b':';
        two(&mut out[14..16], (sod / 60) % 60);
        out[16] = b':';
        two(&mut out[17..19], sod % 60);
        out[19] = b'.';
        out[23] = b'Z';
        *cache = Some(secs);
    }
    out[20] = b'0' + (millis / 100) as u8;
    out[21] = b'0' + ((millis / 10) % 10) as u8;
    out[22] = b'0' + (millis % 10) as u8;
    true
}

/// One step of rebuilding a text from a template: copy bytes `lit.0..lit.1` of the column
/// data, then do `then` (a slot index, or one of the `THEN_*` markers). Pairing the literal
/// with what follows it halves the steps, which is what rebuilding costs.
#[derive(Clone, Copy, Debug)]
struct Op {
    lit: (u32, u32),
    then: u32,
}
const THEN_NOTHING: u32 = u32::MAX;
const THEN_NUL: u32 = u32::MAX - 1;
const THEN_ISO_MILLIS: u32 = u32::MAX - 2;
/// Row marker in [`Templates::rows`] for an absent value.
const ABSENT_ROW: u32 = u32::MAX;

/// Byte view of a slot's field column: data, offsets, presence.
type SlotView<'a> = (&'a [u8], &'a [u32], Option<&'a [bool]>);

fn slot_views<'a>(values: &[&'a StrColumn]) -> Vec<SlotView<'a>> {
    values
        .iter()
        .map(|c| {
            (
                c.data.as_bytes(),
                c.offsets.as_slice(),
                c.present.as_deref(),
            )
        })
        .collect()
}

/// A decoded template column (the raw template column, or a composite field column without
/// its mode byte), waiting for its slots' field columns.
pub(crate) struct Templates {
    /// Field-table index of each slot.
    pub slots: Vec<u32>,
    bytes: Vec<u8>,
    /// Per distinct template, `ops[op_bounds[i]..op_bounds[i + 1]]` rebuilds it.
    ops: Vec<Op>,
    op_bounds: Vec<usize>,
    /// Template number of each row, [`ABSENT_ROW`] for none.
    rows: Vec<u32>,
    optional: bool,
    uses_time: bool,
}

impl Templates {
    /// Decodes a template column body of `count` rows; `optional` columns may have absent rows.
    pub(crate) fn decode(
        bytes: Vec<u8>,
        count: usize,
        optional: bool,
    ) -> Result<Templates, String> {
        let mut d = Dec::new(&bytes);
        let n = d.varint("template slot count")?;
        if n > 1 << 16 {
            return Err(format!("template names {n} slots"));
        }
        let mut slots = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let idx = d.varint("template slot")?;
            slots.push(u32::try_from(idx).map_err(|_| format!("template slot {idx} too large"))?);
        }
        let ntpl = d.varint("template count")?;
        // Every template takes at least a byte, so a corrupt count cannot allocate more.
        if ntpl > d.remaining() as u64 {
            return Err(format!("template count {ntpl} exceeds the column"));
        }
        let mut ops = Vec::new();
        let mut op_bounds = Vec::with_capacity(ntpl as usize + 1);
        op_bounds.push(0);
        let mut uses_time = false;
        for ti in 0..ntpl {
            let len = d.varint("template length")? as usize;
            if len > d.remaining() {
                return Err(format!("template {ti} runs past the column"));
            }
            let (start, end) = (d.pos, d.pos + len);
            let mut i = start;
            while i < end {
                let lit_end = memchr::memchr(ESC, &bytes[i..end]).map_or(end, |z| i + z);
                let lit = (i as u32, lit_end as u32);
                if lit_end == end {
                    ops.push(Op {
                        lit,
                        then: THEN_NOTHING,
                    });
                    break;
                }
                let mut e = Dec::new(&bytes[lit_end + 1..end]);
                let k = e.varint("template escape")?;
                i = lit_end + 1 + e.pos;
                let then = match k {
                    ESC_LITERAL => THEN_NUL,
                    ESC_ISO_MILLIS => {
                        uses_time = true;
                        THEN_ISO_MILLIS
                    }
                    k if k >= FIRST_SLOT && k - FIRST_SLOT < slots.len() as u64 => {
                        (k - FIRST_SLOT) as u32
                    }
                    k => return Err(format!("template {ti} has unknown escape {k}")),
                };
                ops.push(Op { lit, then });
            }
            op_bounds.push(ops.len());
            d.pos = end;
        }
        let mut rows = Vec::with_capacity(count.min(d.remaining()));
        let mut next_new = 0u64;
        for row in 0..count {
            let code = d.varint("template row")?;
            rows.push(match code {
                ROW_ABSENT if optional => ABSENT_ROW,
                ROW_ABSENT => return Err(format!("row {row} has no template")),
                ROW_NEW => {
                    if next_new >= ntpl {
                        return Err(format!("row {row} starts template {next_new} of {ntpl}"));
                    }
                    next_new += 1;
                    (next_new - 1) as u32
                }
                k if k - ROW_SEEN < next_new => (k - ROW_SEEN) as u32,
                k => {
                    return Err(format!(
                        "row {row} names template {} not seen yet",
                        k - ROW_SEEN
                    ))
                }
            });
        }
        if next_new != ntpl {
            return Err(format!(
                "{} of {ntpl} templates are never used",
                ntpl - next_new
            ));
        }
        if d.remaining() != 0 {
            return Err(format!(
                "template column has {} trailing bytes",
                d.remaining()
            ));
        }
        if u32::try_from(bytes.len()).is_err() {
            return Err("template column too large".into());
        }
        Ok(Templates {
            slots,
            bytes,
            ops,
            op_bounds,
            rows,
            optional,
            uses_time,
        })
    }

    /// True when rebuilding needs the block's timestamps.
    pub(crate) fn uses_time(&self) -> bool {
        self.uses_time
    }

    /// Rebuilds the texts from the templates, the slots' columns (in slot order) and, when
    /// [`uses_time`](Self::uses_time), the block's timestamps.
    pub(crate) fn rebuild(
        &self,
        values: &[&StrColumn],
        time: &[(i64, u32)],
    ) -> Result<StrColumn, String> {
        if values.len() != self.slots.len() {
            return Err("template slots and field columns disagree".into());
        }
        if self.uses_time && time.len() != self.rows.len() {
            return Err("template needs the timestamps".into());
        }
        let count = self.rows.len();
        // Byte views of the slots: the hot loop copies bytes and validates UTF-8 once at the end.
        let slots = slot_views(values);
        let mut data: Vec<u8> =
            Vec::with_capacity(count * 32 + values.iter().map(|c| c.data.len()).sum::<usize>());
        let mut offsets = Vec::with_capacity(count + 1);
        let mut present = Vec::with_capacity(if self.optional { count } else { 0 });
        offsets.push(0u32);
        let mut iso = [0u8; ISO_LEN];
        let mut iso_cache = None;
        for (row, &t) in self.rows.iter().enumerate() {
            if self.optional {
                present.push(t != ABSENT_ROW);
            }
            self.rebuild_into(row, &slots, time, &mut iso, &mut iso_cache, &mut data)?;
            offsets.push(u32::try_from(data.len()).map_err(|_| "column too large".to_string())?);
        }
        StrColumn::checked(data, offsets, self.optional.then_some(present))
    }

    /// Appends row `row`'s text to `data` (nothing for an absent row).
    #[inline]
    fn rebuild_into(
        &self,
        row: usize,
        slots: &[SlotView<'_>],
        time: &[(i64, u32)],
        iso: &mut [u8; ISO_LEN],
        iso_cache: &mut Option<i64>,
        data: &mut Vec<u8>,
    ) -> Result<(), String> {
        let t = self.rows[row];
        if t == ABSENT_ROW {
            return Ok(());
        }
        let t = t as usize;
        for op in &self.ops[self.op_bounds[t]..self.op_bounds[t + 1]] {
            data.extend_from_slice(&self.bytes[op.lit.0 as usize..op.lit.1 as usize]);
            if let Some(&(vals, offs, present)) = slots.get(op.then as usize) {
                let lacks = || format!("row {row}: template names a field the row lacks");
                if present.is_some_and(|p| p.get(row) != Some(&true)) {
                    return Err(lacks());
                }
                let (Some(&a), Some(&b)) = (offs.get(row), offs.get(row + 1)) else {
                    return Err(lacks());
                };
                data.extend_from_slice(vals.get(a as usize..b as usize).ok_or_else(lacks)?);
            } else if op.then == THEN_ISO_MILLIS {
                let Some(&(ms, _)) = time.get(row) else {
                    return Err("template needs the timestamps".into());
                };
                if !iso_millis(ms, iso, iso_cache) {
                    return Err(format!("row {row}: timestamp does not fit ISO-8601"));
                }
                data.extend_from_slice(iso);
            } else if op.then == THEN_NUL {
                data.push(ESC);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::strings::encode_field_inline;

    proptest::proptest! {
        /// Arbitrary bytes as a template column never panic the decoder or the rebuild.
        #[test]
        fn arbitrary_template_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), count in 0usize..6, optional in proptest::prelude::any::<bool>()) {
            if let Ok(t) = Templates::decode(bytes, count, optional) {
                let vals: Vec<Option<&str>> = (0..count).map(|i| if i % 2 == 0 { Some("v\u{e9}") } else { None }).collect();
                let c = StrColumn::decode_field(encode_field_inline(&vals), count, None).unwrap();
                let refs: Vec<&StrColumn> = t.slots.iter().map(|_| &c).collect();
                let time = vec![(0i64, 0u32); count];
                let _ = t.rebuild(&refs, &time);
            }
        }
    }
}
