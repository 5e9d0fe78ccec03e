//! Building template bodies: where each field value (and the timestamp) is cut out of a text,
//! and the raw template column (id 4) of a block. Composite field columns reuse the encoder
//! with other cuts, so the choice of spans and the template dictionary are written once.

use super::{
    iso_millis, ESC, ESC_ISO_MILLIS, ESC_LITERAL, FIRST_SLOT, ISO_LEN, ROW_ABSENT, ROW_NEW,
    ROW_SEEN,
};
use crate::codec::put_varint;
use crate::event::Event;
// Word bytes are the filter's token bytes: a value cut at word boundaries is made of whole
// tokens of the raw string, which is what lets filters skip the pairs of covered fields.
use crate::filter::is_token_byte as word_byte;

/// At most this many occurrences of a value are tried when looking for a token-bounded one.
const MAX_TRIES: usize = 8;

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

/// Builds a template column body (see the module docs): the raw template column, or after a
/// mode byte a composite field column.
#[derive(Default)]
pub(super) struct TemplateEncoder {
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
    pub(super) fn absent(&mut self) {
        put_varint(&mut self.codes, ROW_ABSENT);
    }

    /// Adds a row: `text` with the candidate `(field, value)` spans and, if given, the ISO
    /// rendering of `timestamp` cut out. Fields with a value not found token-bounded are added
    /// to `uncovered`; with `bounded_only` such values stay in the text.
    pub(super) fn push<'v>(
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
    pub(super) fn finish(self) -> Option<Vec<u8>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::column::strings::encode_field_inline;
    use crate::column::{StrColumn, Templates};

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
}
