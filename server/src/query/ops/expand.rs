//! Operators that turn one event into several: `regex(repeat=true)` (one event per match,
//! <https://library.humio.com/data-analysis/functions-regex.html>) and `split()` (one event per
//! element of an array field, <https://library.humio.com/data-analysis/functions-split.html>).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::query::row::Row;

/// Most events one `split()` makes of one event: a guard against unbounded output.
pub const SPLIT_MAX: usize = 10_000;

pub enum Expand {
    /// `regex(repeat=true)`: one event per match, at most `limit` per event.
    Regex {
        re: regex::Regex,
        field: String,
        strict: bool,
        limit: usize,
        /// LogScale warns when the default limit cut the output (not when `limit=` was set).
        warn: bool,
        cut: AtomicBool,
    },
    /// `match(file=…)`: one event per matching lookup row (see `query/lookup.rs`).
    Lookup(Box<crate::query::lookup::LookupMatch>),
    /// `split(field, strip)`.
    Split {
        field: String,
        strip: bool,
        cut: AtomicBool,
    },
}

impl Expand {
    pub fn regex(re: regex::Regex, field: String, strict: bool, limit: usize, warn: bool) -> Self {
        Expand::Regex {
            re,
            field,
            strict,
            limit,
            warn,
            cut: AtomicBool::new(false),
        }
    }

    pub fn split(field: String, strip: bool) -> Self {
        Expand::Split {
            field,
            strip,
            cut: AtomicBool::new(false),
        }
    }

    pub fn expand(&self, row: Row, emit: &mut dyn FnMut(Row)) {
        match self {
            Expand::Lookup(m) => m.expand(row, emit),
            Expand::Regex {
                re,
                field,
                strict,
                limit,
                cut,
                ..
            } => {
                let Some(v) = row.get_str(field).map(str::to_string) else {
                    if !strict {
                        emit(row);
                    }
                    return;
                };
                let mut n = 0;
                for caps in re.captures_iter(&v) {
                    if n == *limit {
                        cut.store(true, Ordering::Relaxed);
                        break;
                    }
                    n += 1;
                    let mut r = row.clone();
                    for name in re.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            r.set(name, m.as_str().to_string());
                        }
                    }
                    emit(r);
                }
                if n == 0 && !strict {
                    emit(row);
                }
            }
            Expand::Split { field, strip, cut } => split(&row, field, *strip, cut, emit),
        }
    }

    pub fn warnings(&self, out: &mut Vec<String>) {
        match self {
            Expand::Regex {
                limit, warn, cut, ..
            } if *warn && cut.load(Ordering::Relaxed) => out.push(format!(
                "regex(repeat=true) stopped at {limit} events from one event (set limit= to change)"
            )),
            Expand::Lookup(m) => m.warnings(out),
            Expand::Split { cut, .. } if cut.load(Ordering::Relaxed) => out.push(format!(
                "split() stopped at {SPLIT_MAX} events from one event"
            )),
            _ => {}
        }
    }
}

/// The array index at the start of `rest` (`[3]...` → 3, and the rest after `]`).
fn index_of(rest: &str) -> Option<(usize, &str)> {
    let r = rest.strip_prefix('[')?;
    let end = r.find(']')?;
    let i = r[..end].parse().ok()?;
    Some((i, &r[end + 1..]))
}

fn split(row: &Row, field: &str, strip: bool, cut: &AtomicBool, emit: &mut dyn FnMut(Row)) {
    // Elements in index order; each holds its sub-fields (suffix after `field[i]`).
    let mut elems: std::collections::BTreeMap<usize, Vec<(String, String)>> = Default::default();
    let mut rest_fields = Vec::with_capacity(row.fields.len());
    for (k, v) in &row.fields {
        match k.strip_prefix(field).and_then(index_of) {
            Some((i, suffix)) => elems
                .entry(i)
                .or_default()
                .push((suffix.to_string(), v.clone())),
            None => rest_fields.push((k.clone(), v.clone())),
        }
    }
    if elems.is_empty() {
        emit(row.clone());
        return;
    }
    let id = row.get_str("@id").map(str::to_string);
    for (n, (i, subs)) in elems.into_iter().enumerate() {
        if n == SPLIT_MAX {
            cut.store(true, Ordering::Relaxed);
            break;
        }
        let mut r = Row {
            key: row.key,
            fields: rest_fields.clone(),
        };
        for (suffix, v) in subs {
            let name = match (strip, suffix.strip_prefix('.')) {
                (true, Some(s)) => s.to_string(),
                _ => format!("{field}{suffix}"),
            };
            r.set(&name, v);
        }
        r.set("_index", i.to_string());
        if let Some(id) = &id {
            r.set("@id", format!("{id}__{i}"));
        }
        emit(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fields: &[(&str, &str)]) -> Row {
        Row {
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Row::default()
        }
    }

    #[test]
    fn split_makes_one_event_per_element() {
        let r = row(&[
            ("@id", "7"),
            ("a[0].x", "1"),
            ("a[0].y", "2"),
            ("a[1].x", "3"),
            ("b", "keep"),
        ]);
        let mut out = Vec::new();
        Expand::split("a".into(), false).expand(r.clone(), &mut |r| out.push(r));
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].get_str("a.x"), Some("1"));
        assert_eq!(out[0].get_str("a.y"), Some("2"));
        assert_eq!(out[0].get_str("@id"), Some("7__0"));
        assert_eq!(out[1].get_str("a.x"), Some("3"));
        assert_eq!(out[1].get_str("_index"), Some("1"));
        assert_eq!(out[1].get_str("b"), Some("keep"));
        assert_eq!(out[1].get_str("a.y"), None);
        let mut out = Vec::new();
        Expand::split("a".into(), true).expand(r, &mut |r| out.push(r));
        assert_eq!(out[0].get_str("x"), Some("1"));
        // No array: the event passes unchanged.
        let mut out = Vec::new();
        Expand::split("zz".into(), false).expand(row(&[("b", "1")]), &mut |r| out.push(r));
        assert_eq!(out, vec![row(&[("b", "1")])]);
    }

    #[test]
    fn regex_repeat_limit() {
        let re = regex::Regex::new(r"(?<d>[0-9])").unwrap();
        let e = Expand::regex(re, "f".into(), true, 2, true);
        let mut out = Vec::new();
        e.expand(row(&[("f", "1 2 3")]), &mut |r| out.push(r));
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].get_str("d"), Some("2"));
        let mut w = Vec::new();
        e.warnings(&mut w);
        assert_eq!(w.len(), 1);
    }
}
