//! `fieldstats()`: which fields the events have. One row per field (and per `#type`, the
//! parser the events were ingested with) with `field`, `_count` (events with the field) and
//! `distinct` (its distinct values: exact up to [`EXACT_VALUES`] values per field, then a
//! HyperLogLog estimate), the `limit` most frequent first
//! (https://library.humio.com/data-analysis-1.70/functions-fieldstats.html). The state is a map
//! from field to counts and merges like any other, so it runs where the data is.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

use super::sketch::Hll;
use super::State;
use crate::query::row::Row;

/// Distinct values kept exactly per field before switching to an estimate.
pub const EXACT_VALUES: usize = 1_000;
/// Field names one state counts; further fields are left out (with a warning).
pub const MAX_FIELDS: usize = 10_000;

/// One field's statistics: its `#type` (empty when the event has none), name, events with it
/// and its distinct values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FieldStat {
    pub kind: String,
    pub field: String,
    pub count: u64,
    pub values: Values,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Values {
    Exact(HashSet<String>),
    Estimate(Hll),
}

impl Values {
    fn insert(&mut self, v: &str) {
        match self {
            Values::Exact(set) => {
                if !set.contains(v) {
                    set.insert(v.to_string());
                }
                if set.len() > EXACT_VALUES {
                    *self = Values::Estimate(Hll::from_set(std::mem::take(set)));
                }
            }
            Values::Estimate(h) => h.insert(v),
        }
    }

    fn merge(&mut self, other: Values) {
        match (&mut *self, other) {
            (Values::Exact(a), Values::Exact(b)) => {
                a.extend(b);
                if a.len() > EXACT_VALUES {
                    *self = Values::Estimate(Hll::from_set(std::mem::take(a)));
                }
            }
            (Values::Estimate(a), Values::Estimate(b)) => a.merge(&b),
            (Values::Estimate(a), Values::Exact(b)) => b.iter().for_each(|v| a.insert(v)),
            (Values::Exact(a), Values::Estimate(mut b)) => {
                a.iter().for_each(|v| b.insert(v));
                *self = Values::Estimate(b);
            }
        }
    }

    fn count(&self) -> u64 {
        match self {
            Values::Exact(s) => s.len() as u64,
            Values::Estimate(h) => h.estimate(),
        }
    }
}

fn key(kind: &str, field: &str) -> String {
    format!("{kind}\u{1}{field}")
}

/// Counts every field of one event.
pub(super) fn add(map: &mut HashMap<String, FieldStat>, limited: &mut bool, row: &Row) {
    let kind = row.get_str("#type").unwrap_or_default();
    for (f, v) in &row.fields {
        let k = key(kind, f);
        if !map.contains_key(&k) {
            if map.len() >= MAX_FIELDS {
                *limited = true;
                continue;
            }
            map.insert(
                k.clone(),
                FieldStat {
                    kind: kind.to_string(),
                    field: f.clone(),
                    count: 0,
                    values: Values::Exact(HashSet::default()),
                },
            );
        }
        let Some(e) = map.get_mut(&k) else {
            continue;
        };
        e.count += 1;
        e.values.insert(v);
    }
}

pub(super) fn merge(
    map: &mut HashMap<String, FieldStat>,
    limited: &mut bool,
    other: HashMap<String, FieldStat>,
) {
    for (k, s) in other {
        if let Some(e) = map.get_mut(&k) {
            e.count += s.count;
            e.values.merge(s.values);
        } else if map.len() >= MAX_FIELDS {
            *limited = true;
        } else {
            map.insert(k, s);
        }
    }
}

/// The `limit` most frequent fields, most frequent first (ties by `#type`, then name).
pub(super) fn finish(map: HashMap<String, FieldStat>, limit: usize) -> Vec<Row> {
    let mut v: Vec<FieldStat> = map.into_values().collect();
    v.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.kind.cmp(&b.kind))
            .then_with(|| a.field.cmp(&b.field))
    });
    v.truncate(limit);
    v.into_iter()
        .map(|s| {
            let mut r = Row::default();
            if !s.kind.is_empty() {
                r.set("#type", s.kind);
            }
            r.set("field", s.field);
            r.set("_count", s.count.to_string());
            r.set("distinct", s.values.count().to_string());
            r
        })
        .collect()
}

pub(super) fn new_state() -> State {
    State::Fields {
        map: HashMap::default(),
        limited: false,
    }
}
