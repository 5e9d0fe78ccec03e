//! Streaming a plain event list (the streaming `/query` endpoint): the query's time range is
//! searched in slices — newest first for `tail()` and the default list, oldest first for
//! `head()` — each slice a complete search whose rows are final and leave at once, so the
//! first events arrive long before the whole range is searched and memory holds one slice.
//!
//! [`Slicer`] picks each slice from the segments' event counts (spread evenly over each
//! segment's time span) and the share of estimated events that matched so far, aiming at
//! [`SLICE_ROWS`] rows. A slice is searched with a row cap; when the cap cuts it, its rows
//! except those of the last millisecond are still exactly the slice's newest (oldest), so they
//! are kept and the next slice starts at that millisecond. A millisecond holding more than
//! the cap is searched alone with a larger cap, up to [`MAX_MS_ROWS`].

use crate::query::agg::{Agg, RowOrder};
use crate::query::{Plan, Row};

/// Rows one slice may hold (the search's list limit for the slice).
pub const SLICE_ROW_CAP: usize = 16_384;
/// Rows a slice aims at (half the cap: an estimate a little low is not cut).
const SLICE_ROWS: f64 = 8_000.0;
/// The first slice is small, so the first events leave soon.
const FIRST_SLICE_ROWS: f64 = 1_000.0;
/// Events of one millisecond the stream can hold at once.
pub const MAX_MS_ROWS: usize = 1 << 20;

/// How a plan's result can be streamed: `Some(newest_first)` for a plain time-ordered event
/// list (`tail`, `head`, the default list) with nothing after it; `None` when the result must
/// be computed whole first (aggregates, sorts, anything after the list).
pub fn sliceable(plan: &Plan) -> Option<bool> {
    if !plan.suffix.is_empty() {
        return None;
    }
    match &plan.agg {
        Agg::Rows {
            order: RowOrder::Newest,
            select: None,
            ..
        } => Some(true),
        Agg::Rows {
            order: RowOrder::Oldest,
            select: None,
            ..
        } => Some(false),
        _ => None,
    }
}

/// One slice to search: `[lo, hi)` with a list limit of `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub lo: i64,
    pub hi: i64,
    pub cap: usize,
}

/// Walks a time range slice by slice (see the module docs).
#[derive(Debug)]
pub struct Slicer {
    newest_first: bool,
    /// Still to search: `[lo, hi)`.
    lo: i64,
    hi: i64,
    /// Segments as `(first ms, last ms + 1, events)`.
    density: Vec<(i64, i64, f64)>,
    /// Rows seen and events estimated over the slices so far (the filter's selectivity).
    rows_seen: f64,
    est_seen: f64,
    slices: usize,
    /// The next slice is this one millisecond with this cap (it overflowed a smaller cap).
    single_ms: Option<(i64, usize)>,
}

/// The stream cannot continue: one millisecond holds more events than it can hold at once.
#[derive(Debug, thiserror::Error)]
#[error("more than {MAX_MS_ROWS} matching events share the millisecond {0}; the stream cannot list them (narrow the query)")]
pub struct TooDense(pub i64);

impl Slicer {
    /// `segments`: `(min_ts, max_ts, event_count)` of the segments in range.
    pub fn new(
        newest_first: bool,
        start: i64,
        end: i64,
        segments: impl IntoIterator<Item = (i64, i64, u64)>,
    ) -> Slicer {
        Slicer {
            newest_first,
            lo: start,
            hi: end,
            density: segments
                .into_iter()
                .map(|(a, b, n)| (a, b.saturating_add(1), n as f64))
                .filter(|(a, b, _)| *a < end && *b > start)
                .collect(),
            rows_seen: 0.0,
            est_seen: 0.0,
            slices: 0,
            single_ms: None,
        }
    }

    /// Estimated events in `[lo, hi)`.
    fn estimate(&self, lo: i64, hi: i64) -> f64 {
        self.density
            .iter()
            .map(|&(a, b, n)| {
                let overlap = (hi.min(b) - lo.max(a)).max(0) as f64;
                n * overlap / (b - a).max(1) as f64
            })
            .sum()
    }

    /// The next slice, or `None` when the whole range was searched.
    pub fn next_slice(&mut self) -> Option<Slice> {
        if self.lo >= self.hi {
            return None;
        }
        if let Some((ms, cap)) = self.single_ms {
            return Some(Slice {
                lo: ms,
                hi: ms + 1,
                cap,
            });
        }
        let rows = if self.slices == 0 {
            FIRST_SLICE_ROWS
        } else {
            SLICE_ROWS
        };
        // Events that matched per event estimated; more than one means events the estimate
        // does not know (work in progress): count them as all matching.
        let selectivity = if self.est_seen >= 1.0 {
            (self.rows_seen / self.est_seen).clamp(1e-4, 1.0)
        } else {
            1.0
        };
        let want = rows / selectivity;
        let (lo, hi) = (self.lo, self.hi);
        if self.estimate(lo, hi) <= want {
            return Some(Slice {
                lo,
                hi,
                cap: SLICE_ROW_CAP,
            });
        }
        // Binary search for the edge where the slice's estimate reaches `want`.
        let (mut a, mut b) = (lo, hi);
        while b - a > 1 {
            let mid = a + (b - a) / 2;
            let est = if self.newest_first {
                self.estimate(mid, hi)
            } else {
                self.estimate(lo, mid)
            };
            // Newest first: a larger edge is a smaller slice; oldest first: the reverse.
            if (est >= want) == self.newest_first {
                a = mid;
            } else {
                b = mid;
            }
        }
        Some(if self.newest_first {
            Slice {
                lo: a,
                hi,
                cap: SLICE_ROW_CAP,
            }
        } else {
            Slice {
                lo,
                hi: b,
                cap: SLICE_ROW_CAP,
            }
        })
    }

    /// Takes a searched slice's rows (newest first, or oldest first for `head`) and whether
    /// its cap cut them; drops those that are not yet final and moves on.
    pub fn done(&mut self, s: Slice, rows: &mut Vec<Row>, cut: bool) -> Result<(), TooDense> {
        self.slices += 1;
        let edge = match (cut, rows.last()) {
            (true, Some(last)) => last.key.0,
            _ => {
                self.learn(rows.len(), s.lo, s.hi);
                self.single_ms = None;
                if self.newest_first {
                    self.hi = s.lo;
                } else {
                    self.lo = s.hi;
                }
                return Ok(());
            }
        };
        if rows.first().is_some_and(|r| r.key.0 == edge) {
            // The cap holds only one millisecond: search it alone, with room for all of it.
            if s.cap >= MAX_MS_ROWS {
                return Err(TooDense(edge));
            }
            rows.clear();
            self.single_ms = Some((edge, (s.cap * 8).min(MAX_MS_ROWS)));
            if self.newest_first {
                self.hi = edge + 1;
            } else {
                self.lo = edge;
            }
            return Ok(());
        }
        rows.retain(|r| r.key.0 != edge);
        self.single_ms = None;
        if self.newest_first {
            self.learn(rows.len(), edge + 1, s.hi);
            self.hi = edge + 1;
        } else {
            self.learn(rows.len(), s.lo, edge);
            self.lo = edge;
        }
        Ok(())
    }

    fn learn(&mut self, rows: usize, lo: i64, hi: i64) {
        self.rows_seen += rows as f64;
        self.est_seen += self.estimate(lo, hi);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: i64) -> Row {
        Row {
            key: (ts, 0, Default::default()),
            fields: Vec::new(),
        }
    }

    /// Runs a slicer over `events` (timestamps) as the searches would, with a given cap.
    fn stream(newest: bool, events: &[i64], segments: Vec<(i64, i64, u64)>) -> Vec<i64> {
        let mut sorted = events.to_vec();
        sorted.sort_unstable();
        if newest {
            sorted.reverse();
        }
        let mut sl = Slicer::new(newest, 0, 1_000_000, segments);
        let mut out = Vec::new();
        let mut n = 0;
        while let Some(s) = sl.next_slice() {
            n += 1;
            assert!(n < 10_000, "the slicer must end");
            let all: Vec<Row> = sorted
                .iter()
                .filter(|t| **t >= s.lo && **t < s.hi)
                .map(|t| row(*t))
                .collect();
            let cut = all.len() > s.cap;
            let mut rows: Vec<Row> = all.into_iter().take(s.cap).collect();
            sl.done(s, &mut rows, cut).unwrap();
            out.extend(rows.iter().map(|r| r.key.0));
        }
        out
    }

    #[test]
    fn every_event_once_in_order_whatever_the_estimate() {
        // Dense seconds, sparse stretches, one millisecond above the cap.
        let mut ev: Vec<i64> = (0..40_000).map(|i| 500_000 + i / 3).collect();
        ev.extend((0..2_000).map(|i| i * 400));
        ev.extend(std::iter::repeat_n(900_000, SLICE_ROW_CAP + 5));
        let mut want = ev.clone();
        want.sort_unstable();
        let good = vec![(500_000, 513_333, 40_000), (0, 799_600, 2_000)];
        for (segs, label) in [(good, "estimated"), (Vec::new(), "unknown (WIP)")] {
            let up = stream(false, &ev, segs.clone());
            assert_eq!(up, want, "oldest first, density {label}");
            let mut down = want.clone();
            down.reverse();
            assert_eq!(
                stream(true, &ev, segs),
                down,
                "newest first, density {label}"
            );
        }
    }

    #[test]
    fn the_first_slice_is_small() {
        let mut sl = Slicer::new(true, 0, 1_000_000, vec![(0, 999_999, 1_000_000)]);
        let s = sl.next_slice().unwrap();
        assert_eq!(s.hi, 1_000_000);
        assert!((s.hi - s.lo) < 2_000, "{s:?}");
    }
}
