//! Query-then-fetch for plain event lists (`tail()`, `head()`, the default event list): a node
//! scanning its share of another node's query keeps only the keys of its best candidate events
//! and where each one lives (segment, block, row), instead of materialising them. The querying
//! node picks the overall winners among every node's keys and fetches just those events
//! (`/internal/v1/rows`). Without it each of N nodes decodes and ships a full list of its own
//! and all but one list's worth is thrown away: on 3 nodes a `tail(200)` cost 1.45× the CPU of
//! the same query on one node.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::query::agg::{Agg, RowOrder};
use crate::query::row::RowKey;
use crate::query::Plan;

/// A datasource's tags, as the scan holds them.
pub type Tags = Arc<BTreeMap<String, String>>;

/// For a plan whose result is a plain event list in time order — no streaming operators, no
/// extraction in the leading filter, a `Rows` aggregate ordered by time — whether it lists the
/// newest events first, and its limit. Only such lists are ranked by their keys alone.
pub fn keyed_list(plan: &Plan) -> Option<(bool, usize)> {
    if !plan.prefix.is_empty() || plan.leading.extracts() {
        return None;
    }
    match &plan.agg {
        Agg::Rows {
            order: RowOrder::Newest,
            limit,
            ..
        } => Some((true, *limit)),
        Agg::Rows {
            order: RowOrder::Oldest,
            limit,
            ..
        } => Some((false, *limit)),
        _ => None,
    }
}

/// One candidate event, not yet materialised.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub key: RowKey,
    pub segment: String,
    pub tags: Tags,
    pub block: u32,
    pub row: u32,
}

/// The best `limit` candidates seen so far (kept loosely: up to twice the limit between
/// compactions), with the key a new one must beat once the list is full.
#[derive(Clone, Debug)]
pub struct Candidates {
    newest: bool,
    limit: usize,
    list: Vec<Candidate>,
    threshold: Option<RowKey>,
}

impl Candidates {
    pub fn new(newest: bool, limit: usize) -> Self {
        Candidates {
            newest,
            limit,
            list: Vec::new(),
            threshold: None,
        }
    }

    /// An empty list with the same order and limit.
    pub fn empty_like(&self) -> Self {
        Candidates::new(self.newest, self.limit)
    }

    fn beats(&self, a: &RowKey, b: &RowKey) -> bool {
        if self.newest {
            a > b
        } else {
            a < b
        }
    }

    /// Could an event with this key still make the list?
    pub fn would_accept(&self, key: &RowKey) -> bool {
        self.threshold.as_ref().is_none_or(|t| self.beats(key, t))
    }

    pub fn push(&mut self, c: Candidate) {
        self.list.push(c);
        if self.list.len() >= (2 * self.limit).max(256) {
            self.compact();
        }
    }

    pub fn merge(&mut self, other: Candidates) {
        self.list.extend(other.list);
        self.compact();
    }

    fn compact(&mut self) {
        if self.newest {
            self.list.sort_unstable_by_key(|c| std::cmp::Reverse(c.key));
        } else {
            self.list.sort_unstable_by_key(|c| c.key);
        }
        // The threshold is set only when candidates are dropped, so it also says the list
        // was cut.
        if self.list.len() > self.limit {
            self.list.truncate(self.limit);
            self.threshold = self.list.last().map(|c| c.key);
        }
    }

    /// Candidates held (at most about twice the limit).
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The timestamp the `limit`-th best candidate held has (see [`ListBound`]), once `limit`
    /// candidates are held.
    pub fn kth_time(&self) -> Option<i64> {
        kth_time(self.newest, self.limit, self.list.iter().map(|c| c.key.0))
    }

    /// The best candidates, best first, and whether any were dropped past the limit.
    pub fn into_best(mut self) -> (Vec<Candidate>, bool) {
        self.compact();
        let cut = self.threshold.is_some();
        (self.list, cut)
    }
}

/// The timestamp of the `limit`-th best of `times` (largest for newest-first lists), or `None`
/// unless more than `limit` are given: then the list is sure to be cut (its "more events"
/// mark is set however many blocks are skipped after).
pub fn kth_time(newest: bool, limit: usize, times: impl Iterator<Item = i64>) -> Option<i64> {
    let mut ts: Vec<i64> = times.collect();
    if limit == 0 || ts.len() <= limit {
        return None;
    }
    let k = limit - 1;
    if newest {
        ts.select_nth_unstable_by(k, |a, b| b.cmp(a));
    } else {
        ts.select_nth_unstable(k);
    }
    Some(ts[k])
}

/// Early termination for a plain event list: the time every worker's (and every source's)
/// events must reach to still make the list. Once some worker holds more than `limit` events at or
/// beyond time `T`, no event strictly behind `T` can be among the list's best `limit` (keys
/// order by time first), so a block whose whole time range lies behind `T` is skipped unread.
/// Blocks are scanned best first (newest first for `tail` and the default list, oldest first
/// for `head`), so once the bound is set the rest of the scan is mostly skipped.
#[derive(Debug)]
pub struct ListBound {
    pub newest: bool,
    pub limit: usize,
    ts: std::sync::atomic::AtomicI64,
}

impl ListBound {
    /// The bound of a plan [`keyed_list`] accepts, none for any other plan.
    pub fn for_plan(plan: &Plan) -> Option<Self> {
        keyed_list(plan).map(|(newest, limit)| ListBound {
            newest,
            limit,
            ts: std::sync::atomic::AtomicI64::new(if newest { i64::MIN } else { i64::MAX }),
        })
    }

    /// True when no event of a block spanning `[min_ts, max_ts]` can make the list.
    pub fn rules_out(&self, min_ts: i64, max_ts: i64) -> bool {
        let t = self.ts.load(std::sync::atomic::Ordering::Relaxed);
        if self.newest {
            max_ts < t
        } else {
            min_ts > t
        }
    }

    /// Some source holds `limit` events at or beyond `t`.
    pub fn raise(&self, t: i64) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.newest {
            self.ts.fetch_max(t, Relaxed);
        } else {
            self.ts.fetch_min(t, Relaxed);
        }
    }

    /// Raises the bound from a worker's list state (rows it holds, or the threshold its list
    /// was cut at: every row it dropped was behind it, and `limit` rows are at or beyond it).
    pub fn observe(&self, st: &crate::query::State) {
        if let crate::query::State::Rows { rows, threshold } = st {
            if let Some(t) = threshold {
                self.raise(t.0);
            }
            if let Some(t) = kth_time(self.newest, self.limit, rows.iter().map(|r| r.key.0)) {
                self.raise(t);
            }
        }
    }

    /// Raises the bound from a worker's candidates (query-then-fetch).
    pub fn observe_keys(&self, c: &Candidates) {
        if let Some(t) = c.threshold {
            self.raise(t.0);
        }
        if let Some(t) = c.kth_time() {
            self.raise(t);
        }
    }
}

/// Candidates on the wire: each segment (with its tags) once, then the keys with the index of
/// their segment, their block and row.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct KeyedRows {
    pub sources: Vec<(String, Tags)>,
    pub keys: Vec<(RowKey, u32, u32, u32)>,
    /// The sender dropped candidates past the limit (its list was cut).
    pub cut: bool,
}

impl KeyedRows {
    pub fn from_candidates((cands, cut): (Vec<Candidate>, bool)) -> Self {
        let mut out = KeyedRows {
            cut,
            ..Default::default()
        };
        let mut index: std::collections::HashMap<String, u32> = Default::default();
        for c in cands {
            let next = out.sources.len() as u32;
            let s = *index.entry(c.segment.clone()).or_insert_with(|| {
                out.sources.push((c.segment, c.tags));
                next
            });
            out.keys.push((c.key, s, c.block, c.row));
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// A request for materialised events: `rows` index into `sources` (segment id and tags).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchRows {
    pub repo: String,
    pub sources: Vec<(String, Tags)>,
    pub rows: Vec<(u32, u32, u32)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(ts: i64) -> Candidate {
        Candidate {
            key: (ts, 0, Default::default()),
            segment: format!("s{}", ts % 3),
            tags: Default::default(),
            block: 0,
            row: ts as u32,
        }
    }

    #[test]
    fn keeps_the_best_and_raises_the_bar() {
        for newest in [true, false] {
            let mut c = Candidates::new(newest, 10);
            for ts in (0..1000).rev() {
                if c.would_accept(&(ts, 0, Default::default())) {
                    c.push(cand(ts));
                }
            }
            let mut other = c.empty_like();
            other.push(cand(5000));
            c.merge(other);
            let (best, cut) = c.into_best();
            assert!(cut, "1,001 candidates for 10 places");
            let best: Vec<i64> = best.iter().map(|c| c.key.0).collect();
            if newest {
                assert_eq!(
                    best,
                    vec![5000, 999, 998, 997, 996, 995, 994, 993, 992, 991]
                );
            } else {
                assert_eq!(best, (0..10).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn a_list_exactly_full_is_not_cut() {
        let mut c = Candidates::new(true, 5);
        for ts in 0..5 {
            c.push(cand(ts));
        }
        c.merge(Candidates::new(true, 5));
        assert!(!c.into_best().1);
    }

    #[test]
    fn wire_form_lists_each_segment_once() {
        let k = KeyedRows::from_candidates(((0..9).map(cand).collect(), false));
        assert_eq!(k.sources.len(), 3);
        assert_eq!(k.keys.len(), 9);
        assert!(k
            .keys
            .iter()
            .all(|(key, s, _, _)| k.sources[*s as usize].0 == format!("s{}", key.0 % 3)));
    }
}
