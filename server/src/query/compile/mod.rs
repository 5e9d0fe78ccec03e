//! Compiles a parsed query into a [`Plan`]: leading filters (evaluated column-wise on segment
//! blocks and pushed into their Bloom filters), streaming operators up to the first aggregate
//! (run where the data is), the first aggregate (whose state merges across workers), and the
//! rest of the pipeline (run once over the merged result). Function names and parameters are
//! checked here; errors point at the call or argument.
//!
//! This file holds the plan and the stage compiler; the function families compile in their own
//! files (`aggregates.rs`, `row_functions.rs`, `text_functions.rs`, `math_functions.rs`,
//! `time_functions.rs`, `array_functions.rs`, `filters.rs` for functions inside filter
//! expressions), on top of the argument checking in `args.rs`.

mod aggregates;
mod args;
mod array_functions;
mod filters;
mod lookup_functions;
mod math_functions;
mod row_functions;
mod text_functions;
mod time_functions;

use super::agg::{Agg, RowOrder};
use super::ast::{self, ArgValue, Call, Expr, MatchPattern, Query, Stage};
use super::filter::CFilter;
use super::ops::{MatchPat, Op, Zone};
use super::row::{Row, RowKey};
use super::{compile_regex, expr, ParseError, State};
use filters::filter_call;

pub use args::{parse_span, unit_ms};

/// Query-wide settings the compiler needs (timeChart spans depend on the time range).
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    pub start: i64,
    pub end: i64,
    /// Events returned when the query has no aggregate (LogScale: 200).
    pub default_limit: usize,
    /// The zone of functions given no `timezone=` (`formatTime`, `parseTimestamp`, `time:*`):
    /// the query job's `timeZone` (`Zone::parse`) or `timeZoneOffsetMinutes`
    /// (`Zone::from_offset_minutes`); UTC by default.
    pub zone: Zone,
}

/// An executable query.
pub struct Plan {
    /// The leading filter stages, ANDed.
    pub leading: CFilter,
    /// Streaming operators between the leading filters and the first aggregate.
    pub prefix: Vec<Op>,
    /// The first aggregate; an implicit newest-first event list when the query has none.
    pub agg: Agg,
    /// Operators after the first aggregate, run over its merged result.
    pub suffix: Vec<Op>,
    /// The query has no aggregate: `agg` is the implicit list of `PlanOptions::default_limit`
    /// events (an answer without `hasMoreEvents` must say when that cut it).
    pub implicit_list: bool,
    /// `readFile()`: the result starts from these rows instead of the aggregate's (the events
    /// before it are discarded, as LogScale does); `suffix` runs over them.
    pub table: Option<Vec<Row>>,
}

impl Plan {
    /// True when the result rows are computed (not events).
    pub fn is_aggregate(&self) -> bool {
        !self.agg.yields_events()
            || self
                .suffix
                .iter()
                .any(|o| matches!(o, Op::Agg(a) if !a.yields_events()))
    }

    /// True when events must be materialised as rows before the aggregate (the aggregate can
    /// otherwise read block columns directly).
    pub fn needs_rows(&self) -> bool {
        !self.prefix.is_empty() || self.leading.extracts() || self.agg.needs_rows()
    }
}

/// What a finished plan produced.
pub struct PlanOutput {
    pub rows: Vec<Row>,
    pub field_order: Vec<String>,
    pub warnings: Vec<String>,
    /// The event list was cut at its limit: more events matched than it shows (LogScale's
    /// `extraData.hasMoreEvents`).
    pub more_events: bool,
}

impl Plan {
    /// Runs the streaming operators on a row that passed the leading filter, then feeds the
    /// aggregate.
    pub fn feed_row(&self, st: &mut State, row: Row) {
        Op::run(&self.prefix, row, &mut |r| self.agg.add_row(st, r));
    }

    /// Applies the leading filter to a row, then [`feed_row`](Self::feed_row).
    pub fn feed_event_row(&self, st: &mut State, mut row: Row) {
        if self.leading.apply(&mut row) {
            self.feed_row(st, row);
        }
    }

    /// Finishes the merged state and runs the rest of the pipeline over the result.
    pub fn finish(&self, st: State) -> PlanOutput {
        let mut warnings = Vec::new();
        self.prefix.iter().for_each(|op| op.warnings(&mut warnings));
        self.agg.warnings(&st, &mut warnings);
        // A list's threshold is only ever set by dropping rows past its limit.
        let more_events = matches!(
            &st,
            State::Rows {
                threshold: Some(_),
                ..
            }
        );
        let mut rows = match &self.table {
            Some(t) => t.clone(),
            None => self.agg.finish(st),
        };
        for op in &self.suffix {
            match op {
                // After an aggregate, head/tail take rows in the order they come.
                Op::Agg(Agg::Rows {
                    order: RowOrder::Oldest,
                    limit,
                    ..
                }) => rows.truncate(*limit),
                Op::Agg(Agg::Rows {
                    order: RowOrder::Newest,
                    limit,
                    ..
                }) => {
                    let cut = rows.len().saturating_sub(*limit);
                    rows.drain(..cut);
                }
                Op::Agg(a) => {
                    let mut st = a.new_state();
                    for (i, mut r) in rows.into_iter().enumerate() {
                        // Keep the incoming order as the tie-breaker of later sorts.
                        if r.key == RowKey::default() {
                            r.key.2.offset = u64::MAX - i as u64;
                        }
                        a.add_row(&mut st, r);
                    }
                    a.warnings(&st, &mut warnings);
                    rows = a.finish(st);
                }
                op => {
                    let mut out = Vec::with_capacity(rows.len());
                    for r in rows {
                        Op::run(std::slice::from_ref(op), r, &mut |x| out.push(x));
                    }
                    op.warnings(&mut warnings);
                    rows = out;
                }
            }
        }
        let field_order = if self.is_aggregate() {
            let mut order: Vec<String> = Vec::new();
            for r in &rows {
                for (k, _) in &r.fields {
                    if !order.contains(k) {
                        order.push(k.clone());
                    }
                }
                if order.len() > 1000 {
                    break;
                }
            }
            order
        } else {
            vec!["@timestamp".into(), "@rawstring".into()]
        };
        PlanOutput {
            rows,
            field_order,
            warnings,
            more_events,
        }
    }
}

/// Largest `limit` for head/tail/sort/table (LogScale's StateRowLimit default).
pub const MAX_ROW_LIMIT: usize = 50_000;
/// Default and largest groupBy limit (LogScale: 20,000 by default, `max` for the maximum).
pub const GROUPBY_DEFAULT_LIMIT: usize = 20_000;
pub const GROUPBY_MAX_LIMIT: usize = 1_000_000;

#[allow(clippy::large_enum_variant)]
enum Compiled {
    Op(Op),
    Agg(Agg),
}

/// Compiles `q` with `files` as the source of the lookup files `match()` and `readFile()`
/// name (the query's repository's files).
pub fn compile_with(
    q: &Query,
    opts: PlanOptions,
    files: std::sync::Arc<dyn super::lookup::Files>,
) -> Result<Plan, ParseError> {
    lookup_functions::with_files(files, || compile(q, opts))
}

/// The top-level `readFile()` stage, if any.
fn read_file_stage(q: &Query) -> Option<(usize, &Call)> {
    q.stages.iter().enumerate().find_map(|(i, s)| match s {
        Stage::Call(c) if c.name.eq_ignore_ascii_case("readfile") => Some((i, c)),
        _ => None,
    })
}

/// Compiles `q` (lookup files: those of the enclosing [`compile_with`], else none).
pub fn compile(q: &Query, opts: PlanOptions) -> Result<Plan, ParseError> {
    if let Some((at, c)) = read_file_stage(q) {
        let table = lookup_functions::read_file(c)?;
        let mut suffix = Vec::new();
        for s in &q.stages[at + 1..] {
            suffix.push(match compile_stage(s, opts)? {
                Compiled::Agg(a) => Op::Agg(a),
                Compiled::Op(op) => op,
            });
        }
        // Nothing is searched: no event passes, and the empty aggregate is replaced by the
        // file's rows in `finish`.
        return Ok(Plan {
            leading: CFilter::Not(Box::new(CFilter::True)),
            prefix: Vec::new(),
            agg: Agg::Count {
                field: None,
                distinct: false,
                as_: "_count".into(),
            },
            suffix,
            implicit_list: false,
            table: Some(table),
        });
    }
    let mut i = 0;
    let mut leading = Vec::new();
    let mut prefix = Vec::new();
    while let Some(Stage::Filter(f)) = q.stages.get(i) {
        let cf = CFilter::new(f, &|c| filter_call(c, opts))?;
        i += 1;
        if !cf.column_safe() {
            // It reads fields it cannot name up front: it runs on rows, after the leading
            // filters, so a block's columns are never asked for fields they were not given.
            prefix.push(Op::Filter(cf));
            break;
        }
        leading.push(cf);
    }
    let leading = if leading.len() == 1 {
        leading.remove(0)
    } else if leading.is_empty() {
        CFilter::True
    } else {
        CFilter::And(leading)
    };
    let mut agg = None;
    let mut suffix = Vec::new();
    for s in &q.stages[i..] {
        match compile_stage(s, opts)? {
            Compiled::Agg(a) if agg.is_none() && aggregates::is_sliding(&a) => {
                return Err(err(stage_pos(s), aggregates::SLIDING_AFTER_AGGREGATE))
            }
            Compiled::Agg(a) if agg.is_none() => agg = Some(a),
            Compiled::Agg(a) => suffix.push(Op::Agg(a)),
            Compiled::Op(op) if agg.is_none() => prefix.push(op),
            Compiled::Op(op) => suffix.push(op),
        }
    }
    let implicit_list = agg.is_none();
    let agg = agg.unwrap_or(Agg::Rows {
        order: RowOrder::Newest,
        limit: opts.default_limit,
        select: None,
    });
    Ok(Plan {
        leading,
        prefix,
        agg,
        suffix,
        implicit_list,
        table: None,
    })
}

fn compile_stage(s: &Stage, opts: PlanOptions) -> Result<Compiled, ParseError> {
    Ok(match s {
        Stage::Filter(f) => Compiled::Op(Op::Filter(CFilter::new(f, &|c| filter_call(c, opts))?)),
        Stage::Assign { field, expr, .. } => match expr {
            Expr::Call(c)
                if !expr::EXPR_FUNCTIONS.contains(&c.name.to_ascii_lowercase().as_str()) =>
            {
                // `x := f(...)` is `f(..., as=x)`.
                let mut c = c.clone();
                for a in &mut c.args {
                    if let ArgValue::Expr(e) = &a.value {
                        a.value = ArgValue::Str(match e {
                            Expr::Field(f) | Expr::Str(f) => f.clone(),
                            Expr::Num(n) => super::fmt_num(*n),
                            _ => {
                                return Err(err(
                                    a.pos,
                                    format!("{}(): this argument must be a field or value", c.name),
                                ))
                            }
                        });
                    }
                }
                c.args.push(ast::Arg {
                    name: Some("as".into()),
                    value: ArgValue::Str(field.clone()),
                    pos: c.pos,
                });
                compile_call(&c, opts)?
            }
            e => {
                expr::check(e)?;
                Compiled::Op(Op::Eval(vec![(field.clone(), e.clone())]))
            }
        },
        Stage::Call(c) => match compile_call(c, opts)? {
            Compiled::Agg(a) if aggregates::is_window(&a) => {
                return Err(err(c.pos, aggregates::WINDOW_ONLY_IN_SERIES))
            }
            other => other,
        },
        Stage::Case { branches, .. } => {
            let mut out = Vec::new();
            for b in branches {
                let mut cond = Vec::new();
                let mut body = Vec::new();
                for s in b {
                    let op = match compile_stage(s, opts)? {
                        Compiled::Op(op) => op,
                        Compiled::Agg(_) => {
                            return Err(err(
                                stage_pos(s),
                                "aggregate functions cannot be used inside case { }",
                            ))
                        }
                    };
                    if body.is_empty() && matches!(op, Op::Filter(_)) {
                        cond.push(op);
                    } else {
                        body.push(op);
                    }
                }
                out.push((cond, body));
            }
            Compiled::Op(Op::Case(out))
        }
        Stage::Match { field, arms, .. } => {
            let mut out = Vec::new();
            for (pat, body) in arms {
                let p = match pat {
                    MatchPattern::Glob(g) => MatchPat::Glob(g.clone()),
                    MatchPattern::Regex(r) => {
                        MatchPat::Regex(compile_regex(r).map_err(|m| err(0, m))?)
                    }
                };
                let mut ops = Vec::new();
                for s in body {
                    match compile_stage(s, opts)? {
                        Compiled::Op(op) => ops.push(op),
                        Compiled::Agg(_) => {
                            return Err(err(
                                stage_pos(s),
                                "aggregate functions cannot be used inside match { }",
                            ))
                        }
                    }
                }
                out.push((p, ops));
            }
            Compiled::Op(Op::Match {
                field: field.clone(),
                arms: out,
            })
        }
    })
}

fn stage_pos(s: &Stage) -> usize {
    match s {
        Stage::Assign { pos, .. } | Stage::Case { pos, .. } | Stage::Match { pos, .. } => *pos,
        Stage::Call(c) => c.pos,
        Stage::Filter(_) => 0,
    }
}

fn err(position: usize, message: impl Into<String>) -> ParseError {
    ParseError {
        position,
        message: message.into(),
    }
}

/// Compiles one function call, an aggregate or a row function.
fn compile_call(c: &Call, opts: PlanOptions) -> Result<Compiled, ParseError> {
    let name = c.name.to_ascii_lowercase();
    if let Some(a) = aggregates::compile(c, &name, opts)? {
        return Ok(a);
    }
    if let Some(f) = row_functions::compile(c, &name, opts)? {
        return Ok(f);
    }
    if let Some(f) = text_functions::compile(c, &name, opts)? {
        return Ok(f);
    }
    if let Some(f) = math_functions::compile(c, &name)? {
        return Ok(f);
    }
    if let Some(f) = time_functions::compile(c, &name, opts)? {
        return Ok(f);
    }
    if let Some(f) = array_functions::compile(c, &name, opts)? {
        return Ok(f);
    }
    if let Some(f) = lookup_functions::compile(c, &name)? {
        return Ok(f);
    }
    if name == "readfile" {
        return Err(err(
            c.pos,
            "readFile() must be a stage of the main query (it replaces the events)",
        ));
    }
    Err(err(
        c.pos,
        format!(
            "unknown function {}() (see LogScale's function reference for the supported names)",
            c.name
        ),
    ))
}
