//! Feeding events into a state: one event at a time through a [`Source`] (block columns or a
//! row), the hot path of every search, so it reuses one key buffer per call chain. Row-keeping
//! aggregates (head/tail/sort/table), also when nested in groupBy/stats/session/timeChart,
//! receive the materialised row alongside.

use std::borrow::Cow;

use super::order::{beats, compact};
use super::sketch::{Hll, Sketch};
use super::{session, Agg, RowOrder, SeriesState, State, TopWeight};
use super::{EXACT_DISTINCT, EXACT_PERCENTILE};
use crate::query::number;
use crate::query::row::{Row, RowKey, Source};

/// Writes the values of `fields` into `buf` as one key (separated by U+0001); false when the
/// event lacks one of them.
pub(super) fn key_of(src: &dyn Source, fields: &[String], buf: &mut String) -> bool {
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

fn add_distinct(st: &mut State, v: &str) {
    match st {
        State::Distinct(set) => {
            if !set.contains(v) {
                set.insert(v.to_string());
            }
            if set.len() > EXACT_DISTINCT {
                let set = std::mem::take(set);
                *st = State::Hll(Hll::from_set(set));
            }
        }
        State::Hll(h) => h.insert(v),
        _ => {}
    }
}

fn add_value(st: &mut State, x: f64, accuracy: f64) {
    match st {
        State::Values(v) => {
            v.push(x);
            if v.len() > EXACT_PERCENTILE {
                let s = Sketch::from_values(v, accuracy);
                *st = State::Sketch(s);
            }
        }
        State::Sketch(s) => s.add(x, accuracy),
        _ => {}
    }
}

/// Pushes a row into a bounded row list, compacting when it doubles.
fn push_row(
    order: &RowOrder,
    limit: usize,
    rows: &mut Vec<Row>,
    threshold: &mut Option<RowKey>,
    row: Cow<'_, Row>,
) {
    if let Some(t) = threshold {
        if !beats(order, &row.key, t) {
            return;
        }
    }
    rows.push(row.into_owned());
    if rows.len() >= (2 * limit).max(64) {
        compact(order, limit, rows, threshold);
    }
}

impl Agg {
    /// Feeds one event read through `src`. Row-keeping aggregates use [`add_row`](Self::add_row).
    pub fn add(&self, st: &mut State, src: &dyn Source) {
        self.add_any(st, src, None, &mut String::new());
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
                push_row(order, *limit, rows, threshold, Cow::Owned(row));
            }
            (a, s) => a.add_any(s, &row, Some(&row), &mut String::new()),
        }
    }

    /// Feeds one event; `row` is the event materialised, when the plan materialises events.
    pub(super) fn add_any(
        &self,
        st: &mut State,
        src: &dyn Source,
        row: Option<&Row>,
        buf: &mut String,
    ) {
        match (self, st) {
            (Agg::Sliced { slice_ms, inner }, State::Slices(m)) => {
                let k = src.timestamp().div_euclid(*slice_ms) * slice_ms;
                let s = m.entry(k).or_insert_with(|| inner.new_state());
                inner.add_any(s, src, row, buf);
            }
            (Agg::Renamed { inner, .. }, s) => inner.add_any(s, src, row, buf),
            (
                Agg::Count {
                    field,
                    distinct: true,
                    ..
                },
                st,
            ) => {
                let f = field.as_deref().unwrap_or("@rawstring");
                if let Some(v) = src.get(f) {
                    add_distinct(st, &v);
                }
            }
            (Agg::Count { field: None, .. }, State::Count(n)) => *n += 1,
            (Agg::Count { field: Some(f), .. }, State::Count(n)) if src.get(f).is_some() => *n += 1,
            (Agg::Stat { field, .. }, State::Num(s)) => {
                if let Some(x) = src.get(field).and_then(|v| number(&v)) {
                    s.n += 1;
                    s.sum += x;
                    s.sumsq += x * x;
                    s.min = s.min.min(x);
                    s.max = s.max.max(x);
                }
            }
            (
                Agg::Percentile {
                    field, accuracy, ..
                },
                st,
            ) => {
                if let Some(x) = src.get(field).and_then(|v| number(&v)) {
                    add_value(st, x, *accuracy);
                }
            }
            (Agg::Stats(fs) | Agg::Window { functions: fs, .. }, State::Multi(ss)) => {
                for (f, s) in fs.iter().zip(ss.iter_mut()) {
                    f.add_any(s, src, row, buf);
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
                    f.add_any(s, src, row, &mut inner);
                }
            }
            (
                Agg::WorldMap {
                    lat,
                    lon,
                    precision,
                    functions,
                    limit,
                },
                State::Groups { map, limited },
            ) => {
                let coord = |f: &str| src.get(f).and_then(|v| number(&v));
                let (Some(la), Some(lo)) = (coord(lat), coord(lon)) else {
                    return;
                };
                if !geohash(la, lo, *precision, buf) {
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
                                vec![buf.clone()],
                                functions.iter().map(Agg::new_state).collect(),
                            )
                        })
                    }
                };
                let mut inner = String::new();
                for (f, s) in functions.iter().zip(g.1.iter_mut()) {
                    f.add_any(s, src, row, &mut inner);
                }
            }
            (
                Agg::Series {
                    span,
                    fields,
                    functions,
                    limit,
                    ..
                },
                State::Series { map, limited },
            ) => {
                let b = src.timestamp().div_euclid(*span) * span;
                if !key_of(src, fields, buf) {
                    return;
                }
                if !map.contains_key(buf.as_str()) {
                    // Keep a bounded number of series; the largest `limit` are shown.
                    if map.len() >= limit.saturating_mul(10).max(1000) {
                        *limited = true;
                        return;
                    }
                    map.insert(buf.clone(), SeriesState::default());
                }
                let Some(entry) = map.get_mut(buf.as_str()) else {
                    return;
                };
                entry.0 += 1;
                let states = entry
                    .1
                    .entry(b)
                    .or_insert_with(|| functions.iter().map(Agg::new_state).collect());
                let mut inner = String::new();
                for (f, s) in functions.iter().zip(states.iter_mut()) {
                    f.add_any(s, src, row, &mut inner);
                }
            }
            (Agg::Top { fields, weight, .. }, State::Top { map, total }) => {
                if !key_of(src, fields, buf) {
                    return;
                }
                let w = match weight {
                    TopWeight::Count => 1.0,
                    TopWeight::Sum(f) | TopWeight::Max(f) => {
                        match src.get(f).and_then(|v| number(&v)) {
                            Some(x) => x,
                            None => return,
                        }
                    }
                };
                *total += w;
                let is_max = matches!(weight, TopWeight::Max(_));
                match map.get_mut(buf.as_str()) {
                    Some(e) if is_max => e.1 = e.1.max(w),
                    Some(e) => e.1 += w,
                    None => {
                        let vals = buf.split('\u{1}').map(str::to_string).collect();
                        map.insert(buf.clone(), (vals, w));
                    }
                }
            }
            (Agg::Collect { fields, limit, .. }, State::Collect { sets, limited }) => {
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
            (Agg::SelectLast { fields }, State::Last(vals)) => {
                let t = src.timestamp();
                for (f, slot) in fields.iter().zip(vals.iter_mut()) {
                    if let Some(v) = src.get(f) {
                        if newer(t, &v, slot) {
                            *slot = Some((t, v.into_owned()));
                        }
                    }
                }
            }
            (
                Agg::SelectExtreme {
                    field,
                    include,
                    max,
                },
                State::Extreme(best),
            ) => {
                let Some(x) = src.get(field).and_then(|v| number(&v)) else {
                    return;
                };
                let cand = (
                    x,
                    src.timestamp(),
                    include
                        .iter()
                        .map(|f| src.get(f).map(Cow::into_owned))
                        .collect(),
                );
                if best
                    .as_ref()
                    .is_none_or(|b| session::better(&cand, b, *max))
                {
                    *best = Some(cand);
                }
            }
            (
                Agg::Session {
                    maxpause,
                    functions,
                },
                State::Sessions(v),
            ) => {
                let i = session::place(v, src.timestamp(), *maxpause, functions);
                let mut inner = String::new();
                for (f, s) in functions.iter().zip(v[i].2.iter_mut()) {
                    f.add_any(s, src, row, &mut inner);
                }
            }
            (Agg::Rows { order, limit, .. }, State::Rows { rows, threshold }) => {
                if let Some(r) = row {
                    push_row(order, *limit, rows, threshold, Cow::Borrowed(r));
                }
            }
            (Agg::Sliding { .. }, State::Rows { rows, .. }) => {
                if let Some(r) = row {
                    rows.push(r.clone());
                }
            }
            (Agg::FieldStats { .. }, State::Fields { map, limited }) => {
                if let Some(r) = row {
                    super::fieldstats::add(map, limited, r);
                }
            }
            _ => {}
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

/// Is (t, v) newer than what a selectLast slot holds? Equal times keep the larger value, so the
/// answer does not depend on the order events arrive in.
pub(super) fn newer(t: i64, v: &str, slot: &Option<(i64, String)>) -> bool {
    match slot {
        None => true,
        Some((bt, bv)) => t > *bt || (t == *bt && v > bv.as_str()),
    }
}

/// The base32 geohash of (lat, lon) with `precision` characters into `buf`; false when the
/// coordinates are out of range.
pub(super) fn geohash(lat: f64, lon: f64, precision: usize, buf: &mut String) -> bool {
    const BASE32: &[u8] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    buf.clear();
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return false;
    }
    let (mut la, mut lo) = ((-90.0f64, 90.0f64), (-180.0f64, 180.0f64));
    let mut even = true;
    let (mut bits, mut ch) = (0, 0usize);
    while buf.len() < precision {
        let (range, x) = if even { (&mut lo, lon) } else { (&mut la, lat) };
        let mid = (range.0 + range.1) / 2.0;
        ch <<= 1;
        if x > mid {
            ch |= 1;
            range.0 = mid;
        } else {
            range.1 = mid;
        }
        even = !even;
        bits += 1;
        if bits == 5 {
            buf.push(char::from(BASE32[ch]));
            (bits, ch) = (0, 0);
        }
    }
    true
}
