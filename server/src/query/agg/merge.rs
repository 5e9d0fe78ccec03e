//! Merging partial states: what lets one aggregate run per block, per thread and per node and
//! still give the answer one state would (group limits apply to the merged result too). Exact
//! states that outgrew their cap on one side become sketches on both (see `sketch.rs`).

use rustc_hash::FxHashMap as HashMap;

use super::add::newer;
use super::order::{beats, compact};
use super::sketch::{Hll, Sketch};
use super::{session, Agg, Group, State, TopWeight, EXACT_DISTINCT, EXACT_PERCENTILE};

impl Agg {
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
            (Agg::Renamed { inner, .. }, a, b) => inner.merge(a, b),
            (_, State::Count(x), State::Count(y)) => *x += y,
            (_, a @ (State::Distinct(_) | State::Hll(_)), b) => merge_distinct(a, b),
            (_, State::Num(x), State::Num(y)) => {
                x.n += y.n;
                x.sum += y.sum;
                x.sumsq += y.sumsq;
                x.min = x.min.min(y.min);
                x.max = x.max.max(y.max);
            }
            (Agg::Percentile { accuracy, .. }, a @ (State::Values(_) | State::Sketch(_)), b) => {
                merge_values(a, b, *accuracy)
            }
            (
                Agg::Stats(fs) | Agg::Window { functions: fs, .. },
                State::Multi(xs),
                State::Multi(ys),
            ) => {
                for ((f, x), y) in fs.iter().zip(xs.iter_mut()).zip(ys) {
                    f.merge(x, y);
                }
            }
            (
                Agg::GroupBy {
                    functions, limit, ..
                }
                | Agg::WorldMap {
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
            (
                Agg::Top { weight, .. },
                State::Top { map, total },
                State::Top { map: m2, total: t2 },
            ) => {
                *total += t2;
                let is_max = matches!(weight, TopWeight::Max(_));
                for (k, (vals, w)) in m2 {
                    match map.get_mut(&k) {
                        Some(e) if is_max => e.1 = e.1.max(w),
                        Some(e) => e.1 += w,
                        None => {
                            map.insert(k, (vals, w));
                        }
                    }
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
                Agg::FieldStats { .. },
                State::Fields { map, limited },
                State::Fields {
                    map: other,
                    limited: l2,
                },
            ) => {
                *limited |= l2;
                super::fieldstats::merge(map, limited, other);
            }
            (Agg::Sliding { .. }, State::Rows { rows, .. }, State::Rows { rows: r2, .. }) => {
                rows.extend(r2)
            }
            (_, State::Last(x), State::Last(y)) => {
                for (a, b) in x.iter_mut().zip(y) {
                    if let Some((t, v)) = b {
                        if newer(t, &v, a) {
                            *a = Some((t, v));
                        }
                    }
                }
            }
            (Agg::SelectExtreme { max, .. }, State::Extreme(x), State::Extreme(Some(y)))
                if x.as_ref().is_none_or(|b| session::better(&y, b, *max)) =>
            {
                *x = Some(y);
            }
            (
                Agg::Session {
                    maxpause,
                    functions,
                },
                State::Sessions(x),
                State::Sessions(y),
            ) => session::merge(x, y, *maxpause, functions),
            (
                Agg::Rows { order, limit, .. },
                State::Rows { rows, threshold },
                State::Rows {
                    rows: r2,
                    threshold: t2,
                },
            ) => {
                // The other list was cut too: the merged one is, and must keep the stricter
                // bar (a list held at exactly its limit would otherwise lose its "cut" mark).
                if let Some(t2) = t2 {
                    if threshold.is_none_or(|t| beats(order, &t2, &t)) {
                        *threshold = Some(t2);
                    }
                }
                rows.extend(r2);
                if rows.len() > *limit {
                    compact(order, *limit, rows, threshold);
                }
            }
            _ => {}
        }
    }
}

fn merge_distinct(a: &mut State, b: State) {
    match (&mut *a, b) {
        (State::Distinct(x), State::Distinct(y)) => {
            if x.len() < y.len() {
                let small = std::mem::replace(x, y);
                x.extend(small);
            } else {
                x.extend(y)
            }
            if x.len() > EXACT_DISTINCT {
                let set = std::mem::take(x);
                *a = State::Hll(Hll::from_set(set));
            }
        }
        (State::Hll(x), State::Hll(y)) => x.merge(&y),
        (State::Hll(x), State::Distinct(y)) => {
            for v in &y {
                x.insert(v);
            }
        }
        (State::Distinct(x), State::Hll(mut y)) => {
            for v in x.iter() {
                y.insert(v);
            }
            *a = State::Hll(y);
        }
        _ => {}
    }
}

fn merge_values(a: &mut State, b: State, accuracy: f64) {
    match (&mut *a, b) {
        (State::Values(x), State::Values(y)) => {
            x.extend(y);
            if x.len() > EXACT_PERCENTILE {
                let s = Sketch::from_values(x, accuracy);
                *a = State::Sketch(s);
            }
        }
        (State::Sketch(x), State::Sketch(y)) => x.merge(y),
        (State::Sketch(x), State::Values(y)) => {
            for v in y {
                x.add(v, accuracy);
            }
        }
        (State::Values(x), State::Sketch(mut y)) => {
            for v in x.iter() {
                y.add(*v, accuracy);
            }
            *a = State::Sketch(y);
        }
        _ => {}
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
