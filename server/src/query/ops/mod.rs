//! Streaming operators: each takes one row and keeps (possibly changed) or drops it. Filters,
//! assignments, `case`, `match`, and LogScale's row functions (`regex`, `parseJson`, `kvParse`,
//! `replace`, `format`, `formatTime`, `parseTimestamp`, `lowercase`, `length`,
//! `splitString`, `concat`, `round`, `if`, `in`, `rename`, `drop`, `select`, `eval`).
//!
//! This file holds the operator tree and its dispatch; `row_fn.rs` the row functions;
//! `formats.rs` the printf and time-pattern languages those functions take as arguments;
//! `zone.rs` time zones; `expand.rs` the operators that turn one event into several
//! (`split()`, `regex(repeat=true)`); the function families in `text.rs`, `math.rs`, `time.rs`,
//! `array.rs` and `xml.rs` (`parseXml`).

pub mod array;
mod expand;
mod formats;
pub mod math;
mod row_fn;
pub mod text;
pub mod time;
mod xml;
mod zone;

use super::agg::Agg;
use super::ast::Expr;
use super::expr;
use super::filter::CFilter;
use super::glob_match;
use super::row::Row;

pub use expand::Expand;
pub use formats::{java_to_strftime, parse_time, parse_zone, printf};
pub use row_fn::RowFn;
pub use xml::flatten_xml;
pub use zone::Zone;

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
    /// An operator that can turn one row into several (or none).
    Expand(Expand),
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

impl Op {
    /// Runs `ops` in order over `row` and passes every row that comes out to `emit`: none
    /// when a filter drops it, several after an expanding operator.
    pub fn run(ops: &[Op], mut row: Row, emit: &mut dyn FnMut(Row)) {
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Expand(e) => {
                    let rest = &ops[i + 1..];
                    e.expand(row, &mut |r| Op::run(rest, r, emit));
                    return;
                }
                Op::Case(_) | Op::Match { .. } => {
                    let Some((r, body)) = op.branch(row) else {
                        return;
                    };
                    let rest = &ops[i + 1..];
                    Op::run(body, r, &mut |x| Op::run(rest, x, emit));
                    return;
                }
                _ => {
                    if !op.apply(&mut row) {
                        return;
                    }
                }
            }
        }
        emit(row);
    }

    /// The branch of a `case`/`match` that takes `row` (after its leading filters), and the
    /// rest of that branch; `None` when no branch does (the row is dropped).
    fn branch(&self, row: Row) -> Option<(Row, &[Op])> {
        match self {
            Op::Case(branches) => {
                for (cond, body) in branches {
                    let mut r = row.clone();
                    if cond.iter().all(|op| op.apply(&mut r)) {
                        return Some((r, body));
                    }
                }
                None
            }
            Op::Match { field, arms } => {
                let v = row.get_str(field);
                let i = arms.iter().position(|(pat, _)| match (pat, v) {
                    (MatchPat::Glob(g), _) if g == "*" => true,
                    (MatchPat::Glob(g), Some(v)) => glob_match(g, v),
                    (MatchPat::Regex(re), Some(v)) => re.is_match(v),
                    _ => false,
                })?;
                Some((row, &arms[i].1))
            }
            _ => Some((row, &[])),
        }
    }

    /// Warnings the operator has to add to the answer (a limit that cut output).
    pub fn warnings(&self, out: &mut Vec<String>) {
        match self {
            Op::Expand(e) => e.warnings(out),
            Op::Case(branches) => branches
                .iter()
                .flat_map(|(c, b)| c.iter().chain(b))
                .for_each(|op| op.warnings(out)),
            Op::Match { arms, .. } => arms
                .iter()
                .flat_map(|(_, b)| b)
                .for_each(|op| op.warnings(out)),
            _ => {}
        }
    }

    /// Applies the operator to one row; false drops the row. An expanding operator keeps
    /// only its first output here: callers that take every output use [`Op::run`] (a parser
    /// script, one event in and one out, is the caller of this form).
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
            Op::Case(_) | Op::Match { .. } | Op::Expand(_) => {
                let mut first = None;
                Op::run(std::slice::from_ref(self), std::mem::take(row), &mut |r| {
                    if first.is_none() {
                        first = Some(r);
                    }
                });
                match first {
                    Some(r) => {
                        *row = r;
                        true
                    }
                    None => false,
                }
            }
            Op::Agg(_) => true,
        }
    }
}
