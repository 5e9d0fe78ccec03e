//! Finishing `timeChart()` / `bucket()` in LogScale's long shape: one row per bucket and series
//! with `_bucket` (the bucket's start, epoch ms), the series fields, and the functions' fields
//! (https://library.humio.com/data-analysis/functions-bucket.html). Buckets cover `[start, end)`
//! aligned to the zone; every bucket of that range appears for every kept series, with each
//! function's empty output where no event fell (count 0, no avg), the same for the count and the
//! function forms. Buckets follow the zone's wall clock (`Zone::bucket_start`): with an IANA zone
//! a day bucket starts at local midnight and spans 23 or 25 hours across DST. The kept series are
//! the `limit` with the largest sum of the functions' numeric outputs
//! (https://library.humio.com/data-analysis/functions-timechart.html).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;

use super::finish::finish_all;
use super::order::cmp_keys;
use super::{Agg, SeriesState, State, MAX_BUCKETS};
use crate::query::ops::Zone;
use crate::query::row::Row;
use crate::query::{fmt_num, number};

pub(super) struct SeriesOut<'a> {
    pub fields: &'a [String],
    pub functions: &'a [Agg],
    pub limit: usize,
    pub start: i64,
    pub end: i64,
    pub bucket_ms: i64,
    pub zone: Zone,
    pub factor: Option<f64>,
}

impl SeriesOut<'_> {
    fn align(&self, t: i64) -> i64 {
        self.zone.bucket_start(t, self.bucket_ms)
    }
}

/// One series: its key values and its finished rows per output bucket.
type Finished = (Vec<String>, BTreeMap<i64, Vec<Row>>);

pub(super) fn finish_series(o: &SeriesOut<'_>, map: HashMap<String, SeriesState>) -> Vec<Row> {
    // Fold the stored (UTC-aligned) buckets into the zone-aligned output buckets.
    let mut folded: Vec<(String, BTreeMap<i64, Vec<State>>)> = Vec::with_capacity(map.len());
    for (key, (_, stored)) in map {
        let mut buckets: BTreeMap<i64, Vec<State>> = BTreeMap::new();
        for (b, states) in stored {
            match buckets.entry(o.align(b)) {
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(states);
                }
                std::collections::btree_map::Entry::Occupied(mut e) => {
                    for ((f, x), y) in o.functions.iter().zip(e.get_mut().iter_mut()).zip(states) {
                        f.merge(x, y);
                    }
                }
            }
        }
        folded.push((key, buckets));
    }
    let first = o.align(o.start);
    let grid: Vec<i64> =
        if o.end > o.start && (o.end - first + o.bucket_ms - 1) / o.bucket_ms <= MAX_BUCKETS {
            std::iter::successors(Some(first), |b| Some(o.zone.next_bucket(*b, o.bucket_ms)))
                .take_while(|b| *b < o.end)
                .take(MAX_BUCKETS as usize + 2)
                .collect()
        } else {
            // Too many buckets to fill: only those with events.
            let mut v: Vec<i64> = folded.iter().flat_map(|s| s.1.keys().copied()).collect();
            v.sort_unstable();
            v.dedup();
            v
        };
    let mut series: Vec<(f64, Finished)> = Vec::with_capacity(folded.len());
    for (key, mut buckets) in folded {
        super::window::apply(o.functions, o.bucket_ms, &grid, &mut buckets);
        let mut score = 0.0;
        let rows: BTreeMap<i64, Vec<Row>> = buckets
            .into_iter()
            .map(|(b, states)| {
                let rows = finish_all(o.functions, states, Row::default());
                for r in &rows {
                    score += r.fields.iter().filter_map(|(_, v)| number(v)).sum::<f64>();
                }
                (b, rows)
            })
            .collect();
        let vals = if o.fields.is_empty() {
            Vec::new()
        } else {
            key.split('\u{1}').map(str::to_string).collect()
        };
        series.push((score, (vals, rows)));
    }
    series.sort_by(|a, b| {
        b.0.partial_cmp(&a.0)
            .unwrap_or(Ordering::Equal)
            .then_with(|| cmp_keys(&a.1 .0, &b.1 .0))
    });
    series.truncate(o.limit.max(1));
    series.sort_by(|a, b| cmp_keys(&a.1 .0, &b.1 .0));
    let series: Vec<Finished> = series.into_iter().map(|(_, s)| s).collect();

    let empty = finish_all(
        o.functions,
        o.functions.iter().map(Agg::new_state).collect(),
        Row::default(),
    );
    let mut out = Vec::new();
    for b in grid {
        for (vals, rows) in &series {
            for r in rows.get(&b).unwrap_or(&empty) {
                let mut row = Row {
                    key: r.key,
                    fields: Vec::with_capacity(1 + vals.len() + r.fields.len()),
                };
                row.fields.push(("_bucket".into(), b.to_string()));
                for (f, v) in o.fields.iter().zip(vals) {
                    row.set(f, v.clone());
                }
                for (k, v) in &r.fields {
                    let v = match (o.factor, number(v)) {
                        (Some(f), Some(x)) => fmt_num(x * f),
                        _ => v.clone(),
                    };
                    row.set(k, v);
                }
                out.push(row);
            }
        }
    }
    out
}
