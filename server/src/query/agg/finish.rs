//! Turning a merged state into result rows, with LogScale's output names (`_count`, `_avg`,
//! `_50`, `_bucket`) and orders (groups by key, top by count, timeChart filled bucket by bucket).

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use super::order::{cmp_keys, compact};
use super::{Agg, Group, SeriesState, StatKind, State, MAX_BUCKETS};
use crate::query::fmt_num;
use crate::query::row::Row;

impl Agg {
    /// Output of a single-row aggregate, written into `row`.
    fn finish_into(&self, st: State, row: &mut Row) {
        match (self, st) {
            (Agg::Count { as_, .. }, State::Count(n)) => row.set(as_, n.to_string()),
            (Agg::Count { as_, .. }, State::Distinct(s)) => row.set(as_, s.len().to_string()),
            (Agg::Stat { kind, as_, .. }, State::Num(s)) => {
                let v = match kind {
                    StatKind::Sum => Some(s.sum),
                    _ if s.n == 0 => None,
                    StatKind::Avg => Some(s.sum / s.n as f64),
                    StatKind::Min => Some(s.min),
                    StatKind::Max => Some(s.max),
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
            (Agg::Stats(fs), State::Multi(ss)) => {
                for (f, s) in fs.iter().zip(ss) {
                    f.finish_into(s, row);
                }
            }
            (Agg::Collect { fields, .. }, State::Collect { sets, .. }) => {
                for (f, set) in fields.iter().zip(sets) {
                    if !set.is_empty() {
                        row.set(f, set.into_iter().collect::<Vec<_>>().join("\n"));
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
                    .map(|(vals, states)| {
                        let mut row = Row::default();
                        for (f, v) in fields.iter().zip(vals) {
                            row.set(f, v);
                        }
                        for (f, s) in functions.iter().zip(states) {
                            f.finish_into(s, &mut row);
                        }
                        row
                    })
                    .collect()
            }
            (
                Agg::Series {
                    span,
                    series,
                    functions,
                    limit,
                    start,
                    end,
                },
                State::Series { map, .. },
            ) => finish_series(*span, series, functions, *limit, *start, *end, map),
            (
                Agg::Top {
                    fields,
                    limit,
                    as_,
                    percent,
                    ..
                },
                State::Top { map, total },
            ) => {
                let mut v: Vec<(Vec<String>, f64)> = map.into_values().collect();
                v.sort_by(|a, b| {
                    b.1.partial_cmp(&a.1)
                        .unwrap_or(Ordering::Equal)
                        .then_with(|| cmp_keys(&a.0, &b.0))
                });
                v.truncate(*limit);
                v.into_iter()
                    .map(|(vals, w)| {
                        let mut row = Row::default();
                        for (f, x) in fields.iter().zip(vals) {
                            row.set(f, x);
                        }
                        row.set(as_, fmt_num(w));
                        if *percent && total > 0.0 {
                            row.set("percent", fmt_num(w / total * 100.0));
                        }
                        row
                    })
                    .collect()
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
            (a, s) => {
                let mut row = Row::default();
                a.finish_into(s, &mut row);
                vec![row]
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_series(
    span: i64,
    series: &Option<String>,
    functions: &[Agg],
    limit: usize,
    start: i64,
    end: i64,
    map: HashMap<String, SeriesState>,
) -> Vec<Row> {
    // Keep the `limit` largest series (by event count), name-ordered for stable output.
    let mut names: Vec<(String, u64)> = map.iter().map(|(k, v)| (k.clone(), v.0)).collect();
    names.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if series.is_some() {
        names.truncate(limit);
    }
    let kept: BTreeSet<String> = names.into_iter().map(|(n, _)| n).collect();
    let mut buckets: BTreeMap<i64, Row> = BTreeMap::new();
    let all_counts = functions.iter().all(|f| matches!(f, Agg::Count { .. }));
    let first = start.div_euclid(span) * span;
    if all_counts && end > start && (end - first) / span <= MAX_BUCKETS {
        // Buckets without events show 0, so charts have no gaps.
        let mut b = first;
        while b < end {
            let mut row = Row::default();
            row.set("_bucket", b.to_string());
            for name in &kept {
                for f in functions {
                    let mut tmp = Row::default();
                    f.finish_into(f.new_state(), &mut tmp);
                    for (out, v) in tmp.fields {
                        row.set(&series_col(series, name, &out, functions.len()), v);
                    }
                }
            }
            buckets.insert(b, row);
            b += span;
        }
    }
    for (name, (_, bucket_states)) in map {
        if !kept.contains(&name) {
            continue;
        }
        for (b, states) in bucket_states {
            let row = buckets.entry(b).or_insert_with(|| {
                let mut r = Row::default();
                r.set("_bucket", b.to_string());
                r
            });
            for (f, s) in functions.iter().zip(states) {
                let mut tmp = Row::default();
                f.finish_into(s, &mut tmp);
                for (out, v) in tmp.fields {
                    row.set(&series_col(series, &name, &out, functions.len()), v);
                }
            }
        }
    }
    buckets.into_values().collect()
}

fn series_col(series: &Option<String>, name: &str, out: &str, nfuncs: usize) -> String {
    match series {
        None => out.to_string(),
        Some(_) if nfuncs == 1 => name.to_string(),
        Some(_) => format!("{name}.{out}"),
    }
}
