//! Aggregate functions with mergeable partial states. A query's first aggregate runs where the
//! data is (per block range, per thread; per node in a cluster): each worker feeds events into
//! its own [`State`], states are merged, and [`Agg::finish`] turns the merged state into rows.
//! Output field names follow LogScale (`_count`, `_sum`, `_avg`, `_min`, `_max`, `_stddev`,
//! `_50`..., `_bucket`).
//!
//! Memory is bounded: groupBy/top/timeChart stop adding groups past their limit (with a
//! warning, as LogScale does), and states that grow with the data (distinct counts, percentile
//! values) fail the query with a clear error past a fixed budget instead of exhausting the node.
//!
//! This file holds the aggregates, their states and the checks on them; feeding events is in
//! `add.rs`, merging partial states in `merge.rs`, turning states into rows in `finish.rs`, and
//! the row and group orders those share in `order.rs`.

mod add;
mod finish;
mod merge;
mod order;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::row::{Row, RowKey};

pub use order::cmp_values;

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
}
