//! Block-at-a-time kernels for the most common aggregates over columns: `groupBy(f)` with
//! count/sum/avg/min/max/stdDev, and `timeChart()`/`count()` without a series. They aggregate
//! a block into a small local table keyed by borrowed column values (no per-row allocation,
//! hashing of field names or dynamic dispatch) and merge it into the worker's state once per
//! block. Semantics are exactly those of `Agg::add` (the golden suite runs both paths).

use rustc_hash::FxHashMap;
use strata_segment::StrColumn;

use super::columns::BlockCtx;
use crate::query::agg::NumState;
use crate::query::{number, Agg, State};

enum Fun<'c> {
    Count,
    CountField(Option<&'c StrColumn>),
    Stat(Option<&'c StrColumn>),
}

/// Aggregates the rows of `mask` into `st` if a kernel applies; false to use the generic path.
pub fn add_block(agg: &Agg, st: &mut State, ctx: &BlockCtx<'_>, mask: &[bool]) -> bool {
    match (agg, st) {
        (
            Agg::GroupBy {
                fields,
                functions,
                limit,
            },
            State::Groups { map, limited },
        ) if fields.len() == 1 && !fields[0].starts_with(['@', '#']) => {
            let Some(funs) = kernels(functions, ctx) else {
                return false;
            };
            let Some(key_col) = ctx.column(&fields[0]) else {
                // No event of the block has the field: nothing to count.
                return true;
            };
            let mut slots: FxHashMap<&str, usize> = FxHashMap::default();
            let mut states: Vec<Vec<State>> = Vec::new();
            for (i, m) in mask.iter().enumerate() {
                if !*m {
                    continue;
                }
                let Some(k) = key_col.get(i) else { continue };
                let slot = *slots.entry(k).or_insert_with(|| {
                    states.push(functions.iter().map(Agg::new_state).collect());
                    states.len() - 1
                });
                for (f, s) in funs.iter().zip(states[slot].iter_mut()) {
                    apply(f, s, i);
                }
            }
            for (k, slot) in slots {
                let local = std::mem::take(&mut states[slot]);
                if let Some(g) = map.get_mut(k) {
                    for ((f, a), b) in functions.iter().zip(g.1.iter_mut()).zip(local) {
                        f.merge(a, b);
                    }
                } else if map.len() >= *limit {
                    *limited = true;
                } else {
                    map.insert(k.to_string(), (vec![k.to_string()], local));
                }
            }
            true
        }
        (
            Agg::Series {
                span,
                series: None,
                functions,
                ..
            },
            State::Series { map, .. },
        ) if functions.iter().all(|f| {
            matches!(
                f,
                Agg::Count {
                    field: None,
                    distinct: false,
                    ..
                }
            )
        }) =>
        {
            let Some(time) = ctx.time_loaded() else {
                return false;
            };
            let mut counts: Vec<(i64, u64)> = Vec::new();
            for (t, m) in time.iter().zip(mask) {
                if !*m {
                    continue;
                }
                let b = t.0.div_euclid(*span) * span;
                match counts.last_mut() {
                    Some((lb, n)) if *lb == b => *n += 1,
                    _ => counts.push((b, 1)),
                }
            }
            let entry = map.entry(String::new()).or_default();
            for (b, n) in counts {
                entry.0 += n;
                let states = entry
                    .1
                    .entry(b)
                    .or_insert_with(|| functions.iter().map(Agg::new_state).collect());
                for s in states.iter_mut() {
                    if let State::Count(c) = s {
                        *c += n;
                    }
                }
            }
            true
        }
        _ => false,
    }
}

fn kernels<'c>(functions: &[Agg], ctx: &'c BlockCtx<'_>) -> Option<Vec<Fun<'c>>> {
    functions
        .iter()
        .map(|f| match f {
            Agg::Count {
                field: None,
                distinct: false,
                ..
            } => Some(Fun::Count),
            Agg::Count {
                field: Some(x),
                distinct: false,
                ..
            } if !x.starts_with(['@', '#']) => Some(Fun::CountField(ctx.column(x))),
            Agg::Stat { field, .. } if !field.starts_with(['@', '#']) => {
                Some(Fun::Stat(ctx.column(field)))
            }
            _ => None,
        })
        .collect()
}

#[inline]
fn apply(f: &Fun<'_>, s: &mut State, row: usize) {
    match (f, s) {
        (Fun::Count, State::Count(n)) => *n += 1,
        (Fun::CountField(Some(c)), State::Count(n)) if c.get(row).is_some() => *n += 1,
        (Fun::Stat(Some(c)), State::Num(st)) => {
            if let Some(x) = c.get(row).and_then(fast_number) {
                add_num(st, x);
            }
        }
        _ => {}
    }
}

#[inline]
fn add_num(s: &mut NumState, x: f64) {
    s.n += 1;
    s.sum += x;
    s.sumsq += x * x;
    s.min = s.min.min(x);
    s.max = s.max.max(x);
}

/// Plain decimals (`123`, `45.25`, `-0.5`: the common case) without the float parser, else
/// [`number`]. Exact: with at most 15 significant digits the digits are an exact f64 and the
/// power of ten too, so one correctly rounded division gives the correctly rounded value of
/// the text, the same f64 the parser returns (Clinger's fast path).
#[inline]
fn fast_number(s: &str) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let b = s.as_bytes();
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.len() <= 16 {
        let mut v: u64 = 0;
        let mut frac: Option<usize> = None;
        let mut n = 0usize;
        let mut ok = true;
        for (i, &d) in digits.iter().enumerate() {
            if d.is_ascii_digit() {
                v = v * 10 + u64::from(d - b'0');
                n += 1;
            } else if d == b'.' && frac.is_none() && i > 0 && i + 1 < digits.len() {
                frac = Some(digits.len() - i - 1);
            } else {
                ok = false;
                break;
            }
        }
        if ok && n <= 15 {
            let x = v as f64 / POW10[frac.unwrap_or(0)];
            return Some(if neg { -x } else { x });
        }
    }
    number(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The fast path gives exactly the parser's value, on decimals and on anything else.
        #[test]
        fn fast_numbers_equal_the_parser(int in 0u64..10_000_000_000, frac in 0u32..1_000_000, places in 0usize..7, neg in proptest::prelude::any::<bool>()) {
            let mut s = if neg { "-".to_string() } else { String::new() };
            s.push_str(&int.to_string());
            if places > 0 {
                s.push('.');
                s.push_str(&format!("{:0places$}", frac % 10u32.pow(places as u32)));
            }
            let want = number(&s);
            let got = fast_number(&s);
            proptest::prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{}", s);
        }
    }

    #[test]
    fn odd_numbers_fall_back_to_the_parser() {
        for s in [
            "",
            "-",
            ".",
            "1.",
            ".5",
            "1e3",
            " 7",
            "1.2.3",
            "+4",
            "-0",
            "0.1",
            "1234567890123456.5",
            "abc",
            "12a",
        ] {
            assert_eq!(
                fast_number(s).map(f64::to_bits),
                number(s).map(f64::to_bits),
                "{s:?}"
            );
        }
    }
}
