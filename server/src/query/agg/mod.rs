//! Aggregate functions with mergeable partial states. A query's first aggregate runs where the
//! data is (per block range, per thread; per node in a cluster): each worker feeds events into
//! its own [`State`], states are merged, and [`Agg::finish`] turns the merged state into rows.
//! Output field names follow LogScale (`_count`, `_sum`, `_avg`, `_min`, `_max`, `_range`,
//! `_stddev`, `_50`..., `_bucket`).
//!
//! Memory is bounded: groupBy/top/timeChart stop adding groups past their limit (with a
//! warning, as LogScale does); states that grow with the data switch to fixed-size sketches
//! (distinct counts to HyperLogLog, percentiles to a relative-error histogram, see `sketch.rs`)
//! or fail the query with a clear error past a fixed budget instead of exhausting the node.
//!
//! This file holds the aggregates, their states and the checks on them; feeding events is in
//! `add.rs`, merging partial states in `merge.rs`, turning states into rows in `finish.rs`
//! (timeChart/bucket in `series.rs`, with `unit=` in `unit.rs`), sessions in `session.rs`, and
//! the row and group orders those share in `order.rs`.

mod add;
mod fieldstats;
mod finish;
mod merge;
mod order;
mod series;
mod session;
mod sketch;
mod sliding;
#[cfg(test)]
mod tests;
mod unit;
mod window;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::row::{Row, RowKey};

pub use fieldstats::MAX_FIELDS as FIELDSTATS_MAX_FIELDS;
pub use order::cmp_values;
pub use sketch::{Hll, Sketch, HLL_STD_ERROR};
pub use sliding::Reach;
pub use unit::Unit;

/// Distinct values `count(distinct=true)` counts exactly; past this it estimates with
/// HyperLogLog (standard error [`HLL_STD_ERROR`]).
pub const EXACT_DISTINCT: usize = 10_000;
/// Values `percentile()` keeps exactly; past this it estimates with a sketch whose answers are
/// within the query's `accuracy` (relative error, LogScale's default 0.01) of a true value at the
/// percentile's rank.
pub const EXACT_PERCENTILE: usize = 10_000;
/// Largest number of buckets timeChart/bucket fill (LogScale's limit).
pub const MAX_BUCKETS: i64 = 1500;
/// Largest number of values top() and sessions() keep per state before failing the query.
pub const MAX_KEYS: usize = 2_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatKind {
    Sum,
    Avg,
    Min,
    Max,
    StdDev,
    /// `range()`: max - min.
    Range,
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

/// What `top()` ranks values by: event count (default), `sum=` or `max=` of a field.
#[derive(Debug, Clone, PartialEq)]
pub enum TopWeight {
    Count,
    Sum(String),
    Max(String),
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
    /// Exact below [`EXACT_PERCENTILE`] values, then a relative-error sketch of `accuracy`.
    Percentile {
        field: String,
        percentiles: Vec<f64>,
        prefix: String,
        accuracy: f64,
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
        weight: TopWeight,
        as_: String,
        percent: bool,
        /// `rest=`: the value the group fields get in the extra row counting everything else.
        rest: Option<String>,
    },
    /// `timeChart()` and `bucket()`: long rows (`_bucket`, the series fields, the functions'
    /// fields) for every bucket of `bucket_ms` in `[start, end)`, per series.
    Series {
        /// Width of the stored buckets (UTC-aligned). Equal to `bucket_ms` unless the zone's
        /// offsets need finer storage buckets (`Zone::storage_span`), which `finish` folds into
        /// zone-aligned output buckets.
        span: i64,
        /// The first series field (kept for the column kernels, which only take none).
        series: Option<String>,
        /// Every series field (`bucket(field=[a, b])`); empty without series.
        fields: Vec<String>,
        functions: Vec<Agg>,
        limit: usize,
        /// `limit=` was given: LogScale warns about dropped series only when it was not.
        limit_explicit: bool,
        start: i64,
        end: i64,
        bucket_ms: i64,
        /// The zone whose wall clock output buckets align to (`Zone::bucket_start`).
        zone: crate::query::ops::Zone,
        /// `unit=` conversion factor applied to the functions' numeric outputs.
        unit: Option<Unit>,
    },
    Collect {
        fields: Vec<String>,
        limit: usize,
        separator: String,
        /// true: one row with the values joined by `separator`; false: a row per value.
        multival: bool,
    },
    /// `selectLast()`: per field, its value in the newest event that has it.
    SelectLast {
        fields: Vec<String>,
    },
    /// `selectFromMax()` / `selectFromMin()`: the `include` fields of the event with the largest
    /// (smallest) numeric `field`.
    SelectExtreme {
        field: String,
        include: Vec<String>,
        max: bool,
    },
    /// `session()`: events no further than `maxpause` apart form a session; one row per session.
    Session {
        maxpause: i64,
        functions: Vec<Agg>,
    },
    /// `worldMap(lat=, lon=)`: events grouped by the geohash of their coordinates (`_geohash`),
    /// with the `magnitude` functions per cell.
    WorldMap {
        lat: String,
        lon: String,
        precision: usize,
        functions: Vec<Agg>,
        limit: usize,
    },
    /// An aggregate whose output fields are renamed (`sankey()` is a renamed groupBy).
    Renamed {
        inner: Box<Agg>,
        renames: Vec<(String, String)>,
    },
    /// `head()`, `tail()`, `sort()`, `table()`: a bounded list of rows.
    Rows {
        order: RowOrder,
        limit: usize,
        select: Option<Vec<String>>,
    },
    /// `window()` inside timeChart()/bucket(): `functions` over the `buckets` preceding buckets
    /// (or `span` rounded to buckets), formed at finish (`window.rs`).
    Window {
        buckets: Option<usize>,
        span: Option<i64>,
        functions: Vec<Agg>,
    },
    /// `slidingWindow()` / `slidingTimeWindow()` after an aggregate: `functions` over a moving
    /// window of the rows before each row (`sliding.rs`); the state is the rows in order.
    Sliding {
        reach: Reach,
        current: bool,
        functions: Vec<Agg>,
    },
    /// `fieldstats()`: per field, the events with it and its distinct values (`fieldstats.rs`).
    FieldStats {
        limit: usize,
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

/// One session: first and last event time, and its function states.
pub type SessionState = (i64, i64, Vec<State>);

/// The event `selectFromMax/Min` keeps: its value, timestamp and `include` values.
pub type Extreme = (f64, i64, Vec<Option<String>>);

/// A partial aggregate state. Serializable, so partial results can travel between nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum State {
    Count(u64),
    Distinct(HashSet<String>),
    /// `count(distinct=true)` past [`EXACT_DISTINCT`] values.
    Hll(Hll),
    Num(NumState),
    Values(Vec<f64>),
    /// `percentile()` past [`EXACT_PERCENTILE`] values.
    Sketch(Sketch),
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
    /// Per field: (timestamp, value) of the newest event with it.
    Last(Vec<Option<(i64, String)>>),
    Extreme(Option<Extreme>),
    /// Sessions ordered by start, each more than `maxpause` from the next.
    Sessions(Vec<SessionState>),
    Rows {
        rows: Vec<Row>,
        /// Once the list was cut to its limit: the key an event must beat to enter.
        threshold: Option<RowKey>,
    },
    /// Per slice start (epoch ms): the inner aggregate's state.
    Slices(BTreeMap<i64, State>),
    /// `fieldstats()`: per `#type` and field, its statistics.
    Fields {
        map: HashMap<String, fieldstats::FieldStat>,
        limited: bool,
    },
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
    /// The aggregates a container runs per group/bucket/session (none for leaves).
    pub fn children(&self) -> &[Agg] {
        match self {
            Agg::Stats(fs)
            | Agg::Window { functions: fs, .. }
            | Agg::Sliding { functions: fs, .. }
            | Agg::GroupBy { functions: fs, .. }
            | Agg::Series { functions: fs, .. }
            | Agg::Session { functions: fs, .. }
            | Agg::WorldMap { functions: fs, .. } => fs,
            Agg::Renamed { inner, .. } | Agg::Sliced { inner, .. } => std::slice::from_ref(inner),
            _ => &[],
        }
    }

    /// The most rows `finish` can return (saturating), so the compiler can bound Cartesian
    /// products of several multi-row functions.
    pub fn max_rows(&self) -> u64 {
        let product = |fs: &[Agg]| fs.iter().fold(1u64, |p, f| p.saturating_mul(f.max_rows()));
        match self {
            Agg::Rows { limit, .. } | Agg::FieldStats { limit } => *limit as u64,
            Agg::Collect {
                multival: false,
                limit,
                ..
            } => *limit as u64,
            Agg::Top { limit, .. } => *limit as u64 + 1,
            Agg::GroupBy {
                limit, functions, ..
            }
            | Agg::WorldMap {
                limit, functions, ..
            } => (*limit as u64).saturating_mul(product(functions)),
            Agg::Stats(fs) | Agg::Window { functions: fs, .. } => product(fs),
            Agg::Session { functions, .. } => (MAX_KEYS as u64).saturating_mul(product(functions)),
            Agg::Series {
                limit, functions, ..
            } => (MAX_BUCKETS as u64 * *limit as u64).saturating_mul(product(functions)),
            Agg::Renamed { inner, .. } | Agg::Sliced { inner, .. } => inner.max_rows(),
            _ => 1,
        }
    }

    /// True for aggregates that keep whole rows (they need materialised events).
    pub fn needs_rows(&self) -> bool {
        matches!(
            self,
            Agg::Rows { .. } | Agg::FieldStats { .. } | Agg::Sliding { .. }
        ) || self.children().iter().any(Agg::needs_rows)
    }

    /// True when the aggregate reads event timestamps.
    pub fn needs_time(&self) -> bool {
        matches!(
            self,
            Agg::Series { .. }
                | Agg::Sliced { .. }
                | Agg::SelectLast { .. }
                | Agg::SelectExtreme { .. }
                | Agg::Session { .. }
        ) || self.children().iter().any(Agg::needs_time)
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
            Agg::GroupBy { fields, .. } | Agg::Series { fields, .. } => {
                out.extend(fields.iter().cloned())
            }
            Agg::Top { fields, weight, .. } => {
                out.extend(fields.iter().cloned());
                if let TopWeight::Sum(f) | TopWeight::Max(f) = weight {
                    out.push(f.clone());
                }
            }
            Agg::Collect { fields, .. } | Agg::SelectLast { fields } => {
                out.extend(fields.iter().cloned())
            }
            Agg::SelectExtreme { field, include, .. } => {
                out.push(field.clone());
                out.extend(include.iter().cloned());
            }
            Agg::WorldMap { lat, lon, .. } => {
                out.push(lat.clone());
                out.push(lon.clone());
            }
            Agg::Rows { .. } | Agg::FieldStats { .. } | Agg::Sliding { .. } => out.push("*".into()),
            Agg::Sliced { .. } => out.push("@timestamp".into()),
            Agg::Stats(_) | Agg::Window { .. } | Agg::Session { .. } | Agg::Renamed { .. } => {}
        }
        for c in self.children() {
            c.fields(out);
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
            Agg::Stats(fs) | Agg::Window { functions: fs, .. } => {
                State::Multi(fs.iter().map(Agg::new_state).collect())
            }
            Agg::GroupBy { .. } | Agg::WorldMap { .. } => State::Groups {
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
            Agg::SelectLast { fields } => State::Last(vec![None; fields.len()]),
            Agg::SelectExtreme { .. } => State::Extreme(None),
            Agg::Session { .. } => State::Sessions(Vec::new()),
            Agg::Renamed { inner, .. } => inner.new_state(),
            Agg::Rows { .. } | Agg::Sliding { .. } => State::Rows {
                rows: Vec::new(),
                threshold: None,
            },
            Agg::Sliced { .. } => State::Slices(BTreeMap::new()),
            Agg::FieldStats { .. } => fieldstats::new_state(),
        }
    }

    /// Fails when a state outgrew its memory budget.
    pub fn check(&self, st: &State) -> Result<(), String> {
        match (self, st) {
            (Agg::Sliced { inner, .. }, State::Slices(m)) => {
                m.values().try_for_each(|s| inner.check(s))
            }
            (Agg::Renamed { inner, .. }, s) => inner.check(s),
            (Agg::Top { .. }, State::Top { map, .. }) if map.len() > MAX_KEYS => Err(format!(
                "top() saw more than {MAX_KEYS} distinct values; narrow the query or use groupBy() with a limit"
            )),
            (Agg::Session { functions, .. }, State::Sessions(v)) => {
                if v.len() > MAX_KEYS {
                    return Err(format!(
                        "session() found more than {MAX_KEYS} sessions; narrow the query"
                    ));
                }
                v.iter()
                    .try_for_each(|(_, _, ss)| check_all(functions, ss))
            }
            (Agg::Stats(fs) | Agg::Window { functions: fs, .. }, State::Multi(ss)) => check_all(fs, ss),
            (
                Agg::GroupBy { functions, .. } | Agg::WorldMap { functions, .. },
                State::Groups { map, .. },
            ) => map
                .values()
                .try_for_each(|(_, ss)| check_all(functions, ss)),
            (Agg::Series { functions, .. }, State::Series { map, .. }) => {
                map.values().try_for_each(|(_, buckets)| {
                    buckets.values().try_for_each(|ss| check_all(functions, ss))
                })
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
            }
            (Agg::Renamed { inner, .. }, s) => inner.warnings(s, out),
            (
                Agg::GroupBy {
                    limit, functions, ..
                }
                | Agg::WorldMap {
                    limit, functions, ..
                },
                State::Groups { map, limited },
            ) => {
                if *limited {
                    out.push(format!(
                        "groupBy()/worldMap() reached its limit of {limit} groups; events of further groups were left out (raise limit=)"
                    ));
                }
                for (_, ss) in map.values() {
                    warn_all(functions, ss, out);
                }
            }
            (
                Agg::Series {
                    limit,
                    limit_explicit,
                    functions,
                    ..
                },
                State::Series { map, limited },
            ) => {
                if *limited || (!limit_explicit && map.len() > *limit) {
                    out.push(format!(
                        "timeChart()/bucket() kept the {limit} largest series of {}{}; the others were left out (set limit=)",
                        map.len(),
                        if *limited { " or more" } else { "" }
                    ));
                }
                for (_, buckets) in map.values() {
                    for ss in buckets.values() {
                        warn_all(functions, ss, out);
                    }
                }
            }
            (Agg::Stats(fs) | Agg::Window { functions: fs, .. }, State::Multi(ss)) => warn_all(fs, ss, out),
            (Agg::Session { functions, .. }, State::Sessions(v)) => {
                for (_, _, ss) in v {
                    warn_all(functions, ss, out);
                }
            }
            (Agg::Collect { limit, .. }, State::Collect { limited: true, .. }) => out.push(format!(
                "collect() kept {limit} values per field; further values were left out"
            )),
            (Agg::FieldStats { .. }, State::Fields { limited: true, .. }) => out.push(format!(
                "fieldstats() counted {} fields; further fields were left out",
                fieldstats::MAX_FIELDS
            )),
            (Agg::Count { .. }, State::Hll(_)) => out.push(format!(
                "count(distinct=true) saw more than {EXACT_DISTINCT} distinct values; the count is a HyperLogLog estimate (standard error {:.2}%)",
                HLL_STD_ERROR * 100.0
            )),
            _ => {}
        }
        out.sort();
        out.dedup();
    }
}

fn check_all(functions: &[Agg], states: &[State]) -> Result<(), String> {
    functions
        .iter()
        .zip(states)
        .try_for_each(|(f, s)| f.check(s))
}

fn warn_all(functions: &[Agg], states: &[State], out: &mut Vec<String>) {
    for (f, s) in functions.iter().zip(states) {
        f.warnings(s, out);
    }
}
