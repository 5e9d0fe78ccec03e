//! Merging partial states: what lets one aggregate run per block, per thread and per node and
//! still give the answer one state would (group limits apply to the merged result too).

use rustc_hash::FxHashMap as HashMap;

use super::order::compact;
use super::{Agg, Group, State};

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
