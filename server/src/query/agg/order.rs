//! Orders shared by feeding, merging and finishing: how group keys and sort values compare
//! (numbers as numbers, missing values last), and how bounded row lists are cut to their limit.

use std::cmp::Ordering;

use super::{RowOrder, SortType};
use crate::query::number;
use crate::query::row::{Row, RowKey};

/// Orders group keys: numerically when both are numbers, else as text.
pub(super) fn cmp_keys(a: &[String], b: &[String]) -> Ordering {
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

pub(super) fn beats(order: &RowOrder, key: &RowKey, threshold: &RowKey) -> bool {
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

pub(super) fn compact(
    order: &RowOrder,
    limit: usize,
    rows: &mut Vec<Row>,
    threshold: &mut Option<RowKey>,
) {
    rows.sort_by(|a, b| row_cmp(order, a, b));
    // The threshold is set only when rows are dropped, so it also says the list was cut.
    if rows.len() > limit {
        rows.truncate(limit);
        if !matches!(order, RowOrder::Fields(_)) {
            *threshold = rows.last().map(|r| r.key);
        }
    }
}
