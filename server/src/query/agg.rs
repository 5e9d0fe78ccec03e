//! Aggregate functions with mergeable partial states. A query's first aggregate runs where the
//! data is (per block range, per thread; per node in a cluster): each worker feeds events into
//! its own [`State`], states are merged, and [`Agg::finish`] turns the merged state into rows.
//! Output field names follow LogScale (`_count`, `_sum`, `_avg`, `_min`, `_max`, `_stddev`,
//! `_50`..., `_bucket`).
//!
//! Memory is bounded: groupBy/top/timeChart stop adding groups past their limit (with a
//! warning, as LogScale does), and states that grow with the data (distinct counts, percentile
//! values) fail the query with a clear error past a fixed budget instead of exhausting the node.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::row::{Row, RowKey, Source};
use super::{fmt_num, number};

/// Largest number of distinct values `count(distinct=true)` keeps.
pub const MAX_DISTINCT: usize = 2_000_000;
/// Largest number of values `percentile()` keeps.
pub const MAX_VALUES: usize = 20_000_000;
/// Largest number of buckets timeChart/bucket fill (LogScale's limit).
pub const MAX_BUCKETS: i64 = 1500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    Sum,
    Avg,
    Min,
    Max,
    StdDev,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SortType {
    /// Numbers when both values are numbers, else text.
    Any,
    Number,
    String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    pub field: String,
    pub desc: bool,
    pub kind: SortType,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowOrder {
    /// `head()`: oldest events first.
    Oldest,
    /// `tail()` and the default event list: newest first.
    Newest,
    Fields(Vec<SortKey>),
}

/// An aggregate function.
#[derive(Debug, Clone, PartialEq)]
pub enum Agg {
    Count {
        field: Option<String>,
        distinct: bool,
        as_: String,
    },
    Stat {
        kind: StatKind,
        field: String,
        as_: String,
    },
    Percentile {
        field: String,
        percentiles: Vec<f64>,
        prefix: String,
    },
    Stats(Vec<Agg>),
    GroupBy {
        fields: Vec<String>,
        functions: Vec<Agg>,
        limit: usize,
    },
    Top {
        fields: Vec<String>,
        limit: usize,
        sum: Option<String>,
        as_: String,
        percent: bool,
    },
    /// `timeChart()` and `bucket()`: time buckets of `span` ms, optionally split by a series
    /// field.
    Series {
        span: i64,
        series: Option<String>,
        functions: Vec<Agg>,
        limit: usize,
        start: i64,
        end: i64,
    },
    Collect {
        fields: Vec<String>,
        limit: usize,
    },
    /// `head()`, `tail()`, `sort()`, `table()`: a bounded list of rows.
    Rows {
        order: RowOrder,
        limit: usize,
        select: Option<Vec<String>>,
    },
    /// Live queries: the inner aggregate kept per time slice of `slice_ms`, so slices that
    /// leave the sliding window can be dropped ([`State::prune`]).
    Sliced {
        slice_ms: i64,
        inner: Box<Agg>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NumState {
    pub n: u64,
    pub sum: f64,
    pub sumsq: f64,
    pub min: f64,
    pub max: f64,
}

/// A group's key values and its function states.
pub type Group = (Vec<String>, Vec<State>);

/// One timeChart series: events seen, and function states per bucket start.
pub type SeriesState = (u64, HashMap<i64, Vec<State>>);

/// A partial aggregate state. Serializable, so partial results can travel between nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum State {
    Count(u64),
    Distinct(HashSet<String>),
    Num(NumState),
    Values(Vec<f64>),
    Multi(Vec<State>),
    Groups {
        map: HashMap<String, Group>,
        limited: bool,
    },
    /// Per series value: its event count and its buckets.
    Series {
        map: HashMap<String, SeriesState>,
        limited: bool,
    },
    Top {
        map: HashMap<String, (Vec<String>, f64)>,
        total: f64,
    },
    Collect {
        sets: Vec<BTreeSet<String>>,
        limited: bool,
    },
    Rows {
        rows: Vec<Row>,
        /// Once the list was cut to its limit: the key an event must beat to enter.
        threshold: Option<RowKey>,
    },
    /// Per slice start (epoch ms): the inner aggregate's state.
    Slices(BTreeMap<i64, State>),
}

impl State {
    /// Drops the slices of a sliced state that end at or before `before`.
    pub fn prune(&mut self, before: i64, slice_ms: i64) {
        if let State::Slices(m) = self {
            m.retain(|start, _| start + slice_ms > before);
        }
    }
}

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
    /// True for aggregates that keep whole rows (they need materialised events).
    pub fn needs_rows(&self) -> bool {
        match self {
            Agg::Sliced { inner, .. } => inner.needs_rows(),
            a => matches!(a, Agg::Rows { .. }),
        }
    }

    /// True when the aggregate reads event timestamps.
    pub fn needs_time(&self) -> bool {
        matches!(self, Agg::Series { .. } | Agg::Sliced { .. })
    }

    /// True when the result is a list of events rather than computed rows.
    pub fn yields_events(&self) -> bool {
        if let Agg::Sliced { inner, .. } = self {
            return inner.yields_events();
        }
        matches!(
            self,
            Agg::Rows {
                select: None,
                order: RowOrder::Oldest | RowOrder::Newest,
                ..
            }
        )
    }

    /// Field names the aggregate reads.
    pub fn fields(&self, out: &mut Vec<String>) {
        match self {
            Agg::Count { field, .. } => out.extend(field.iter().cloned()),
            Agg::Stat { field, .. } | Agg::Percentile { field, .. } => out.push(field.clone()),
            Agg::Stats(fs) => fs.iter().for_each(|f| f.fields(out)),
            Agg::GroupBy {
                fields, functions, ..
            } => {
                out.extend(fields.iter().cloned());
                functions.iter().for_each(|f| f.fields(out));
            }
            Agg::Top { fields, sum, .. } => {
                out.extend(fields.iter().cloned());
                out.extend(sum.iter().cloned());
            }
            Agg::Series {
                series, functions, ..
            } => {
                out.extend(series.iter().cloned());
                functions.iter().for_each(|f| f.fields(out));
            }
            Agg::Collect { fields, .. } => out.extend(fields.iter().cloned()),
            Agg::Rows { .. } => out.push("*".into()),
            Agg::Sliced { inner, .. } => {
                inner.fields(out);
                out.push("@timestamp".into());
            }
        }
    }

    pub fn new_state(&self) -> State {
        match self {
            Agg::Count { distinct: true, .. } => State::Distinct(HashSet::default()),
            Agg::Count { .. } => State::Count(0),
            Agg::Stat { .. } => State::Num(NumState {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                ..Default::default()
            }),
            Agg::Percentile { .. } => State::Values(Vec::new()),
            Agg::Stats(fs) => State::Multi(fs.iter().map(Agg::new_state).collect()),
            Agg::GroupBy { .. } => State::Groups {
                map: HashMap::default(),
                limited: false,
            },
            Agg::Series { .. } => State::Series {
                map: HashMap::default(),
                limited: false,
            },
            Agg::Top { .. } => State::Top {
                map: HashMap::default(),
                total: 0.0,
            },
            Agg::Collect { fields, .. } => State::Collect {
                sets: vec![BTreeSet::new(); fields.len()],
                limited: false,
            },
            Agg::Rows { .. } => State::Rows {
                rows: Vec::new(),
                threshold: None,
            },
            Agg::Sliced { .. } => State::Slices(BTreeMap::new()),
        }
    }

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

    /// Merges `b` into `a`.
    pub fn merge(&self, a: &mut State, b: State) {
        match (self, a, b) {
            (Agg::Sliced { inner, .. }, State::Slices(x), State::Slices(y)) => {
                for (k, s) in y {
                    match x.get_mut(&k) {
                        Some(mine) => inner.merge(mine, s),
                        None => {
                            x.insert(k, s);
                        }
                    }
                }
            }
            (_, State::Count(x), State::Count(y)) => *x += y,
            (_, State::Distinct(x), State::Distinct(y)) => {
                if x.len() < y.len() {
                    let small = std::mem::replace(x, y);
                    x.extend(small);
                } else {
                    x.extend(y)
                }
            }
            (_, State::Num(x), State::Num(y)) => {
                x.n += y.n;
                x.sum += y.sum;
                x.sumsq += y.sumsq;
                x.min = x.min.min(y.min);
                x.max = x.max.max(y.max);
            }
            (_, State::Values(x), State::Values(y)) => x.extend(y),
            (Agg::Stats(fs), State::Multi(xs), State::Multi(ys)) => {
                for ((f, x), y) in fs.iter().zip(xs.iter_mut()).zip(ys) {
                    f.merge(x, y);
                }
            }
            (
                Agg::GroupBy {
                    functions, limit, ..
                },
                State::Groups { map, limited },
                State::Groups {
                    map: other,
                    limited: l2,
                },
            ) => {
                *limited |= l2;
                merge_groups(functions, map, other, *limit, limited);
            }
            (
                Agg::Series { functions, .. },
                State::Series { map, limited },
                State::Series {
                    map: other,
                    limited: l2,
                },
            ) => {
                *limited |= l2;
                for (name, (n, buckets)) in other {
                    let e = map.entry(name).or_default();
                    e.0 += n;
                    for (b, states) in buckets {
                        match e.1.get_mut(&b) {
                            Some(mine) => {
                                for ((f, x), y) in functions.iter().zip(mine.iter_mut()).zip(states)
                                {
                                    f.merge(x, y);
                                }
                            }
                            None => {
                                e.1.insert(b, states);
                            }
                        }
                    }
                }
            }
            (_, State::Top { map, total }, State::Top { map: m2, total: t2 }) => {
                *total += t2;
                for (k, (vals, w)) in m2 {
                    map.entry(k).or_insert((vals, 0.0)).1 += w;
                }
            }
            (
                Agg::Collect { limit, .. },
                State::Collect { sets, limited },
                State::Collect {
                    sets: s2,
                    limited: l2,
                },
            ) => {
                *limited |= l2;
                for (a, b) in sets.iter_mut().zip(s2) {
                    for v in b {
                        if a.len() >= *limit {
                            if !a.contains(&v) {
                                *limited = true;
                            }
                        } else {
                            a.insert(v);
                        }
                    }
                }
            }
            (
                Agg::Rows { order, limit, .. },
                State::Rows { rows, threshold },
                State::Rows { rows: r2, .. },
            ) => {
                rows.extend(r2);
                if rows.len() > *limit {
                    compact(order, *limit, rows, threshold);
                }
            }
            _ => {}
        }
    }

    /// Fails when a state outgrew its memory budget.
    pub fn check(&self, st: &State) -> Result<(), String> {
        match (self, st) {
            (Agg::Sliced { inner, .. }, State::Slices(m)) => {
                m.values().try_for_each(|s| inner.check(s))
            }
            (_, State::Distinct(s)) if s.len() > MAX_DISTINCT => Err(format!(
                "count(distinct=true) saw more than {MAX_DISTINCT} distinct values; narrow the query"
            )),
            (_, State::Values(v)) if v.len() > MAX_VALUES => Err(format!(
                "percentile() saw more than {MAX_VALUES} values; narrow the query"
            )),
            (Agg::Stats(fs), State::Multi(ss)) => fs
                .iter()
                .zip(ss)
                .try_for_each(|(f, s)| f.check(s)),
            (Agg::GroupBy { functions, .. }, State::Groups { map, .. }) => {
                for (_, ss) in map.values() {
                    for (f, s) in functions.iter().zip(ss) {
                        f.check(s)?;
                    }
                }
                Ok(())
            }
            (Agg::Series { functions, .. }, State::Series { map, .. }) => {
                for (_, buckets) in map.values() {
                    for ss in buckets.values() {
                        for (f, s) in functions.iter().zip(ss) {
                            f.check(s)?;
                        }
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Warnings to show with the result (limits that cut groups or values).
    pub fn warnings(&self, st: &State, out: &mut Vec<String>) {
        match (self, st) {
            (Agg::Sliced { inner, .. }, State::Slices(m)) => {
                for s in m.values() {
                    inner.warnings(s, out);
                }
                out.dedup();
            }
            (Agg::GroupBy { limit, .. }, State::Groups { limited: true, .. }) => out.push(format!(
                "groupBy() reached its limit of {limit} groups; events of further groups were left out (raise limit=)"
            )),
            (Agg::Series { .. }, State::Series { limited: true, .. }) => out.push(
                "timeChart() saw more series than it keeps; the smallest were left out".into(),
            ),
            (Agg::Collect { limit, .. }, State::Collect { limited: true, .. }) => out.push(format!(
                "collect() kept {limit} values per field; further values were left out"
            )),
            _ => {}
        }
    }

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

fn merge_groups(
    functions: &[Agg],
    map: &mut HashMap<String, Group>,
    other: HashMap<String, Group>,
    limit: usize,
    limited: &mut bool,
) {
    for (k, (vals, states)) in other {
        if let Some(g) = map.get_mut(&k) {
            for ((f, a), b) in functions.iter().zip(g.1.iter_mut()).zip(states) {
                f.merge(a, b);
            }
        } else if map.len() >= limit {
            *limited = true;
        } else {
            map.insert(k, (vals, states));
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

/// Orders group keys: numerically when both are numbers, else as text.
fn cmp_keys(a: &[String], b: &[String]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = cmp_values(Some(x), Some(y), &SortType::Any);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Compares two optional values; missing values sort last.
pub fn cmp_values(a: Option<&str>, b: Option<&str>, kind: &SortType) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            let nums = match kind {
                SortType::String => None,
                _ => number(x).zip(number(y)),
            };
            match (nums, kind) {
                (Some((p, q)), _) => p.partial_cmp(&q).unwrap_or(Ordering::Equal),
                (None, SortType::Number) => match (number(x), number(y)) {
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    _ => x.cmp(y),
                },
                _ => x.cmp(y),
            }
        }
    }
}

fn beats(order: &RowOrder, key: &RowKey, threshold: &RowKey) -> bool {
    match order {
        RowOrder::Oldest => key < threshold,
        RowOrder::Newest => key > threshold,
        RowOrder::Fields(_) => true,
    }
}

fn row_cmp(order: &RowOrder, a: &Row, b: &Row) -> Ordering {
    match order {
        RowOrder::Oldest => a.key.cmp(&b.key),
        RowOrder::Newest => b.key.cmp(&a.key),
        RowOrder::Fields(keys) => {
            for k in keys {
                // Missing values, and text among numbers, sort last in both directions.
                let (x, y) = (a.get_str(&k.field), b.get_str(&k.field));
                let class = |v: Option<&str>| match v {
                    None => 2,
                    Some(s) if k.kind != SortType::String && number(s).is_none() => 1,
                    Some(_) => 0,
                };
                let (cx, cy) = (class(x), class(y));
                let o = if cx != cy {
                    cx.cmp(&cy)
                } else if k.desc {
                    cmp_values(y, x, &k.kind)
                } else {
                    cmp_values(x, y, &k.kind)
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            // Ties: newest first, so results are deterministic.
            b.key.cmp(&a.key)
        }
    }
}

fn compact(order: &RowOrder, limit: usize, rows: &mut Vec<Row>, threshold: &mut Option<RowKey>) {
    rows.sort_by(|a, b| row_cmp(order, a, b));
    rows.truncate(limit);
    if rows.len() == limit && !matches!(order, RowOrder::Fields(_)) {
        *threshold = rows.last().map(|r| r.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)], ts: i64) -> Row {
        let mut r = Row::default();
        r.key.0 = ts;
        for (k, v) in pairs {
            r.set(k, v.to_string());
        }
        r
    }

    #[test]
    fn merged_states_equal_one_state() {
        let agg = Agg::GroupBy {
            fields: vec!["h".into()],
            functions: vec![
                Agg::Count {
                    field: None,
                    distinct: false,
                    as_: "_count".into(),
                },
                Agg::Stat {
                    kind: StatKind::Avg,
                    field: "x".into(),
                    as_: "_avg".into(),
                },
            ],
            limit: 100,
        };
        let rows: Vec<Row> = (0..100)
            .map(|i| row(&[("h", &format!("h{}", i % 7)), ("x", &i.to_string())], i))
            .collect();
        let mut one = agg.new_state();
        for r in &rows {
            agg.add(&mut one, r);
        }
        let (mut a, mut b) = (agg.new_state(), agg.new_state());
        for (i, r) in rows.iter().enumerate() {
            agg.add(if i % 3 == 0 { &mut a } else { &mut b }, r);
        }
        agg.merge(&mut a, b);
        assert_eq!(agg.finish(one), agg.finish(a));
    }

    #[test]
    fn states_survive_serialization_and_still_merge() {
        let agg = Agg::Series {
            span: 10,
            series: Some("h".into()),
            functions: vec![Agg::Percentile {
                field: "x".into(),
                percentiles: vec![50.0],
                prefix: String::new(),
            }],
            limit: 10,
            start: 0,
            end: 100,
        };
        let rows: Vec<Row> = (0..50)
            .map(|i| row(&[("h", &format!("h{}", i % 3)), ("x", &i.to_string())], i))
            .collect();
        let (mut a, mut b, mut one) = (agg.new_state(), agg.new_state(), agg.new_state());
        for (i, r) in rows.iter().enumerate() {
            agg.add(if i % 2 == 0 { &mut a } else { &mut b }, r);
            agg.add(&mut one, r);
        }
        let wire = serde_json::to_vec(&b).unwrap();
        let b2: State = serde_json::from_slice(&wire).unwrap();
        assert_eq!(b, b2);
        agg.merge(&mut a, b2);
        assert_eq!(agg.finish(a), agg.finish(one));
    }

    #[test]
    fn tail_keeps_the_newest() {
        let agg = Agg::Rows {
            order: RowOrder::Newest,
            limit: 3,
            select: None,
        };
        let mut st = agg.new_state();
        for i in 0..1000 {
            agg.add_row(&mut st, row(&[], (i * 7919) % 1000));
        }
        let out: Vec<i64> = agg.finish(st).iter().map(|r| r.key.0).collect();
        assert_eq!(out, vec![999, 998, 997]);
    }
}
