//! Column encodings inside a block. Each column is compressed on its own so a query that reads
//! one field never decompresses `@rawstring`, and vice versa.
//!
//! - time (id 0): per event, zigzag varint of the delta to the previous `@timestamp`, then a
//!   varint of the sub-millisecond nanoseconds.
//! - ingest (id 1): zigzag varint deltas of the ingest timestamp.
//! - id (id 2): per event varint partition, zigzag varint offset delta, varint index.
//! - raw (id 3): `count` varint lengths, then the strings back to back.
//! - raw template (id 4, format version 2; a block has id 3 or id 4): `@rawstring` with the
//!   spans that equal one of the event's field values, or its `@timestamp` written as ISO-8601,
//!   cut out. A *template body*: a varint `n` and `n` varints of field-table indexes (the
//!   slots); a varint `t` and `t` distinct templates, each a varint length and its bytes; then
//!   per row a varint code (1 the next template not used before, `k >= 2` template `k - 2`; 0,
//!   absent, only in composite field columns). In a template, byte 0x00 starts an escape, a
//!   varint `k`: 0 a literal 0x00 byte, 1 the row's `@timestamp` as `YYYY-MM-DDTHH:MM:SS.mmmZ`
//!   (UTC), 2..=7 reserved, `k >= 8` the row's value of slot `k - 8`. Structured logs then keep
//!   one copy of each value, in its field column where it compresses with its kind, and a block
//!   holds a handful of distinct templates, so rebuilding a raw string is a few copies.
//! - field (id 16 + n, n indexes the segment's field-name table), a mode byte then:
//!   - mode 0, inline: `count` varints of `length + 1` (0 = the event lacks the field), then the
//!     present values back to back;
//!   - mode 1 (format version 1 only), references into `@rawstring`: per row a varint `t` — 0
//!     absent, 1 inline (a varint length, the bytes go to the tail), `t >= 2` the value is the
//!     row's raw string at byte `t - 2` with a varint length following — then the tail;
//!   - mode 2, dictionary: a varint `d`, `d` values (varint length, bytes), then per row a
//!     varint (0 absent, `i >= 1` value `i - 1`) — low-cardinality fields;
//!   - mode 3, composite: a template body over the block's other (mode 0 or 2) fields — long
//!     values such as messages that embed other fields' values.

use crate::codec::{put_varint, unzigzag, zigzag, Dec};
use crate::event::{Event, EventId};
// Word bytes are the filter's token bytes: a value cut at word boundaries is made of whole
// tokens of the raw string, which is what lets filters skip the pairs of covered fields.
use crate::filter::is_token_byte as word_byte;

pub(crate) const COL_TIME: u32 = 0;
pub(crate) const COL_INGEST: u32 = 1;
pub(crate) const COL_ID: u32 = 2;
pub(crate) const COL_RAW: u32 = 3;
pub(crate) const COL_TEMPLATE: u32 = 4;
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
pub(crate) const FIELD_DICT: u8 = 2;
pub(crate) const FIELD_TEMPLATE: u8 = 3;
/// Dictionary mode is used when a block's field has at most this many distinct values...
const DICT_MAX: usize = 4096;
/// ...and they are at most this fraction (1/n) of its present values.
const DICT_RATIO: usize = 8;

/// Encodes a field column inline (mode 0).
pub(crate) fn encode_field_inline(values: &[Option<&str>]) -> Vec<u8> {
    let mut b = vec![FIELD_INLINE];
    b.extend_from_slice(&encode_strings(values.iter().copied()));
    b
}

/// Encodes a field column as a dictionary (mode 2) when it has few distinct values (levels,
/// status codes, hosts, paths: one small number per row compresses far better than the
/// repeated text), else inline. Both decode without the raw column.
pub(crate) fn encode_field_v2(values: &[Option<&str>]) -> Vec<u8> {
    dict_encode(values).unwrap_or_else(|| encode_field_inline(values))
}

/// The dictionary encoding (mode 2) of a field column, `None` when it has too many distinct
/// values for one.
fn dict_encode(values: &[Option<&str>]) -> Option<Vec<u8>> {
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

const ESC: u8 = 0;
const ESC_LITERAL: u64 = 0;
const ESC_ISO_MILLIS: u64 = 1;
const FIRST_SLOT: u64 = 8;
/// At most this many occurrences of a value are tried when looking for a token-bounded one.
const MAX_TRIES: usize = 8;
const ISO_LEN: usize = 24;

/// True when `raw[at..at + len]` does not cut a word in two (so `"200"` is preferred as the
/// whole status value over the start of `2001`).
#[inline]
fn bounded(raw: &[u8], at: usize, len: usize) -> bool {
    let end = at + len;
    (at == 0 || !(word_byte(raw[at - 1]) && word_byte(raw[at])))
        && (end == raw.len() || !(word_byte(raw[end - 1]) && word_byte(raw[end])))
}

/// Where `v` appears in `raw`, and whether that place is token-bounded: at `hint` when it is
/// (structured lines put a field at the same place), else the first token-bounded
/// occurrence, else the first.
fn find_value(raw: &[u8], v: &[u8], hint: usize) -> Option<(usize, bool)> {
    if raw.get(hint..hint + v.len()) == Some(v) && bounded(raw, hint, v.len()) {
        return Some((hint, true));
    }
    // Raw strings are short and each (row, field) searches once, so a memchr on the first byte
    // plus a compare beats building a `memmem` searcher per call.
    let (&head, _) = v.split_first()?;
    let mut first = None;
    let mut from = 0;
    let mut tries = 0;
    while let Some(p) = memchr::memchr(head, raw.get(from..)?) {
        let at = from + p;
        if raw[at..].starts_with(v) {
            if bounded(raw, at, v.len()) {
                return Some((at, true));
            }
            first.get_or_insert((at, false));
            tries += 1;
            if tries == MAX_TRIES {
                break;
            }
        }
        from = at + 1;
    }
    first
}

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

/// A block's raw strings as templates, and which fields the filter cannot treat as covered.
pub(crate) struct TemplateOut {
    /// The template column; `None` when no field value appears in any raw string (then the
    /// plain raw column is smaller).
    pub column: Option<Vec<u8>>,
    /// Field-table indexes with a non-empty value somewhere in the block that is not a
    /// token-bounded part of its raw string.
    pub uncovered: rustc_hash::FxHashSet<u32>,
}

fn push_literal(out: &mut Vec<u8>, mut lit: &[u8]) {
    while let Some(z) = memchr::memchr(ESC, lit) {
        out.extend_from_slice(&lit[..z]);
        out.push(ESC);
        put_varint(out, ESC_LITERAL);
        lit = &lit[z + 1..];
    }
    out.extend_from_slice(lit);
}

/// A cut-out span of a text: a field's value (by field-table index) or the timestamp.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Cut {
    Time,
    Field(u32),
}

/// Row codes after the template dictionary: absent (composite field columns only), the next
/// template not used before, or one used before.
const ROW_ABSENT: u64 = 0;
const ROW_NEW: u64 = 1;
const ROW_SEEN: u64 = 2;

/// Builds a template column body (see the module docs): the raw template column, or after a
/// mode byte a composite field column.
#[derive(Default)]
struct TemplateEncoder {
    slots: Vec<u32>,
    slot_of: rustc_hash::FxHashMap<u32, u64>,
    hints: rustc_hash::FxHashMap<Cut, usize>,
    templates: rustc_hash::FxHashMap<Vec<u8>, u64>,
    dict: Vec<u8>,
    codes: Vec<u8>,
    spans: Vec<(usize, usize, Cut)>,
    tpl: Vec<u8>,
    iso: [u8; ISO_LEN],
    iso_cache: Option<i64>,
    cut_any: bool,
    /// The previous row's template and its number.
    last_tpl: Vec<u8>,
    last: Option<u64>,
}

impl TemplateEncoder {
    fn absent(&mut self) {
        put_varint(&mut self.codes, ROW_ABSENT);
    }

    /// Adds a row: `text` with the candidate `(field, value)` spans and, if given, the ISO
    /// rendering of `timestamp` cut out. Fields with a value not found token-bounded are added
    /// to `uncovered`; with `bounded_only` such values stay in the text.
    fn push<'v>(
        &mut self,
        text: &[u8],
        cuts: impl Iterator<Item = (u32, &'v [u8])>,
        timestamp: Option<i64>,
        uncovered: &mut rustc_hash::FxHashSet<u32>,
        bounded_only: bool,
    ) {
        self.spans.clear();
        for (idx, v) in cuts {
            let key = Cut::Field(idx);
            let hint = self.hints.get(&key).copied().unwrap_or(0);
            match find_value(text, v, hint) {
                Some((at, bounded)) => {
                    if !bounded {
                        uncovered.insert(idx);
                        if bounded_only {
                            continue;
                        }
                    }
                    self.hints.insert(key, at);
                    self.spans.push((at, at + v.len(), key));
                }
                None => {
                    uncovered.insert(idx);
                }
            }
        }
        if let Some(ts) = timestamp {
            if text.len() >= ISO_LEN && iso_millis(ts, &mut self.iso, &mut self.iso_cache) {
                let hint = self.hints.get(&Cut::Time).copied().unwrap_or(0);
                if let Some((at, _)) = find_value(text, &self.iso, hint) {
                    self.hints.insert(Cut::Time, at);
                    self.spans.push((at, at + ISO_LEN, Cut::Time));
                }
            }
        }
        self.spans.sort_unstable();
        self.tpl.clear();
        let mut at = 0;
        for &(start, end, cut) in &self.spans {
            if start < at {
                continue;
            }
            push_literal(&mut self.tpl, &text[at..start]);
            self.tpl.push(ESC);
            match cut {
                Cut::Time => put_varint(&mut self.tpl, ESC_ISO_MILLIS),
                Cut::Field(idx) => {
                    let next = self.slots.len() as u64;
                    let slots = &mut self.slots;
                    let slot = *self.slot_of.entry(idx).or_insert_with(|| {
                        slots.push(idx);
                        next
                    });
                    put_varint(&mut self.tpl, FIRST_SLOT + slot);
                }
            }
            self.cut_any = true;
            at = end;
        }
        push_literal(&mut self.tpl, &text[at..]);
        // Rows of structured logs mostly repeat the previous row's template.
        if let Some(last) = self.last.filter(|_| self.tpl == self.last_tpl) {
            put_varint(&mut self.codes, ROW_SEEN + last);
            return;
        }
        match self.templates.get(self.tpl.as_slice()) {
            Some(&id) => {
                put_varint(&mut self.codes, ROW_SEEN + id);
                self.last = Some(id);
            }
            None => {
                let id = self.templates.len() as u64;
                self.templates.insert(self.tpl.clone(), id);
                put_varint(&mut self.dict, self.tpl.len() as u64);
                self.dict.extend_from_slice(&self.tpl);
                put_varint(&mut self.codes, ROW_NEW);
                self.last = Some(id);
            }
        }
        std::mem::swap(&mut self.tpl, &mut self.last_tpl);
    }

    /// The column body; `None` when nothing was cut out of any row.
    fn finish(self) -> Option<Vec<u8>> {
        if !self.cut_any {
            return None;
        }
        let mut out =
            Vec::with_capacity(16 + self.slots.len() * 2 + self.dict.len() + self.codes.len());
        put_varint(&mut out, self.slots.len() as u64);
        for s in &self.slots {
            put_varint(&mut out, u64::from(*s));
        }
        put_varint(&mut out, self.templates.len() as u64);
        out.extend_from_slice(&self.dict);
        out.extend_from_slice(&self.codes);
        Some(out)
    }
}

/// Encodes the block's raw strings as templates over its field columns and timestamps (see
/// the module docs); `idxs` holds the field-table index of every (event, field) in iteration
/// order. The field columns the templates name must decode without the raw column.
pub(crate) fn encode_template(events: &[Event], idxs: &[u32]) -> TemplateOut {
    let mut uncovered = rustc_hash::FxHashSet::default();
    let mut enc = TemplateEncoder::default();
    let mut at = 0;
    for e in events {
        let mine = idxs.get(at..at + e.fields.len()).unwrap_or_default();
        at += e.fields.len();
        let cuts = e
            .fields
            .values()
            .zip(mine)
            .filter(|(v, _)| !v.is_empty())
            .map(|(v, &idx)| (idx, v.as_bytes()));
        enc.push(
            e.raw.as_bytes(),
            cuts,
            Some(e.timestamp),
            &mut uncovered,
            false,
        );
    }
    TemplateOut {
        column: enc.finish(),
        uncovered,
    }
}

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
        type SlotView<'a> = (&'a [u8], &'a [u32], Option<&'a [bool]>);
        let slots: Vec<SlotView<'_>> = values
            .iter()
            .map(|c| {
                (
                    c.data.as_bytes(),
                    c.offsets.as_slice(),
                    c.present.as_deref(),
                )
            })
            .collect();
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
            if t != ABSENT_ROW {
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
                        if !iso_millis(time[row].0, &mut iso, &mut iso_cache) {
                            return Err(format!("row {row}: timestamp does not fit ISO-8601"));
                        }
                        data.extend_from_slice(&iso);
                    } else if op.then == THEN_NUL {
                        data.push(ESC);
                    }
                }
            }
            offsets.push(u32::try_from(data.len()).map_err(|_| "column too large".to_string())?);
        }
        StrColumn::checked(data, offsets, self.optional.then_some(present))
    }
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
            FIELD_DICT => {
                let mut d = Dec::new(&bytes[1..]);
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
                        let v = dict.get((id - 1) as usize).ok_or_else(|| {
                            format!("row {row} names dictionary value {} of {n}", id - 1)
                        })?;
                        data.push_str(v);
                        present.push(true);
                    }
                    offsets.push(
                        u32::try_from(data.len())
                            .map_err(|_| "field column too large".to_string())?,
                    );
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
        StrColumn::checked(bytes, offsets, present)
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

    fn ev(raw: &str, fields: &[(&str, &str)]) -> Event {
        Event {
            raw: raw.into(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn templates_cut_out_bounded_field_values_and_rebuild_exactly() {
        let events = vec![
            ev(
                r#"{"user":2001,"status":200,"msg":"a\u0000b"}"#,
                &[("status", "200"), ("user", "2001")],
            ),
            ev(
                "status=200 user=2001 \0 NUL:\u{0}",
                &[("status", "200"), ("user", "2001")],
            ),
            ev("no fields here \u{0}", &[]),
            ev("x", &[("status", "x"), ("user", "missing")]),
        ];
        let index: rustc_hash::FxHashMap<String, u32> =
            [("status".to_string(), 0), ("user".to_string(), 1)]
                .into_iter()
                .collect();
        let idxs = |events: &[Event]| -> Vec<u32> {
            events
                .iter()
                .flat_map(|e| e.fields.keys().map(|k| index[k]))
                .collect()
        };
        let out = encode_template(&events, &idxs(&events));
        // "missing" is not in its raw string; every status value is, token-bounded.
        assert_eq!(out.uncovered.iter().copied().collect::<Vec<_>>(), vec![1]);
        let bytes = out.column.unwrap();
        let t = Templates::decode(bytes.clone(), events.len(), false).unwrap();
        // "200" is cut at the status value, not at the start of "2001".
        assert!(memchr::memmem::find(&bytes, b":2001,").is_none());
        assert!(memchr::memmem::find(&bytes, b"200").is_none());
        let col = |name: &str| {
            let vals: Vec<Option<&str>> = events
                .iter()
                .map(|e| e.fields.get(name).map(String::as_str))
                .collect();
            StrColumn::decode_field(encode_field_inline(&vals), events.len(), None).unwrap()
        };
        let cols: Vec<StrColumn> = t
            .slots
            .iter()
            .map(|&i| col(if i == 0 { "status" } else { "user" }))
            .collect();
        let refs: Vec<&StrColumn> = cols.iter().collect();
        let raw = t.rebuild(&refs, &[]).unwrap();
        for (i, e) in events.iter().enumerate() {
            assert_eq!(raw.get(i), Some(e.raw.as_str()));
        }
        // A template naming a field the row lacks is an error, not a panic or a wrong string.
        let empty: Vec<Option<&str>> = vec![None; events.len()];
        let lacking =
            StrColumn::decode_field(encode_field_inline(&empty), events.len(), None).unwrap();
        let bad: Vec<&StrColumn> = t.slots.iter().map(|_| &lacking).collect();
        assert!(t.rebuild(&bad, &[]).unwrap_err().contains("lacks"));
        // No value in any raw string: no template column.
        let none = [ev("abc", &[("status", "zzz")])];
        assert!(encode_template(&none, &idxs(&none)).column.is_none());
    }

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

    #[test]
    fn iso_timestamps_render_like_the_generator_and_are_cut_out() {
        let mut cache = None;
        let mut out = [0u8; ISO_LEN];
        for ms in [
            0i64,
            999,
            1_700_000_000_123,
            1_700_000_001_000,
            253_402_300_799_999,
            -1,
        ] {
            let mut want = String::new();
            crate::datagen::iso8601(ms, &mut want);
            assert!(iso_millis(ms, &mut out, &mut cache));
            assert_eq!(std::str::from_utf8(&out).unwrap(), want);
        }
        assert!(
            !iso_millis(253_402_300_800_000, &mut out, &mut cache),
            "year 10000"
        );
        let at = |ms: i64, raw: String| Event {
            timestamp: ms,
            raw,
            ..Default::default()
        };
        let events = vec![
            at(
                1_700_000_000_123,
                "2023-11-14T22:13:20.123Z level=INFO".into(),
            ),
            // Another time than the event's stays literal.
            at(
                1_700_000_000_124,
                "2023-11-14T22:13:20.123Z level=INFO".into(),
            ),
        ];
        let out = encode_template(&events, &[]);
        let bytes = out.column.unwrap();
        let t = Templates::decode(bytes, 2, false).unwrap();
        assert!(t.uses_time());
        assert_eq!(t.op_bounds.len(), 3, "two distinct templates");
        let time = vec![(1_700_000_000_123, 0), (1_700_000_000_124, 0)];
        let raw = t.rebuild(&[], &time).unwrap();
        assert_eq!(raw.get(0), Some(events[0].raw.as_str()));
        assert_eq!(raw.get(1), Some(events[1].raw.as_str()));
        assert!(t.rebuild(&[], &[]).is_err(), "timestamps are required");
    }

    #[test]
    fn low_cardinality_fields_become_dictionaries_and_messages_composites() {
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
