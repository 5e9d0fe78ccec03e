//! Substring search over a template column without rebuilding every row. A row's text is its
//! template's literals with its slot values (and timestamp) spliced in, so a needle occurs in
//! it only (1) inside a literal — then every row of that template matches; (2) inside a slot
//! value — found by one `memmem` pass over each slot's field column, far smaller than the
//! rebuilt texts; or (3) across a literal/slot boundary — possible only when a part of the
//! needle agrees with the literal's edge, which is decided once per template. Rows of
//! templates where (3) is possible, and rows with a slot hit, are rebuilt one by one and
//! checked, so the answer is exactly what a scan of the rebuilt column finds.

use super::{
    slot_views, Op, Templates, ABSENT_ROW, ISO_LEN, THEN_ISO_MILLIS, THEN_NOTHING, THEN_NUL,
};
use crate::column::StrColumn;
use crate::scan::SubstringMatcher;

/// How a template's rows can contain the needle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Reach {
    /// A literal contains it: every row does.
    Always,
    /// It may straddle a literal and a slot: rebuild and check each row.
    Maybe,
    /// Only inside a slot value.
    Slots,
}

/// Bytes an ISO-8601 timestamp (`YYYY-MM-DDTHH:MM:SS.mmmZ`) is made of, lowercased.
const ISO_BYTES: &[u8] = b"0123456789-t:.z";

fn lower(b: &[u8]) -> Vec<u8> {
    b.iter().map(u8::to_ascii_lowercase).collect()
}

/// Can the needle start inside `lit` (the literal before a slot) and run on into the slot?
/// `at_start`: `lit` begins the text, so nothing precedes it.
fn runs_into_slot(lit: &[u8], n: &[u8], at_start: bool) -> bool {
    (1..n.len()).any(|j| {
        if j <= lit.len() {
            lit.ends_with(&n[..j])
        } else {
            !at_start && n[..j].ends_with(lit)
        }
    })
}

/// Can the needle start inside a slot and run on into `lit` (the literal after it)?
/// `at_end`: `lit` ends the text, so nothing follows it.
fn runs_out_of_slot(lit: &[u8], n: &[u8], at_end: bool) -> bool {
    (1..n.len()).any(|i| {
        let rest = &n[i..];
        if rest.len() <= lit.len() {
            lit.starts_with(rest)
        } else {
            !at_end && rest.starts_with(lit)
        }
    })
}

impl Templates {
    fn reach(&self, t: usize, n: &[u8]) -> Reach {
        let ops: &[Op] = &self.ops[self.op_bounds[t]..self.op_bounds[t + 1]];
        let lit_of = |op: &Op| lower(&self.bytes[op.lit.0 as usize..op.lit.1 as usize]);
        let mut reach = Reach::Slots;
        for (i, op) in ops.iter().enumerate() {
            let lit = lit_of(op);
            if memchr::memmem::find(&lit, n).is_some() {
                return Reach::Always;
            }
            match op.then {
                THEN_NOTHING => continue,
                // A literal NUL byte joins two literals; rare enough to check row by row.
                THEN_NUL => reach = Reach::Maybe,
                _ => {
                    if op.then == THEN_ISO_MILLIS && n.iter().all(|b| ISO_BYTES.contains(b)) {
                        reach = Reach::Maybe;
                    }
                    if runs_into_slot(&lit, n, i == 0) {
                        reach = Reach::Maybe;
                    }
                    let (next, at_end) = match ops.get(i + 1) {
                        Some(next) => (lit_of(next), next.then == THEN_NOTHING),
                        None => (Vec::new(), true),
                    };
                    if runs_out_of_slot(&next, n, at_end) {
                        reach = Reach::Maybe;
                    }
                }
            }
        }
        reach
    }

    /// Rows whose text contains `needle` ASCII-case-insensitively (what [`SubstringMatcher`]
    /// finds over the rebuilt column), ascending; absent rows never match. `values` and `time`
    /// are as for [`rebuild`](Self::rebuild).
    pub(crate) fn rows_containing(
        &self,
        needle: &str,
        values: &[&StrColumn],
        time: &[(i64, u32)],
    ) -> Result<Vec<u32>, String> {
        if values.len() != self.slots.len() {
            return Err("template slots and field columns disagree".into());
        }
        let present = |r: &usize| self.rows[*r] != ABSENT_ROW;
        let count = self.rows.len();
        let n = lower(needle.as_bytes());
        if n.is_empty() {
            return Ok((0..count).filter(present).map(|r| r as u32).collect());
        }
        let reach: Vec<Reach> = (0..self.op_bounds.len().saturating_sub(1))
            .map(|t| self.reach(t, &n))
            .collect();
        let mut matcher = SubstringMatcher::new(needle, true);
        // A slot hit in any slot marks the row; rebuilding it below says whether the slot is
        // one of its template's.
        let mut slot_hit = vec![false; count];
        if reach.contains(&Reach::Slots) {
            let mut rows = Vec::new();
            for c in values {
                rows.clear();
                matcher.matching_rows(c, &mut rows);
                for &r in &rows {
                    if let Some(h) = slot_hit.get_mut(r as usize) {
                        *h = true;
                    }
                }
            }
        }
        let slots = slot_views(values);
        let (mut buf, mut iso, mut iso_cache) = (Vec::new(), [0u8; ISO_LEN], None);
        let mut out = Vec::new();
        for (row, &t) in self.rows.iter().enumerate() {
            if t == ABSENT_ROW {
                continue;
            }
            let check = match reach.get(t as usize) {
                Some(Reach::Always) => {
                    out.push(row as u32);
                    continue;
                }
                Some(Reach::Slots) => slot_hit[row],
                Some(Reach::Maybe) | None => true,
            };
            if check {
                buf.clear();
                self.rebuild_into(row, &slots, time, &mut iso, &mut iso_cache, &mut buf)?;
                if matcher.is_match_bytes(&buf) {
                    out.push(row as u32);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straddling_is_found_where_the_needle_meets_a_literal_edge() {
        // `user="` then a slot: a needle `r="u` starts in the literal and runs into the slot.
        assert!(runs_into_slot(b"user=\"", b"r=\"u", false));
        assert!(!runs_into_slot(b"user=\"", b"u_19", false));
        // A slot then `" level=`: `9" l` runs out of the slot into the literal.
        assert!(runs_out_of_slot(b"\" level=", b"9\" l", false));
        assert!(!runs_out_of_slot(b"\" level=", b"u_19", false));
        // Two adjacent slots (an empty literal between them) can always be straddled.
        assert!(runs_out_of_slot(b"", b"ab", false));
        assert!(runs_into_slot(b"", b"ab", false));
        // Nothing precedes the text's first literal or follows its last.
        assert!(!runs_into_slot(b"", b"ab", true));
        assert!(!runs_out_of_slot(b"", b"ab", true));
    }
}
