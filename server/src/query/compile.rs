//! Compiles a parsed query into a [`Plan`]: leading filters (evaluated column-wise on segment
//! blocks and pushed into their Bloom filters), streaming operators up to the first aggregate
//! (run where the data is), the first aggregate (whose state merges across workers), and the
//! rest of the pipeline (run once over the merged result). Function names and parameters are
//! checked here; errors point at the call or argument.

use super::agg::{Agg, RowOrder, SortKey, SortType, StatKind};
use super::ast::{self, ArgValue, Call, Expr, MatchPattern, Query, Stage};
use super::filter::CFilter;
use super::ops::{self, Case, MatchPat, Op, RoundHow, RowFn};
use super::row::{Row, RowKey};
use super::{compile_regex, expr, number, ParseError, State};

/// Query-wide settings the compiler needs (timeChart spans depend on the time range).
#[derive(Debug, Clone, Copy)]
pub struct PlanOptions {
    pub start: i64,
    pub end: i64,
    /// Events returned when the query has no aggregate (LogScale: 200).
    pub default_limit: usize,
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
}

impl Plan {
    /// Runs the streaming operators on a row that passed the leading filter, then feeds the
    /// aggregate.
    pub fn feed_row(&self, st: &mut State, mut row: Row) {
        for op in &self.prefix {
            if !op.apply(&mut row) {
                return;
            }
        }
        self.agg.add_row(st, row);
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
        self.agg.warnings(&st, &mut warnings);
        let mut rows = self.agg.finish(st);
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
                op => rows.retain_mut(|r| op.apply(r)),
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

/// Compiles `q`.
pub fn compile(q: &Query, opts: PlanOptions) -> Result<Plan, ParseError> {
    let mut i = 0;
    let mut leading = Vec::new();
    while let Some(Stage::Filter(f)) = q.stages.get(i) {
        leading.push(CFilter::new(f, &|c| filter_call(c))?);
        i += 1;
    }
    let leading = if leading.len() == 1 {
        leading.remove(0)
    } else if leading.is_empty() {
        CFilter::True
    } else {
        CFilter::And(leading)
    };
    let mut prefix = Vec::new();
    let mut agg = None;
    let mut suffix = Vec::new();
    for s in &q.stages[i..] {
        match compile_stage(s, opts)? {
            Compiled::Agg(a) if agg.is_none() => agg = Some(a),
            Compiled::Agg(a) => suffix.push(Op::Agg(a)),
            Compiled::Op(op) if agg.is_none() => prefix.push(op),
            Compiled::Op(op) => suffix.push(op),
        }
    }
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
    })
}

fn compile_stage(s: &Stage, opts: PlanOptions) -> Result<Compiled, ParseError> {
    Ok(match s {
        Stage::Filter(f) => Compiled::Op(Op::Filter(CFilter::new(f, &|c| filter_call(c))?)),
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
        Stage::Call(c) => compile_call(c, opts)?,
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

/// Argument access for one call, checking names against the function's parameters.
struct Args<'a> {
    call: &'a Call,
    fname: String,
}

impl<'a> Args<'a> {
    /// `params`: accepted names; `positional`: the parameter an unnamed argument sets.
    fn new(call: &'a Call, params: &[&str], positional: Option<&str>) -> Result<Self, ParseError> {
        let fname = format!("{}()", call.name);
        let mut unnamed = 0;
        for a in &call.args {
            match &a.name {
                Some(n) if !params.iter().any(|p| p.eq_ignore_ascii_case(n)) => {
                    return Err(err(
                        a.pos,
                        format!(
                            "{fname} has no parameter {n:?} (parameters: {})",
                            params.join(", ")
                        ),
                    ))
                }
                Some(_) => {}
                None => {
                    unnamed += 1;
                    if positional.is_none() || unnamed > 1 {
                        return Err(err(
                            a.pos,
                            format!(
                                "{fname}: name this argument (parameters: {})",
                                params.join(", ")
                            ),
                        ));
                    }
                }
            }
        }
        let mut seen: Vec<String> = Vec::new();
        for a in &call.args {
            let n = a
                .name
                .clone()
                .or_else(|| positional.map(str::to_string))
                .unwrap_or_default()
                .to_ascii_lowercase();
            if seen.contains(&n) {
                return Err(err(a.pos, format!("{fname}: {n} is given twice")));
            }
            seen.push(n);
        }
        Ok(Args { call, fname })
    }

    fn get(&self, name: &str, positional: bool) -> Option<&'a ast::Arg> {
        self.call.args.iter().find(|a| match &a.name {
            Some(n) => n.eq_ignore_ascii_case(name),
            None => positional,
        })
    }

    fn str(&self, name: &str, positional: bool) -> Result<Option<String>, ParseError> {
        match self.get(name, positional) {
            None => Ok(None),
            Some(a) => match &a.value {
                ArgValue::Str(s) => Ok(Some(s.clone())),
                ArgValue::Expr(Expr::Field(s) | Expr::Str(s)) => Ok(Some(s.clone())),
                _ => Err(err(
                    a.pos,
                    format!("{}: {name} must be a single value", self.fname),
                )),
            },
        }
    }

    fn req(&self, name: &str, positional: bool) -> Result<String, ParseError> {
        self.str(name, positional)?.ok_or_else(|| {
            err(
                self.call.pos,
                format!("{} needs the parameter {name}", self.fname),
            )
        })
    }

    fn list(&self, name: &str, positional: bool) -> Result<Option<Vec<String>>, ParseError> {
        match self.get(name, positional) {
            None => Ok(None),
            Some(a) => match &a.value {
                ArgValue::Str(s) => Ok(Some(vec![s.clone()])),
                ArgValue::List(items) => items
                    .iter()
                    .map(|i| match i {
                        ArgValue::Str(s) => Ok(s.clone()),
                        _ => Err(err(
                            a.pos,
                            format!("{}: {name} must be a list of values", self.fname),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some),
                _ => Err(err(
                    a.pos,
                    format!("{}: {name} must be a value or a list", self.fname),
                )),
            },
        }
    }

    fn bool(&self, name: &str, default: bool) -> Result<bool, ParseError> {
        match self.str(name, false)? {
            None => Ok(default),
            Some(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(s) => Err(err(
                self.get(name, false).map_or(self.call.pos, |a| a.pos),
                format!("{}: {name} must be true or false, not {s:?}", self.fname),
            )),
        }
    }

    fn limit(
        &self,
        name: &str,
        positional: bool,
        default: usize,
        max: usize,
    ) -> Result<usize, ParseError> {
        match self.str(name, positional)? {
            None => Ok(default),
            Some(s) if s.eq_ignore_ascii_case("max") => Ok(max),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    err(
                        self.get(name, positional).map_or(self.call.pos, |a| a.pos),
                        format!(
                            "{}: {name} must be a number from 1 to {max} (or max), not {s:?}",
                            self.fname
                        ),
                    )
                }),
        }
    }

    fn regex(&self, name: &str, positional: bool, flags: &str) -> Result<regex::Regex, ParseError> {
        let a = self.get(name, positional).ok_or_else(|| {
            err(
                self.call.pos,
                format!("{} needs the parameter {name}", self.fname),
            )
        })?;
        let re = match &a.value {
            ArgValue::Regex(r) => ast::Regex {
                pattern: r.pattern.clone(),
                flags: format!("{}{flags}", r.flags),
            },
            ArgValue::Str(s) => ast::Regex {
                pattern: s.clone(),
                flags: flags.to_string(),
            },
            _ => {
                return Err(err(
                    a.pos,
                    format!("{}: {name} must be a regex", self.fname),
                ))
            }
        };
        compile_regex(&re).map_err(|m| err(a.pos, m))
    }

    fn expr(&self, name: &str, positional: bool) -> Result<Expr, ParseError> {
        let a = self.get(name, positional).ok_or_else(|| {
            err(
                self.call.pos,
                format!("{} needs the parameter {name}", self.fname),
            )
        })?;
        let e = match &a.value {
            ArgValue::Expr(e) => e.clone(),
            ArgValue::Str(s) => match number(s) {
                Some(n) => Expr::Num(n),
                None => Expr::Str(s.clone()),
            },
            _ => {
                return Err(err(
                    a.pos,
                    format!("{}: {name} must be an expression", self.fname),
                ))
            }
        };
        expr::check(&e)?;
        Ok(e)
    }
}

/// Filter functions usable inside a filter expression.
fn filter_call(c: &Call) -> Result<CFilter, ParseError> {
    match c.name.to_ascii_lowercase().as_str() {
        "in" => {
            let a = Args::new(c, &["field", "values", "ignoreCase"], Some("field"))?;
            Ok(CFilter::In {
                field: a.req("field", true)?,
                values: a.list("values", false)?.unwrap_or_default(),
                ignore_case: a.bool("ignoreCase", false)?,
            })
        }
        "test" => {
            let a = Args::new(c, &["expression"], Some("expression"))?;
            Ok(CFilter::Test(a.expr("expression", true)?))
        }
        other => Err(err(
            c.pos,
            format!(
                "{other}() cannot be used inside a filter expression; put it in its own | stage"
            ),
        )),
    }
}

fn zone(a: &Args, name: &str) -> Result<ops::Zone, ParseError> {
    let z = a.str(name, false)?.unwrap_or_else(|| "UTC".into());
    ops::parse_zone(&z).ok_or_else(|| {
        err(
            a.get(name, false).map_or(a.call.pos, |x| x.pos),
            format!(
                "{}: unknown time zone {z:?} (use UTC or an offset like +02:00)",
                a.fname
            ),
        )
    })
}

/// Parses a span like `1h`, `5m`, `30s`, `1d`, `1w`, `100ms`.
pub fn parse_span(s: &str) -> Option<i64> {
    let t = s.trim();
    let digits: String = t.chars().take_while(|c| c.is_ascii_digit()).collect();
    let n: i64 = if digits.is_empty() {
        1
    } else {
        digits.parse().ok()?
    };
    let unit = t[digits.len()..].trim().to_ascii_lowercase();
    let ms = match unit.as_str() {
        "" if !digits.is_empty() => 1,
        u => unit_ms(u)?,
    };
    let v = n.checked_mul(ms)?;
    (v > 0).then_some(v)
}

/// Milliseconds in one of a duration unit (`ms`, `s`, `m`, `h`, `d`, `w`, `y` and their long
/// forms), shared by spans and relative query times.
pub fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "ms" | "millis" | "milliseconds" => 1,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        "w" | "week" | "weeks" => 7 * 86_400_000,
        "y" | "year" | "years" => 365 * 86_400_000,
        _ => return None,
    })
}

/// Aggregates allowed as `function=` of groupBy/timeChart/bucket/stats.
fn sub_aggs(a: &Args, name: &str, positional: bool) -> Result<Vec<Agg>, ParseError> {
    let Some(arg) = a.get(name, positional) else {
        return Ok(vec![count_default()]);
    };
    let calls: Vec<&Call> = match &arg.value {
        ArgValue::Call(c) => vec![c],
        ArgValue::List(items) => items
            .iter()
            .map(|i| match i {
                ArgValue::Call(c) => Ok(c),
                _ => Err(err(
                    arg.pos,
                    format!("{}: {name} must be aggregate function calls", a.fname),
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(err(
                arg.pos,
                format!(
                    "{}: {name} must be an aggregate function like count()",
                    a.fname
                ),
            ))
        }
    };
    let mut out = Vec::new();
    for c in calls {
        match compile_call(c, PlanOptions { start: 0, end: 0, default_limit: 200 })? {
            Compiled::Agg(
                g @ (Agg::Count { .. }
                | Agg::Stat { .. }
                | Agg::Percentile { .. }
                | Agg::Stats(_)
                | Agg::Collect { .. }),
            ) => out.push(g),
            _ => {
                return Err(err(
                    c.pos,
                    format!("{}: {}() cannot be used as {name}= (use count, sum, avg, min, max, stdDev, percentile, stats or collect)", a.fname, c.name),
                ))
            }
        }
    }
    Ok(out)
}

fn count_default() -> Agg {
    Agg::Count {
        field: None,
        distinct: false,
        as_: "_count".into(),
    }
}

fn compile_call(c: &Call, opts: PlanOptions) -> Result<Compiled, ParseError> {
    let name = c.name.to_ascii_lowercase();
    let stat = |kind: StatKind, out: &str| -> Result<Compiled, ParseError> {
        let a = Args::new(c, &["field", "as"], Some("field"))?;
        Ok(Compiled::Agg(Agg::Stat {
            kind,
            field: a.req("field", true)?,
            as_: a.str("as", false)?.unwrap_or_else(|| out.into()),
        }))
    };
    let op = |f: RowFn| Ok(Compiled::Op(Op::Fn(f)));
    match name.as_str() {
        "count" => {
            let a = Args::new(c, &["field", "distinct", "as"], Some("field"))?;
            Ok(Compiled::Agg(Agg::Count {
                field: a.str("field", true)?,
                distinct: a.bool("distinct", false)?,
                as_: a.str("as", false)?.unwrap_or_else(|| "_count".into()),
            }))
        }
        "sum" => stat(StatKind::Sum, "_sum"),
        "avg" => stat(StatKind::Avg, "_avg"),
        "min" => stat(StatKind::Min, "_min"),
        "max" => stat(StatKind::Max, "_max"),
        "stddev" => stat(StatKind::StdDev, "_stddev"),
        "percentile" => {
            let a = Args::new(
                c,
                &["field", "percentiles", "as", "accuracy"],
                Some("field"),
            )?;
            let ps = match a.list("percentiles", false)? {
                None => vec![50.0, 75.0, 99.0],
                Some(v) => v
                    .iter()
                    .map(|s| number(s).filter(|p| (0.0..=100.0).contains(p)))
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| {
                        err(
                            c.pos,
                            "percentile(): percentiles must be numbers from 0 to 100",
                        )
                    })?,
            };
            Ok(Compiled::Agg(Agg::Percentile {
                field: a.req("field", true)?,
                percentiles: ps,
                prefix: a.str("as", false)?.unwrap_or_default(),
            }))
        }
        "stats" => {
            let a = Args::new(c, &["function"], Some("function"))?;
            Ok(Compiled::Agg(Agg::Stats(sub_aggs(&a, "function", true)?)))
        }
        "groupby" => {
            let a = Args::new(c, &["field", "function", "limit"], Some("field"))?;
            Ok(Compiled::Agg(Agg::GroupBy {
                fields: a
                    .list("field", true)?
                    .ok_or_else(|| err(c.pos, "groupBy() needs the parameter field"))?,
                functions: sub_aggs(&a, "function", false)?,
                limit: a.limit("limit", false, GROUPBY_DEFAULT_LIMIT, GROUPBY_MAX_LIMIT)?,
            }))
        }
        "top" => {
            let a = Args::new(
                c,
                &["field", "limit", "sum", "as", "percent", "max", "rest"],
                Some("field"),
            )?;
            Ok(Compiled::Agg(Agg::Top {
                fields: a
                    .list("field", true)?
                    .ok_or_else(|| err(c.pos, "top() needs the parameter field"))?,
                limit: a.limit("limit", false, 10, 20_000)?,
                sum: a.str("sum", false)?,
                as_: a.str("as", false)?.unwrap_or_else(|| "_count".into()),
                percent: a.bool("percent", false)?,
            }))
        }
        "timechart" | "bucket" => {
            let series_param = if name == "bucket" { "field" } else { "series" };
            let a = Args::new(
                c,
                &[
                    series_param,
                    "function",
                    "span",
                    "buckets",
                    "limit",
                    "unit",
                    "timezone",
                    "minSpan",
                ],
                Some(series_param),
            )?;
            let range = (opts.end - opts.start).max(1);
            let span = match a.str("span", false)? {
                Some(s) => parse_span(&s).ok_or_else(|| {
                    err(
                        a.get("span", false).map_or(c.pos, |x| x.pos),
                        format!(
                            "{}(): span {s:?} is not a duration like 5m, 1h or 1d",
                            c.name
                        ),
                    )
                })?,
                None => {
                    let buckets = a.limit(
                        "buckets",
                        false,
                        if name == "bucket" { 100 } else { 250 },
                        1500,
                    )? as i64;
                    ((range + buckets - 1) / buckets).max(1000)
                }
            };
            if range / span > 1_000_000 {
                return Err(err(
                    c.pos,
                    format!("{}(): span is too small for the time range", c.name),
                ));
            }
            Ok(Compiled::Agg(Agg::Series {
                span,
                series: a.str(series_param, true)?,
                functions: sub_aggs(&a, "function", false)?,
                limit: a.limit("limit", false, 10, 500)?,
                start: opts.start,
                end: opts.end,
            }))
        }
        "collect" => {
            let a = Args::new(
                c,
                &["fields", "limit", "separator", "multival"],
                Some("fields"),
            )?;
            Ok(Compiled::Agg(Agg::Collect {
                fields: a
                    .list("fields", true)?
                    .ok_or_else(|| err(c.pos, "collect() needs the parameter fields"))?,
                limit: a.limit("limit", false, 2000, 100_000)?,
            }))
        }
        "head" | "tail" => {
            let a = Args::new(c, &["limit"], Some("limit"))?;
            Ok(Compiled::Agg(Agg::Rows {
                order: if name == "head" {
                    RowOrder::Oldest
                } else {
                    RowOrder::Newest
                },
                limit: a.limit("limit", true, 200, MAX_ROW_LIMIT)?,
                select: None,
            }))
        }
        "sort" | "table" => {
            let (params, pos): (&[&str], &str) = if name == "sort" {
                (&["field", "order", "limit", "type", "reverse"], "field")
            } else {
                (
                    &["fields", "sortby", "order", "limit", "type", "reverse"],
                    "fields",
                )
            };
            let a = Args::new(c, params, Some(pos))?;
            let order = a
                .str("order", false)?
                .unwrap_or_else(|| "desc".into())
                .to_ascii_lowercase();
            let mut desc = match order.as_str() {
                "desc" | "descending" => true,
                "asc" | "ascending" => false,
                o => {
                    return Err(err(
                        c.pos,
                        format!("{}(): order must be asc or desc, not {o:?}", c.name),
                    ))
                }
            };
            if a.bool("reverse", false)? {
                desc = !desc;
            }
            let kind = match a
                .str("type", false)?
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("any") => SortType::Any,
                Some("number") => SortType::Number,
                Some("string") => SortType::String,
                Some(t) => {
                    return Err(err(
                        c.pos,
                        format!(
                            "{}(): type must be any, number or string, not {t:?}",
                            c.name
                        ),
                    ))
                }
            };
            let (sort_fields, select) = if name == "sort" {
                (
                    a.list("field", true)?
                        .unwrap_or_else(|| vec!["@timestamp".into()]),
                    None,
                )
            } else {
                let fields = a
                    .list("fields", true)?
                    .ok_or_else(|| err(c.pos, "table() needs the parameter fields"))?;
                (
                    a.list("sortby", false)?
                        .unwrap_or_else(|| vec!["@timestamp".into()]),
                    Some(fields),
                )
            };
            Ok(Compiled::Agg(Agg::Rows {
                order: RowOrder::Fields(
                    sort_fields
                        .into_iter()
                        .map(|field| SortKey {
                            field,
                            desc,
                            kind: kind.clone(),
                        })
                        .collect(),
                ),
                limit: a.limit("limit", false, 200, MAX_ROW_LIMIT)?,
                select,
            }))
        }
        "select" => {
            let a = Args::new(c, &["fields"], Some("fields"))?;
            op(RowFn::Select(a.list("fields", true)?.unwrap_or_default()))
        }
        "drop" => {
            let a = Args::new(c, &["fields"], Some("fields"))?;
            op(RowFn::Drop(a.list("fields", true)?.unwrap_or_default()))
        }
        "rename" => {
            let a = Args::new(c, &["field", "as"], Some("field"))?;
            let pairs = match (a.get("field", true), a.str("as", false)?) {
                (Some(arg), None) => match &arg.value {
                    ArgValue::List(items) => items
                        .iter()
                        .map(|i| match i {
                            ArgValue::List(p) => match p.as_slice() {
                                [ArgValue::Str(x), ArgValue::Str(y)] => Ok((x.clone(), y.clone())),
                                _ => Err(err(arg.pos, "rename(): field=[[old, new], ...] pairs")),
                            },
                            _ => Err(err(arg.pos, "rename(): field=[[old, new], ...] pairs")),
                        })
                        .collect::<Result<Vec<_>, _>>()?,
                    _ => {
                        return Err(err(
                            c.pos,
                            "rename() needs as= (or field=[[old, new], ...])",
                        ))
                    }
                },
                (_, Some(to)) => vec![(a.req("field", true)?, to)],
                (None, None) => return Err(err(c.pos, "rename() needs the parameter field")),
            };
            op(RowFn::Rename(pairs))
        }
        "eval" => {
            let mut assigns = Vec::new();
            for arg in &c.args {
                let (Some(n), ArgValue::Expr(e)) = (&arg.name, &arg.value) else {
                    return Err(err(arg.pos, "eval(): write field = expression"));
                };
                expr::check(e)?;
                assigns.push((n.clone(), e.clone()));
            }
            Ok(Compiled::Op(Op::Eval(assigns)))
        }
        "in" | "test" => Ok(Compiled::Op(Op::Filter(filter_call(c)?))),
        "regex" => {
            let a = Args::new(
                c,
                &["regex", "field", "strict", "flags", "repeat", "limit"],
                Some("regex"),
            )?;
            let flags = a.str("flags", false)?.unwrap_or_default();
            Ok(Compiled::Op(Op::Fn(RowFn::Regex {
                re: a.regex("regex", true, &flags)?,
                field: a
                    .str("field", false)?
                    .unwrap_or_else(|| "@rawstring".into()),
                strict: a.bool("strict", true)?,
                repeat: a.bool("repeat", false)?,
            })))
        }
        "parsejson" => {
            let a = Args::new(c, &["field", "prefix", "as"], Some("field"))?;
            op(RowFn::ParseJson {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
                prefix: a
                    .str("prefix", false)?
                    .or(a.str("as", false)?)
                    .unwrap_or_default(),
            })
        }
        "kvparse" => {
            let a = Args::new(c, &["field"], Some("field"))?;
            op(RowFn::KvParse {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
            })
        }
        "replace" => {
            let a = Args::new(
                c,
                &["regex", "with", "field", "as", "flags", "replacement"],
                Some("regex"),
            )?;
            let flags = a.str("flags", false)?.unwrap_or_default();
            let field = a
                .str("field", false)?
                .unwrap_or_else(|| "@rawstring".into());
            // LogScale writes `\1` for a group; the regex crate writes `${1}`.
            let with = a
                .str("with", false)?
                .or(a.str("replacement", false)?)
                .unwrap_or_default();
            let with = regex::Regex::new(r"\\(\d)")
                .map(|r| r.replace_all(&with, "$${$1}").into_owned())
                .unwrap_or(with);
            op(RowFn::Replace {
                re: a.regex("regex", true, &flags)?,
                with,
                as_: a.str("as", false)?.unwrap_or_else(|| field.clone()),
                field,
            })
        }
        "format" => {
            let a = Args::new(c, &["format", "field", "as", "timezone"], Some("format"))?;
            op(RowFn::Format {
                format: a.req("format", true)?,
                fields: a.list("field", false)?.unwrap_or_default(),
                as_: a.str("as", false)?.unwrap_or_else(|| "_format".into()),
            })
        }
        "formattime" => {
            let a = Args::new(
                c,
                &["format", "field", "as", "timezone", "unit", "locale"],
                Some("format"),
            )?;
            let unit = a
                .str("unit", false)?
                .unwrap_or_else(|| "milliseconds".into());
            op(RowFn::FormatTime {
                format: a.req("format", true)?,
                field: a
                    .str("field", false)?
                    .unwrap_or_else(|| "@timestamp".into()),
                as_: a.str("as", false)?.unwrap_or_else(|| "_time".into()),
                zone: zone(&a, "timezone")?,
                unit_ms: !unit.starts_with("sec"),
            })
        }
        "parsetimestamp" => {
            let a = Args::new(
                c,
                &[
                    "format",
                    "field",
                    "as",
                    "timezone",
                    "timezoneAs",
                    "addErrors",
                ],
                Some("format"),
            )?;
            op(RowFn::ParseTimestamp {
                format: a.str("format", true)?.unwrap_or_default(),
                field: a.req("field", false)?,
                as_: a.str("as", false)?.unwrap_or_else(|| "@timestamp".into()),
                zone: zone(&a, "timezone")?,
            })
        }
        "lowercase" | "uppercase" | "lower" | "upper" => {
            let a = Args::new(c, &["field", "include", "locale", "as"], Some("field"))?;
            op(RowFn::ChangeCase {
                fields: a
                    .list("field", true)?
                    .ok_or_else(|| err(c.pos, format!("{}() needs the parameter field", c.name)))?,
                case: if name.starts_with("lower") {
                    Case::Lower
                } else {
                    Case::Upper
                },
                as_: a.str("as", false)?,
            })
        }
        "length" => {
            let a = Args::new(c, &["field", "as"], Some("field"))?;
            op(RowFn::Length {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
                as_: a.str("as", false)?.unwrap_or_else(|| "_length".into()),
            })
        }
        "splitstring" => {
            let a = Args::new(c, &["field", "by", "as", "index"], Some("field"))?;
            let index = match a.str("index", false)? {
                None => None,
                Some(s) => Some(s.parse::<usize>().map_err(|_| {
                    err(
                        c.pos,
                        format!("splitString(): index must be a number, not {s:?}"),
                    )
                })?),
            };
            op(RowFn::SplitString {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
                by: a.req("by", false)?,
                as_: a.str("as", false)?.unwrap_or_else(|| "_splitstring".into()),
                index,
            })
        }
        "concat" => {
            let a = Args::new(c, &["field", "as"], Some("field"))?;
            op(RowFn::Concat {
                fields: a
                    .list("field", true)?
                    .ok_or_else(|| err(c.pos, "concat() needs the parameter field"))?,
                as_: a.str("as", false)?.unwrap_or_else(|| "_concat".into()),
            })
        }
        "round" => {
            let a = Args::new(c, &["field", "as", "how"], Some("field"))?;
            let field = a.req("field", true)?;
            let how = match a.str("how", false)?.as_deref() {
                None | Some("round") => RoundHow::Round,
                Some("floor") => RoundHow::Floor,
                Some("ceil") => RoundHow::Ceil,
                Some(h) => {
                    return Err(err(
                        c.pos,
                        format!("round(): how must be round, floor or ceil, not {h:?}"),
                    ))
                }
            };
            op(RowFn::Round {
                as_: a.str("as", false)?.unwrap_or_else(|| field.clone()),
                field,
                how,
            })
        }
        "if" => {
            let a = Args::new(c, &["condition", "then", "else", "as"], Some("condition"))?;
            op(RowFn::If {
                cond: a.expr("condition", true)?,
                then: a.expr("then", false)?,
                else_: a.expr("else", false)?,
                as_: a.req("as", false)?,
            })
        }
        "default" => {
            let a = Args::new(c, &["field", "value"], Some("field"))?;
            op(RowFn::Default {
                fields: a
                    .list("field", true)?
                    .ok_or_else(|| err(c.pos, "default() needs the parameter field"))?,
                value: a.req("value", false)?,
            })
        }
        _ => Err(err(
            c.pos,
            format!(
                "unknown function {}() (see LogScale's function reference for the supported names)",
                c.name
            ),
        )),
    }
}
