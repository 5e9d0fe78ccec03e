//! Scan kernels used by the query engine: substring search over a string column (one
//! `memmem` pass over the concatenated values, never per-event calls), and exact / prefix
//! matches on a field column. They return matching row numbers and materialise nothing.

use memchr::memmem;

use crate::column::StrColumn;

/// Finds rows whose value contains a needle, case-sensitively or ASCII-case-insensitively.
pub struct SubstringMatcher {
    finder: memmem::Finder<'static>,
    needle_len: usize,
    case_insensitive: bool,
    scratch: Vec<u8>,
}

impl SubstringMatcher {
    pub fn new(needle: &str, case_insensitive: bool) -> Self {
        let n: Vec<u8> = if case_insensitive {
            needle.bytes().map(|b| b.to_ascii_lowercase()).collect()
        } else {
            needle.as_bytes().to_vec()
        };
        SubstringMatcher {
            needle_len: n.len(),
            finder: memmem::Finder::new(&n).into_owned(),
            case_insensitive,
            scratch: Vec::new(),
        }
    }

    /// Does one string contain the needle.
    pub fn is_match(&mut self, s: &str) -> bool {
        self.is_match_bytes(s.as_bytes())
    }

    /// Do these bytes contain the needle.
    pub fn is_match_bytes(&mut self, s: &[u8]) -> bool {
        if self.case_insensitive {
            self.scratch.clear();
            self.scratch.extend(s.iter().map(u8::to_ascii_lowercase));
            self.finder.find(&self.scratch).is_some()
        } else {
            self.finder.find(s).is_some()
        }
    }

    /// Appends to `out` the rows of `col` (restricted to `rows` when given, ascending) whose
    /// value contains the needle. Absent values never match.
    pub fn matching_rows(&mut self, col: &StrColumn, out: &mut Vec<u32>) {
        if self.needle_len == 0 {
            out.extend((0..col.len() as u32).filter(|&r| col.get(r as usize).is_some()));
            return;
        }
        let hay: &[u8] = if self.case_insensitive {
            self.scratch.clear();
            self.scratch
                .extend(col.data.as_bytes().iter().map(u8::to_ascii_lowercase));
            &self.scratch
        } else {
            col.data.as_bytes()
        };
        let mut pos = 0usize;
        while pos < hay.len() {
            let Some(i) = self.finder.find(&hay[pos..]) else {
                break;
            };
            let start = pos + i;
            let row = col.row_of(start);
            let row_end = col.offsets[row + 1] as usize;
            if start + self.needle_len <= row_end {
                out.push(row as u32);
            }
            // One hit per row is enough; a hit spanning into the next row means every later
            // start in this row spans too.
            pos = row_end.max(start + 1);
        }
    }
}

/// Rows whose field value equals `value` exactly.
pub fn equal_rows(col: &StrColumn, value: &str, out: &mut Vec<u32>) {
    let v = value.as_bytes();
    let data = col.data.as_bytes();
    for row in 0..col.len() {
        let a = col.offsets[row] as usize;
        let b = col.offsets[row + 1] as usize;
        if b - a == v.len() && &data[a..b] == v && col.get(row).is_some() {
            out.push(row as u32);
        }
    }
}

/// Rows whose field value starts with `prefix`.
pub fn prefix_rows(col: &StrColumn, prefix: &str, out: &mut Vec<u32>) {
    let p = prefix.as_bytes();
    let data = col.data.as_bytes();
    for row in 0..col.len() {
        let a = col.offsets[row] as usize;
        let b = col.offsets[row + 1] as usize;
        if b - a >= p.len() && &data[a..a + p.len()] == p && col.get(row).is_some() {
            out.push(row as u32);
        }
    }
}
