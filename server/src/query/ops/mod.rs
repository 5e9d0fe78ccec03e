//! Streaming operators: each takes one row and keeps (possibly changed) or drops it. Filters,
//! assignments, `case`, `match`, and LogScale's row functions (`regex`, `parseJson`, `kvParse`,
//! `replace`, `format`, `formatTime`, `parseTimestamp`, `lowercase`, `length`,
//! `splitString`, `concat`, `round`, `if`, `in`, `rename`, `drop`, `select`, `eval`).
//!
//! This file holds the operator tree and its dispatch; `row_fn.rs` the row functions;
//! `formats.rs` the printf and time-pattern languages those functions take as arguments.

mod formats;
mod row_fn;

use chrono::FixedOffset;

use super::agg::Agg;
use super::ast::Expr;
use super::expr;
use super::filter::CFilter;
use super::glob_match;
use super::row::Row;

pub use formats::{java_to_strftime, parse_time, parse_zone, printf};
pub use row_fn::RowFn;

/// One pipeline operator.
pub enum Op {
    Filter(CFilter),
    Eval(Vec<(String, Expr)>),
    Fn(RowFn),
    /// Branches: (leading filters, rest).
    Case(Vec<(Vec<Op>, Vec<Op>)>),
    Match {
        field: String,
        arms: Vec<(MatchPat, Vec<Op>)>,
    },
    Agg(Agg),
}

pub enum MatchPat {
    Glob(String),
    Regex(regex::Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Lower,
    Upper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundHow {
    Round,
    Floor,
    Ceil,
}

/// A time zone for formatTime/parseTimestamp: UTC or a fixed offset.
pub type Zone = FixedOffset;

impl Op {
    /// Applies the operator; false drops the row. Aggregates never reach here.
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            Op::Filter(f) => f.apply(row),
            Op::Eval(assigns) => {
                for (field, e) in assigns {
                    match expr::eval(e, row).into_field() {
                        Some(v) => row.set(field, v),
                        None => {
                            row.remove(field);
                        }
                    }
                }
                true
            }
            Op::Fn(f) => f.apply(row),
            Op::Case(branches) => {
                for (cond, body) in branches {
                    let mut r = row.clone();
                    if cond.iter().all(|op| op.apply(&mut r)) {
                        let ok = body.iter().all(|op| op.apply(&mut r));
                        *row = r;
                        return ok;
                    }
                }
                false
            }
            Op::Match { field, arms } => {
                let v = row.get_str(field).map(str::to_string);
                for (pat, body) in arms {
                    let hit = match (pat, &v) {
                        (MatchPat::Glob(g), _) if g == "*" => true,
                        (MatchPat::Glob(g), Some(v)) => glob_match(g, v),
                        (MatchPat::Regex(re), Some(v)) => re.is_match(v),
                        _ => false,
                    };
                    if hit {
                        return body.iter().all(|op| op.apply(row));
                    }
                }
                false
            }
            Op::Agg(_) => true,
        }
    }
}
