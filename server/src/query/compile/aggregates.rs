//! Aggregate functions (`count`, `sum`..`stdDev`, `percentile`, `stats`, `groupBy`, `top`,
//! `timeChart`/`bucket`, `collect`, `head`/`tail`, `sort`/`table`): their parameters and limits,
//! and the sub-aggregates that `function=` accepts.

use super::args::{parse_span, Args};
use super::{compile_call, err, Compiled, PlanOptions};
use super::{GROUPBY_DEFAULT_LIMIT, GROUPBY_MAX_LIMIT, MAX_ROW_LIMIT};
use crate::query::agg::{Agg, RowOrder, SortKey, SortType, StatKind};
use crate::query::ast::{ArgValue, Call};
use crate::query::{number, ParseError};

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
        match compile_call(c, PlanOptions { start: 0, end: 0, default_limit: 200, zone: crate::query::Zone::UTC })? {
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

/// Compiles `c` when `name` (lower-cased) is an aggregate function; `None` for other names.
pub(super) fn compile(
    c: &Call,
    name: &str,
    opts: PlanOptions,
) -> Result<Option<Compiled>, ParseError> {
    let stat = |kind: StatKind, out: &str| -> Result<Compiled, ParseError> {
        let a = Args::new(c, &["field", "as"], Some("field"))?;
        Ok(Compiled::Agg(Agg::Stat {
            kind,
            field: a.req("field", true)?,
            as_: a.str("as", false)?.unwrap_or_else(|| out.into()),
        }))
    };
    let compiled = match name {
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
        _ => return Ok(None),
    };
    compiled.map(Some)
}
