//! Feeding events into a state: one event at a time through a [`Source`] (block columns or a
//! row), the hot path of every search, so it reuses one key buffer per call chain.

use super::order::{beats, compact};
use super::{Agg, SeriesState, State};
use crate::query::number;
use crate::query::row::{Row, RowKey, Source};

/// Writes the values of `fields` into `buf` as one key (separated by U+0001); false when the
/// event lacks one of them.
fn key_of(src: &dyn Source, fields: &[String], buf: &mut String) -> bool {
    buf.clear();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            buf.push('\u{1}');
        }
        match src.get(f) {
            Some(v) => buf.push_str(&v),
            None => return false,
        }
    }
    true
}

impl Agg {
    /// Feeds one event read through `src`. Row-keeping aggregates use [`add_row`](Self::add_row).
    pub fn add(&self, st: &mut State, src: &dyn Source) {
        self.add_with(st, src, &mut String::new());
    }

    fn add_with(&self, st: &mut State, src: &dyn Source, buf: &mut String) {
        match (self, st) {
            (Agg::Sliced { slice_ms, inner }, State::Slices(m)) => {
                let k = src.timestamp().div_euclid(*slice_ms) * slice_ms;
                let s = m.entry(k).or_insert_with(|| inner.new_state());
                inner.add_with(s, src, buf);
            }
            (Agg::Count { field: None, .. }, State::Count(n)) => *n += 1,
            (Agg::Count { field: Some(f), .. }, State::Count(n)) if src.get(f).is_some() => *n += 1,
            (Agg::Count { field, .. }, State::Distinct(set)) => {
                let f = field.as_deref().unwrap_or("@rawstring");
                if let Some(v) = src.get(f) {
                    if !set.contains(v.as_ref()) {
                        set.insert(v.into_owned());
                    }
                }
            }
            (Agg::Stat { field, .. }, State::Num(s)) => {
                if let Some(x) = src.get(field).and_then(|v| number(&v)) {
                    s.n += 1;
                    s.sum += x;
                    s.sumsq += x * x;
                    s.min = s.min.min(x);
                    s.max = s.max.max(x);
                }
            }
            (Agg::Percentile { field, .. }, State::Values(v)) => {
                if let Some(x) = src.get(field).and_then(|v| number(&v)) {
                    v.push(x);
                }
            }
            (Agg::Stats(fs), State::Multi(ss)) => {
                for (f, s) in fs.iter().zip(ss.iter_mut()) {
                    f.add_with(s, src, buf);
                }
            }
            (
                Agg::GroupBy {
                    fields,
                    functions,
                    limit,
                },
                State::Groups { map, limited },
            ) => {
                if !key_of(src, fields, buf) {
                    // Events without a group-by field are not counted in any group.
                    return;
                }
                let g = match map.get_mut(buf.as_str()) {
                    Some(g) => g,
                    None => {
                        if map.len() >= *limit {
                            *limited = true;
                            return;
                        }
                        map.entry(buf.clone()).or_insert_with(|| {
                            (
                                buf.split('\u{1}').map(str::to_string).collect(),
                                functions.iter().map(Agg::new_state).collect(),
                            )
                        })
                    }
                };
                let mut inner = String::new();
                for (f, s) in functions.iter().zip(g.1.iter_mut()) {
                    f.add_with(s, src, &mut inner);
                }
            }
            (
                Agg::Series {
                    span,
                    series,
                    functions,
                    limit,
                    ..
                },
                State::Series { map, limited },
            ) => {
                let b = src.timestamp().div_euclid(*span) * span;
                let sv = match series {
                    Some(f) => match src.get(f) {
                        Some(v) => v,
                        None => return,
                    },
                    None => std::borrow::Cow::Borrowed(""),
                };
                if !map.contains_key(sv.as_ref()) {
                    // Keep a bounded number of series; the largest `limit` are shown.
                    if map.len() >= limit.saturating_mul(10).max(1000) {
                        *limited = true;
                        return;
                    }
                    map.insert(sv.to_string(), SeriesState::default());
                }
                let Some(entry) = map.get_mut(sv.as_ref()) else {
                    return;
                };
                entry.0 += 1;
                let states = entry
                    .1
                    .entry(b)
                    .or_insert_with(|| functions.iter().map(Agg::new_state).collect());
                for (f, s) in functions.iter().zip(states.iter_mut()) {
                    f.add_with(s, src, buf);
                }
            }
            (Agg::Top { fields, sum, .. }, State::Top { map, total }) => {
                if !key_of(src, fields, buf) {
                    return;
                }
                let w = match sum {
                    Some(f) => match src.get(f).and_then(|v| number(&v)) {
                        Some(x) => x,
                        None => return,
                    },
                    None => 1.0,
                };
                *total += w;
                match map.get_mut(buf.as_str()) {
                    Some(e) => e.1 += w,
                    None => {
                        let vals = buf.split('\u{1}').map(str::to_string).collect();
                        map.insert(buf.clone(), (vals, w));
                    }
                }
            }
            (Agg::Collect { fields, limit }, State::Collect { sets, limited }) => {
                for (f, set) in fields.iter().zip(sets.iter_mut()) {
                    if let Some(v) = src.get(f) {
                        if set.len() >= *limit {
                            if !set.contains(v.as_ref()) {
                                *limited = true;
                            }
                        } else {
                            set.insert(v.into_owned());
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// Feeds one materialised row (required for row-keeping aggregates).
    pub fn add_row(&self, st: &mut State, row: Row) {
        match (self, st) {
            (Agg::Sliced { slice_ms, inner }, State::Slices(m)) => {
                let k = row.key.0.div_euclid(*slice_ms) * slice_ms;
                let s = m.entry(k).or_insert_with(|| inner.new_state());
                inner.add_row(s, row);
            }
            (Agg::Rows { order, limit, .. }, State::Rows { rows, threshold }) => {
                if let Some(t) = threshold {
                    if !beats(order, &row.key, t) {
                        return;
                    }
                }
                rows.push(row);
                if rows.len() >= (2 * *limit).max(64) {
                    compact(order, *limit, rows, threshold);
                }
            }
            (a, s) => a.add(s, &row),
        }
    }

    /// Would a row with this key enter a row-keeping state (so it is worth materialising)?
    pub fn would_accept(&self, st: &State, key: &RowKey) -> bool {
        match (self, st) {
            (
                Agg::Rows { order, .. },
                State::Rows {
                    threshold: Some(t), ..
                },
            ) => beats(order, key, t),
            _ => true,
        }
    }
}
