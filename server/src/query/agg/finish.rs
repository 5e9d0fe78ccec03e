//! Turning a merged state into result rows, with LogScale's output names (`_count`, `_avg`,
//! `_50`, `_range`) and orders (groups by key, top by count). Several functions' outputs combine
//! as LogScale's `stats()` documents: one row when each yields at most one, else the Cartesian
//! product, a function with no rows counting as one empty row
//! (https://library.humio.com/data-analysis/functions-stats.html).

use std::cmp::Ordering;

use super::order::{cmp_keys, compact};
use super::{Agg, Group, StatKind, State, TopWeight};
use crate::query::fmt_num;
use crate::query::row::{Row, RowKey};

/// Combines the output rows of several functions onto `base` (the stats() rule).
pub(super) fn combine(base: Row, parts: Vec<Vec<Row>>) -> Vec<Row> {
    let mut out = vec![base];
    for rows in parts {
        if rows.len() <= 1 {
            if let Some(r) = rows.first() {
                for o in &mut out {
                    merge_into(o, r);
                }
            }
            continue;
        }
        let mut next = Vec::with_capacity(out.len() * rows.len());
        for o in &out {
            for r in &rows {
                let mut x = o.clone();
                merge_into(&mut x, r);
                next.push(x);
            }
        }
        out = next;
    }
    out
}

fn merge_into(o: &mut Row, r: &Row) {
    for (k, v) in &r.fields {
        o.set(k, v.clone());
    }
    if r.key != RowKey::default() {
        o.key = r.key;
    }
}

/// Finishes each function's state and combines the outputs onto `base`.
pub(super) fn finish_all(functions: &[Agg], states: Vec<State>, base: Row) -> Vec<Row> {
    let parts = functions
        .iter()
        .zip(states)
        .map(|(f, s)| f.finish(s))
        .collect();
    combine(base, parts)
}

impl Agg {
    /// Output of a single-row aggregate, written into `row`.
    fn finish_into(&self, st: State, row: &mut Row) {
        match (self, st) {
            (Agg::Count { as_, .. }, State::Count(n)) => row.set(as_, n.to_string()),
            (Agg::Count { as_, .. }, State::Distinct(s)) => row.set(as_, s.len().to_string()),
            (Agg::Count { as_, .. }, State::Hll(h)) => row.set(as_, h.estimate().to_string()),
            (Agg::Stat { kind, as_, .. }, State::Num(s)) => {
                let v = match kind {
                    StatKind::Sum => Some(s.sum),
                    _ if s.n == 0 => None,
                    StatKind::Avg => Some(s.sum / s.n as f64),
                    StatKind::Min => Some(s.min),
                    StatKind::Max => Some(s.max),
                    StatKind::Range => Some(s.max - s.min),
                    StatKind::StdDev => {
                        let mean = s.sum / s.n as f64;
                        Some((s.sumsq / s.n as f64 - mean * mean).max(0.0).sqrt())
                    }
                };
                if let Some(v) = v {
                    row.set(as_, fmt_num(v));
                }
            }
            (
                Agg::Percentile {
                    percentiles,
                    prefix,
                    ..
                },
                State::Values(mut v),
            ) => {
                if v.is_empty() {
                    return;
                }
                v.sort_unstable_by(|a, b| a.partial_cmp(b).unwrap_or(Ordering::Equal));
                for p in percentiles {
                    let rank = (p / 100.0).clamp(0.0, 1.0) * (v.len() - 1) as f64;
                    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
                    let x = v[lo] + (v[hi] - v[lo]) * (rank - lo as f64);
                    row.set(&format!("{prefix}_{}", fmt_num(*p)), fmt_num(x));
                }
            }
            (
                Agg::Percentile {
                    percentiles,
                    prefix,
                    accuracy,
                    ..
                },
                State::Sketch(s),
            ) => {
                for p in percentiles {
                    if let Some(x) = s.quantile(*p, *accuracy) {
                        row.set(&format!("{prefix}_{}", fmt_num(*p)), fmt_num(x));
                    }
                }
            }
            (Agg::SelectLast { fields }, State::Last(vals)) => {
                for (f, v) in fields.iter().zip(vals) {
                    if let Some((_, v)) = v {
                        row.set(f, v);
                    }
                }
            }
            (Agg::SelectExtreme { include, .. }, State::Extreme(Some((_, _, vals)))) => {
                for (f, v) in include.iter().zip(vals) {
                    if let Some(v) = v {
                        row.set(f, v);
                    }
                }
            }
            _ => {}
        }
    }

    /// Turns a (merged) state into result rows.
    pub fn finish(&self, st: State) -> Vec<Row> {
        match (self, st) {
            (Agg::Sliced { inner, .. }, State::Slices(m)) => {
                let mut acc = inner.new_state();
                for s in m.into_values() {
                    inner.merge(&mut acc, s);
                }
                inner.finish(acc)
            }
            (Agg::Renamed { inner, renames }, st) => {
                let mut rows = inner.finish(st);
                for r in &mut rows {
                    for (k, _) in &mut r.fields {
                        if let Some((_, to)) = renames.iter().find(|(from, _)| from == k) {
                            *k = to.clone();
                        }
                    }
                }
                rows
            }
            (Agg::Stats(fs), State::Multi(ss)) => finish_all(fs, ss, Row::default()),
            (Agg::Window { functions, .. }, State::Multi(ss)) => {
                if super::window::has_result(functions, &ss) {
                    finish_all(functions, ss, Row::default())
                } else {
                    Vec::new()
                }
            }
            (
                Agg::GroupBy {
                    fields, functions, ..
                },
                State::Groups { map, .. },
            ) => {
                let mut groups: Vec<Group> = map.into_values().collect();
                groups.sort_by(|a, b| cmp_keys(&a.0, &b.0));
                groups
                    .into_iter()
                    .flat_map(|(vals, states)| {
                        let mut row = Row::default();
                        for (f, v) in fields.iter().zip(vals) {
                            row.set(f, v);
                        }
                        finish_all(functions, states, row)
                    })
                    .collect()
            }
            (
                Agg::Series {
                    fields,
                    functions,
                    limit,
                    start,
                    end,
                    bucket_ms,
                    zone,
                    unit,
                    ..
                },
                State::Series { map, .. },
            ) => super::series::finish_series(
                &super::series::SeriesOut {
                    fields,
                    functions,
                    limit: *limit,
                    start: *start,
                    end: *end,
                    bucket_ms: *bucket_ms,
                    zone: *zone,
                    factor: unit.as_ref().map(|u| u.factor(*bucket_ms)),
                },
                map,
            ),
            (Agg::WorldMap { functions, .. }, State::Groups { map, .. }) => {
                let mut groups: Vec<Group> = map.into_values().collect();
                groups.sort_by(|a, b| a.0.cmp(&b.0));
                groups
                    .into_iter()
                    .flat_map(|(mut vals, states)| {
                        let mut row = Row::default();
                        row.set("_geohash", vals.pop().unwrap_or_default());
                        finish_all(functions, states, row)
                    })
                    .collect()
            }
            (Agg::Session { functions, .. }, State::Sessions(v)) => v
                .into_iter()
                .flat_map(|(_, _, ss)| finish_all(functions, ss, Row::default()))
                .collect(),
            (
                Agg::Top {
                    fields,
                    limit,
                    weight,
                    as_,
                    percent,
                    rest,
                },
                State::Top { map, total },
            ) => {
                let mut v: Vec<(Vec<String>, f64)> = map.into_values().collect();
                v.sort_by(|a, b| {
                    b.1.partial_cmp(&a.1)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| cmp_keys(&a.0, &b.0))
                });
                let left: Vec<(Vec<String>, f64)> = v.split_off((*limit).min(v.len()));
                let row_of = |vals: Vec<String>, w: f64| {
                    let mut row = Row::default();
                    for (f, x) in fields.iter().zip(vals) {
                        row.set(f, x);
                    }
                    row.set(as_, fmt_num(w));
                    if *percent && total > 0.0 {
                        row.set("percent", fmt_num(w / total * 100.0));
                    }
                    row
                };
                let mut rows: Vec<Row> = v.into_iter().map(|(vals, w)| row_of(vals, w)).collect();
                if let (Some(name), false) = (rest, left.is_empty()) {
                    let w = match weight {
                        TopWeight::Max(_) => left.iter().map(|e| e.1).fold(f64::MIN, f64::max),
                        _ => left.iter().map(|e| e.1).sum(),
                    };
                    rows.push(row_of(vec![name.clone(); fields.len()], w));
                }
                rows
            }
            (
                Agg::Collect {
                    fields,
                    separator,
                    multival,
                    ..
                },
                State::Collect { sets, .. },
            ) => {
                if *multival {
                    let mut row = Row::default();
                    for (f, set) in fields.iter().zip(sets) {
                        if !set.is_empty() {
                            row.set(f, set.into_iter().collect::<Vec<_>>().join(separator));
                        }
                    }
                    return vec![row];
                }
                // multival=false: a row per value (the i-th value of each field side by side).
                let mut cols: Vec<std::collections::btree_set::IntoIter<String>> =
                    sets.into_iter().map(|s| s.into_iter()).collect();
                let mut rows = Vec::new();
                loop {
                    let mut row = Row::default();
                    for (f, c) in fields.iter().zip(cols.iter_mut()) {
                        if let Some(v) = c.next() {
                            row.set(f, v);
                        }
                    }
                    if row.fields.is_empty() {
                        break;
                    }
                    rows.push(row);
                }
                rows
            }
            (
                Agg::Rows {
                    order,
                    limit,
                    select,
                },
                State::Rows { mut rows, .. },
            ) => {
                let mut t = None;
                compact(order, *limit, &mut rows, &mut t);
                if let Some(sel) = select {
                    for r in &mut rows {
                        let mut out = Row {
                            key: r.key,
                            fields: Vec::with_capacity(sel.len()),
                        };
                        for f in sel {
                            if let Some(v) = r.get_str(f) {
                                out.fields.push((f.clone(), v.to_string()));
                            }
                        }
                        *r = out;
                    }
                }
                rows
            }
            (
                Agg::Sliding {
                    reach,
                    current,
                    functions,
                },
                State::Rows { rows, .. },
            ) => super::sliding::finish(reach, *current, functions, rows),
            (Agg::FieldStats { limit }, State::Fields { map, .. }) => {
                super::fieldstats::finish(map, *limit)
            }
            (a, s) => {
                let mut row = Row::default();
                a.finish_into(s, &mut row);
                vec![row]
            }
        }
    }
}
