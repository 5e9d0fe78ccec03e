//! Block filters: a Bloom filter per block over what the block's events contain, so a search
//! can skip blocks that cannot hold its terms without decompressing them.
//!
//! Three kinds of items go in, each hashed with its own tag byte so they cannot collide:
//! - every token of `@rawstring` (runs of ASCII letters, digits, `_` and non-ASCII bytes),
//!   ASCII-lowercased;
//! - every trigram (3 consecutive bytes) inside those tokens, lowercased, so substring terms
//!   that are parts of tokens (LogScale free text matches substrings) can still be checked;
//! - every field `name=value` pair (values up to [`MAX_INDEXED_VALUE`] bytes, exact case),
//!   except for fields the block *covers*: fields whose every value in the block appears in
//!   its event's `@rawstring` without cutting a token (format version 2 lists them by name
//!   hash). A value's tokens are then tokens of the raw string, already in the filter, so a
//!   query `name=value` tests those instead and the pairs, mostly unique ids and messages, cost
//!   nothing.
//!
//! A free-text term can therefore be tested by its interior tokens (runs bounded by
//! separators on both sides inside the term) and by every trigram of every run.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use crate::codec::{hash64, Dec, Enc};

/// Field values longer than this are not put in the filter (and queries on them scan).
pub const MAX_INDEXED_VALUE: usize = 256;
const TAG_TOKEN: u8 = 1;
const TAG_TRIGRAM: u8 = 2;
const TAG_FIELD: u8 = 3;
/// Bits per distinct item and probes per item: about 2.4% false positives per item, and a
/// query term tests several items, so the chance a block is read needlessly is far lower.
const BITS_PER_ITEM: u64 = 8;
const PROBES: u8 = 4;

/// True for bytes that belong to a token.
#[inline]
pub fn is_token_byte(b: u8) -> bool {
    TOKEN_TABLE[b as usize] != 0
}

/// Per byte: 0 for separators, else the ASCII-lowercased byte (non-ASCII bytes map to
/// themselves), so tokenizing and lowercasing is one table lookup per byte.
static TOKEN_TABLE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 {
            t[i] = b.to_ascii_lowercase();
        }
        i += 1;
    }
    t
};

/// Passes an already well-mixed u64 through unchanged: the filter items are hashes.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);
impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}
pub(crate) type HashSet64 = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

fn token_hash(lower: &[u8]) -> u64 {
    hash64(lower) ^ u64::from(TAG_TOKEN).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn trigram_code(b: u8) -> u32 {
    // 6-bit code per byte: digits, letters, `_`, and one code for every non-ASCII byte.
    match b {
        b'0'..=b'9' => u32::from(b - b'0'),
        b'a'..=b'z' => 10 + u32::from(b - b'a'),
        b'_' => 36,
        _ => 37,
    }
}

fn trigram_hash(code: u32) -> u64 {
    hash64(&[
        TAG_TRIGRAM,
        (code >> 12) as u8,
        (code >> 6) as u8 & 63,
        code as u8 & 63,
    ])
}

/// Hash of a field `name=value` pair as stored in filters.
pub fn field_hash(name: &str, value: &str) -> u64 {
    let mut h = hash64(name.as_bytes());
    h ^= hash64(value.as_bytes()).rotate_left(17);
    h ^ u64::from(TAG_FIELD).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Hash of a field name in a filter's covered list.
fn name_hash(name: &str) -> u64 {
    hash64(name.as_bytes()) ^ 0x5851_f42d_4c95_7f2d
}

/// Lowercased token hashes of `text` (runs of token bytes).
fn token_hashes(text: &str, out: &mut Vec<u64>) {
    for run in text.as_bytes().split(|b| !is_token_byte(*b)) {
        if !run.is_empty() {
            let lower: Vec<u8> = run.iter().map(|b| b.to_ascii_lowercase()).collect();
            out.push(token_hash(&lower));
        }
    }
}

/// Collects the distinct items of one block while it is being written.
pub(crate) struct FilterBuilder {
    covered: Vec<u64>,
    items: HashSet64,
    trigrams: Vec<u64>,
    lower: Vec<u8>,
}

const TRIGRAM_SPACE: usize = 64 * 64 * 64;

impl FilterBuilder {
    pub fn new() -> Self {
        FilterBuilder {
            covered: Vec::new(),
            items: HashSet64::default(),
            trigrams: vec![0; TRIGRAM_SPACE / 64],
            lower: Vec::new(),
        }
    }

    pub fn add_raw(&mut self, raw: &[u8]) {
        self.lower.clear();
        for &b in raw {
            let l = TOKEN_TABLE[b as usize];
            if l != 0 {
                self.lower.push(l);
            } else if !self.lower.is_empty() {
                self.add_lower_token();
                self.lower.clear();
            }
        }
        if !self.lower.is_empty() {
            self.add_lower_token();
            self.lower.clear();
        }
    }

    /// Adds the token held (lowercased) in `self.lower`.
    fn add_lower_token(&mut self) {
        self.items.insert(token_hash(&self.lower));
        if self.lower.len() >= 3 {
            let mut code = (trigram_code(self.lower[0]) << 6) | trigram_code(self.lower[1]);
            for &b in &self.lower[2..] {
                code = ((code << 6) | trigram_code(b)) & (TRIGRAM_SPACE as u32 - 1);
                self.trigrams[(code >> 6) as usize] |= 1u64 << (code & 63);
            }
        }
    }

    pub fn add_field(&mut self, name: &str, value: &str) {
        if value.len() <= MAX_INDEXED_VALUE {
            self.items.insert(field_hash(name, value));
        }
    }

    /// Marks `name` covered in this block: its values are not added, queries test their
    /// tokens in `@rawstring` instead (see the module docs).
    pub fn cover_field(&mut self, name: &str) {
        self.covered.push(name_hash(name));
    }

    /// Builds the filter and resets the builder for the next block.
    pub fn finish(&mut self) -> Filter {
        for (w, word) in self.trigrams.iter_mut().enumerate() {
            let mut bits = *word;
            while bits != 0 {
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                self.items.insert(trigram_hash(((w as u32) << 6) | b));
            }
            *word = 0;
        }
        let mut f = Filter::from_items(self.items.iter().copied(), self.items.len());
        self.items.clear();
        f.covered = std::mem::take(&mut self.covered);
        f.covered.sort_unstable();
        f.covered.dedup();
        f
    }
}

/// A Bloom filter over 64-bit item hashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    probes: u8,
    words: Vec<u64>,
    /// Name hashes of the fields the block covers, sorted.
    covered: Vec<u64>,
}

impl Filter {
    fn from_items(items: impl Iterator<Item = u64>, count: usize) -> Filter {
        let bits = (count as u64 * BITS_PER_ITEM).max(64);
        let words = bits.div_ceil(64) as usize;
        let mut f = Filter {
            probes: PROBES,
            words: vec![0; words],
            covered: Vec::new(),
        };
        for h in items {
            f.insert(h);
        }
        f
    }

    /// The bit positions of `h`: double hashing over the filter's `m` bits.
    #[inline]
    fn position(m: u64, h: u64, i: u64) -> usize {
        let h1 = h as u32 as u64;
        let h2 = (h >> 32) | 1;
        (h1.wrapping_add(i.wrapping_mul(h2)) % m) as usize
    }

    fn insert(&mut self, h: u64) {
        let m = self.words.len() as u64 * 64;
        for i in 0..u64::from(self.probes) {
            let p = Self::position(m, h, i);
            self.words[p / 64] |= 1 << (p % 64);
        }
    }

    /// A filter that rules nothing out (used when a writer builds no filters).
    pub fn match_all() -> Filter {
        Filter {
            probes: 1,
            words: vec![u64::MAX],
            covered: Vec::new(),
        }
    }

    /// False means the item is certainly absent.
    pub fn contains_hash(&self, h: u64) -> bool {
        let m = self.words.len() as u64 * 64;
        (0..u64::from(self.probes)).all(|i| {
            let p = Self::position(m, h, i);
            self.words[p / 64] & (1 << (p % 64)) != 0
        })
    }

    /// True when the block covers field `name` (see the module docs).
    fn covers(&self, name: u64) -> bool {
        self.covered.binary_search(&name).is_ok()
    }

    /// Size of the encoded filter in bytes (current format version).
    pub fn encoded_len(&self) -> usize {
        5 + self.words.len() * 8 + 4 + self.covered.len() * 8
    }

    pub(crate) fn encode(&self, e: &mut Enc) {
        e.u8(self.probes);
        e.u32(self.words.len() as u32);
        for w in &self.words {
            e.u64(*w);
        }
        e.u32(self.covered.len() as u32);
        for c in &self.covered {
            e.u64(*c);
        }
    }

    /// Decodes a filter written by format `version` (version 1 has no covered list).
    pub(crate) fn decode(d: &mut Dec<'_>, version: u16) -> Result<Filter, String> {
        let probes = d.u8("filter probe count")?;
        if probes == 0 || probes > 16 {
            return Err(format!("filter probe count {probes} out of range 1..=16"));
        }
        let n = d.count("filter word count", 8)?;
        if n == 0 {
            return Err("filter has no words".into());
        }
        let mut words = Vec::with_capacity(n);
        for _ in 0..n {
            words.push(d.u64("filter word")?);
        }
        let mut covered = Vec::new();
        if version >= 2 {
            let n = d.count("covered field count", 8)?;
            covered.reserve(n);
            for _ in 0..n {
                covered.push(d.u64("covered field")?);
            }
            if covered.windows(2).any(|w| w[0] >= w[1]) {
                return Err("covered fields are not sorted".into());
            }
        }
        Ok(Filter {
            probes,
            words,
            covered,
        })
    }
}

/// What a search needs to be true of a block, in filter terms: every listed hash present, and
/// every field term present (as a pair, or as its value's tokens where the block covers the
/// field).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterQuery {
    pub required: Vec<u64>,
    fields: Vec<FieldTerm>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct FieldTerm {
    name: u64,
    /// `None` for values too long to be indexed as pairs.
    pair: Option<u64>,
    tokens: Vec<u64>,
}

impl FilterQuery {
    /// Items a block must contain to hold `term` as a substring of `@rawstring` (either case).
    pub fn for_substring(term: &str) -> FilterQuery {
        let mut q = FilterQuery::default();
        q.add_substring(term);
        q
    }

    /// Adds the items implied by a substring term.
    pub fn add_substring(&mut self, term: &str) {
        let t: Vec<u8> = term.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let n = t.len();
        let mut i = 0;
        while i < n {
            while i < n && !is_token_byte(t[i]) {
                i += 1;
            }
            let start = i;
            while i < n && is_token_byte(t[i]) {
                i += 1;
            }
            if i == start {
                continue;
            }
            let run = &t[start..i];
            // Bounded by separators inside the term on both sides: it is a whole token.
            if start > 0 && i < n {
                self.required.push(token_hash(run));
            }
            if run.len() >= 3 {
                let mut code = (trigram_code(run[0]) << 6) | trigram_code(run[1]);
                for &b in &run[2..] {
                    code = ((code << 6) | trigram_code(b)) & (TRIGRAM_SPACE as u32 - 1);
                    self.required.push(trigram_hash(code));
                }
            }
        }
        self.required.sort_unstable();
        self.required.dedup();
    }

    /// Requires the exact field pair (values over [`MAX_INDEXED_VALUE`] add nothing unless the
    /// block covers the field).
    pub fn add_field(&mut self, name: &str, value: &str) {
        let mut tokens = Vec::new();
        token_hashes(value, &mut tokens);
        self.fields.push(FieldTerm {
            name: name_hash(name),
            pair: (value.len() <= MAX_INDEXED_VALUE).then(|| field_hash(name, value)),
            tokens,
        });
    }

    /// Requires `token` as a whole token of `@rawstring` (ASCII case-insensitive).
    pub fn add_token(&mut self, token: &str) {
        let lower: Vec<u8> = token.bytes().map(|b| b.to_ascii_lowercase()).collect();
        self.required.push(token_hash(&lower));
    }

    /// True when nothing is required: every block may match.
    pub fn is_empty(&self) -> bool {
        self.required.is_empty() && self.fields.is_empty()
    }

    /// False when the filter proves the block cannot match.
    pub fn may_match(&self, f: &Filter) -> bool {
        self.required.iter().all(|h| f.contains_hash(*h))
            && self.fields.iter().all(|t| {
                if f.covers(t.name) {
                    t.tokens.iter().all(|h| f.contains_hash(*h))
                } else {
                    t.pair.is_none_or(|h| f.contains_hash(h))
                }
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter_of(raws: &[&str], fields: &[(&str, &str)]) -> Filter {
        let mut b = FilterBuilder::new();
        for r in raws {
            b.add_raw(r.as_bytes());
        }
        for (k, v) in fields {
            b.add_field(k, v);
        }
        b.finish()
    }

    #[test]
    fn substrings_of_present_text_always_match() {
        let raw = "2024-01-01 GET /api/users?id=42 status=500 Timeout talking to DB-7";
        let f = filter_of(&[raw], &[("status", "500")]);
        for start in 0..raw.len() {
            for end in start + 1..=raw.len() {
                let q = FilterQuery::for_substring(&raw[start..end]);
                assert!(q.may_match(&f), "{:?} must match", &raw[start..end]);
            }
        }
        let mut q = FilterQuery::default();
        q.add_field("status", "500");
        assert!(q.may_match(&f));
    }

    #[test]
    fn absent_terms_are_mostly_rejected() {
        let f = filter_of(&["the quick brown fox jumps over the lazy dog"], &[]);
        assert!(!FilterQuery::for_substring("xyzzy").may_match(&f));
        assert!(!FilterQuery::for_substring("a zebra b").may_match(&f));
        let mut q = FilterQuery::default();
        q.add_field("status", "404");
        assert!(!q.may_match(&f));
    }

    #[test]
    fn encode_decode_round_trip() {
        let f = filter_of(&["alpha beta gamma"], &[("a", "b")]);
        let mut e = Enc::default();
        f.encode(&mut e);
        assert_eq!(e.buf.len(), f.encoded_len());
        let mut d = Dec::new(&e.buf);
        assert_eq!(Filter::decode(&mut d, crate::FORMAT_VERSION).unwrap(), f);
    }
}
