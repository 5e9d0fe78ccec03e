//! Aggregate functions (`count`, `sum`..`stdDev`, `range`, `percentile`, `stats`, `groupBy`,
//! `top`, `timeChart`/`bucket`, `collect`, `selectLast`, `selectFromMax`/`selectFromMin`,
//! `session`, `sankey`, `worldMap`, `head`/`tail`, `sort`/`table`): their parameters, defaults and limits
//! as LogScale documents them, and the sub-aggregates that `function=` accepts (any of these).

use super::args::{parse_span, zone, Args};
use super::{compile_call, err, Compiled, PlanOptions};
use super::{GROUPBY_DEFAULT_LIMIT, GROUPBY_MAX_LIMIT, MAX_ROW_LIMIT};
use crate::query::agg::{
    Agg, Reach, RowOrder, SortKey, SortType, StatKind, TopWeight, Unit, MAX_BUCKETS,
};
use crate::query::ast::{ArgValue, Call};
use crate::query::{number, ParseError};

/// The aggregates given as `name=` (a call or a list of calls); `count()` when absent.
fn sub_aggs(
    a: &Args,
    name: &str,
    positional: bool,
    opts: PlanOptions,
) -> Result<Vec<Agg>, ParseError> {
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
    if calls.is_empty() {
        return Err(err(
            arg.pos,
            format!("{}: {name} needs at least one aggregate function", a.fname),
        ));
    }
    let mut out = Vec::new();
    for c in calls {
        match compile_call(c, opts)? {
            Compiled::Agg(g) => out.push(g),
            Compiled::Op(_) => {
                return Err(err(
                    c.pos,
                    format!(
                        "{}: {}() is not an aggregate function and cannot be used as {name}=",
                        a.fname, c.name
                    ),
                ))
            }
        }
    }
    // LogScale combines several multi-row outputs as a Cartesian product; keep it bounded.
    let multi: Vec<u64> = out.iter().map(Agg::max_rows).filter(|n| *n > 1).collect();
    if multi.len() > 1 {
        let rows = multi.iter().fold(1u64, |p, n| p.saturating_mul(*n));
        if rows > MAX_PRODUCT_ROWS {
            return Err(err(
                arg.pos,
                format!(
                    "{}: the functions in {name}= could combine into {rows} rows per group (more than {MAX_PRODUCT_ROWS}); lower their limits",
                    a.fname
                ),
            ));
        }
    }
    Ok(out)
}

/// Largest Cartesian product of several multi-row functions' outputs.
const MAX_PRODUCT_ROWS: u64 = 100_000;

/// LogScale: window() is only the function of timeChart() or bucket().
pub(super) const WINDOW_ONLY_IN_SERIES: &str =
    "window() can only be used as the function= of timeChart() or bucket()";

pub(super) fn is_window(a: &Agg) -> bool {
    matches!(a, Agg::Window { .. })
}

/// LogScale: the sequence functions run over an aggregate's rows, as a later stage.
pub(super) const SLIDING_AFTER_AGGREGATE: &str =
    "slidingWindow() and slidingTimeWindow() must come after an aggregate function (like head() or sort()), as a stage of their own";

pub(super) fn is_sliding(a: &Agg) -> bool {
    matches!(a, Agg::Sliding { .. })
}

/// `slidingWindow()` and `slidingTimeWindow()`.
fn sliding(c: &Call, name: &str, opts: PlanOptions) -> Result<Agg, ParseError> {
    let by_time = name == "slidingtimewindow";
    let params: &[&str] = if by_time {
        &["function", "span", "current", "timestampfield"]
    } else {
        &["function", "events", "current"]
    };
    let a = Args::new(c, params, Some("function"))?;
    if a.get("function", true).is_none() {
        return Err(err(
            c.pos,
            format!("{}() needs the parameter function", c.name),
        ));
    }
    let functions = sub_aggs(&a, "function", true, opts)?;
    if let Some(f) = functions.iter().find(|f| f.max_rows() > 1) {
        return Err(err(
            c.pos,
            format!(
                "{}(): function= takes only functions with at most one output row, not {f:?}",
                c.name
            )
            .chars()
            .take(200)
            .collect::<String>(),
        ));
    }
    let current = match a.str("current", false)?.map(|s| s.to_ascii_lowercase()) {
        None => true,
        Some(s) if s == "include" => true,
        Some(s) if s == "exclude" => false,
        Some(s) => {
            return Err(err(
                a.get("current", false).map_or(c.pos, |x| x.pos),
                format!(
                    "{}(): current must be include or exclude, not {s:?}",
                    c.name
                ),
            ))
        }
    };
    let reach = if by_time {
        let ms = span_arg(&a, "span", false)?
            .ok_or_else(|| err(c.pos, format!("{}() needs the parameter span", c.name)))?;
        Reach::Span {
            ms,
            field: a
                .str("timestampfield", false)?
                .unwrap_or_else(|| "@timestamp".into()),
        }
    } else {
        if a.get("events", false).is_none() {
            return Err(err(
                c.pos,
                format!("{}() needs the parameter events", c.name),
            ));
        }
        Reach::Events(a.limit("events", false, 1, 1000)?)
    };
    Ok(Agg::Sliding {
        reach,
        current,
        functions,
    })
}

fn count_default() -> Agg {
    Agg::Count {
        field: None,
        distinct: false,
        as_: "_count".into(),
    }
}

fn span_arg(a: &Args, name: &str, positional: bool) -> Result<Option<i64>, ParseError> {
    match a.str(name, positional)? {
        None => Ok(None),
        Some(s) if s.eq_ignore_ascii_case("auto") && name == "span" => Ok(None),
        Some(s) => parse_span(&s).map(Some).ok_or_else(|| {
            err(
                a.get(name, positional).map_or(a.call.pos, |x| x.pos),
                format!(
                    "{}: {name} {s:?} is not a duration like 5m, 1h or 1d",
                    a.fname
                ),
            )
        }),
    }
}

/// `timeChart()` and `bucket()`.
fn series(c: &Call, name: &str, opts: PlanOptions) -> Result<Agg, ParseError> {
    let bucket = name == "bucket";
    let (series_param, positional) = if bucket {
        ("field", "span")
    } else {
        ("series", "series")
    };
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
        Some(positional),
    )?;
    let range = (opts.end - opts.start).max(1);
    let mut span = match span_arg(&a, "span", positional == "span")? {
        Some(s) => s,
        None => {
            let buckets = a.limit("buckets", false, if bucket { 100 } else { 250 }, 1500)? as i64;
            ((range + buckets - 1) / buckets).max(1000)
        }
    };
    if let Some(min) = span_arg(&a, "minSpan", false)? {
        // LogScale: minSpan is at most the search interval.
        span = span.max(min.min(range));
    }
    // LogScale: timezone= overrides the query's zone (the API's timeZone/timeZoneOffsetMinutes).
    let zone = zone(&a, "timezone", opts)?;
    // Stored buckets must nest in both the UTC grid the column kernels use and the zone's grid.
    let storage = zone.storage_span(opts.start, opts.end, span);
    if range / storage > 1_000_000 {
        return Err(err(
            c.pos,
            format!("{}(): span is too small for the time range", c.name),
        ));
    }
    let fields = if bucket {
        a.list(series_param, false)?.unwrap_or_default()
    } else {
        a.str(series_param, true)?.into_iter().collect()
    };
    let unit = match a.str("unit", false)? {
        None => None,
        Some(u) => Some(Unit::parse(&u).map_err(|m| {
            err(
                a.get("unit", false).map_or(c.pos, |x| x.pos),
                format!("{}(): {m}", c.name),
            )
        })?),
    };
    Ok(Agg::Series {
        span: storage,
        series: fields.first().cloned(),
        fields,
        functions: sub_aggs(&a, "function", false, opts)?,
        limit: a.limit("limit", false, 10, 500)?,
        limit_explicit: a.get("limit", false).is_some(),
        start: opts.start,
        end: opts.end,
        bucket_ms: span,
        zone,
        unit,
    })
}

fn top(c: &Call) -> Result<Agg, ParseError> {
    let a = Args::new(
        c,
        &[
            "field", "limit", "sum", "max", "as", "percent", "rest", "error",
        ],
        Some("field"),
    )?;
    let weight = match (a.str("sum", false)?, a.str("max", false)?) {
        (Some(_), Some(_)) => {
            return Err(err(c.pos, "top(): give sum= or max=, not both"));
        }
        (Some(f), None) => TopWeight::Sum(f),
        (None, Some(f)) => TopWeight::Max(f),
        (None, None) => TopWeight::Count,
    };
    let percent = a.bool("percent", false)?;
    if percent && matches!(weight, TopWeight::Max(_)) {
        return Err(err(
            c.pos,
            "top(): percent=true needs a count or sum=, not max=",
        ));
    }
    // `error=` is the threshold for LogScale's imprecision warning; this top() is exact, so the
    // threshold is checked but never reached.
    a.limit("error", false, 5, 100)?;
    let default_as = match weight {
        TopWeight::Count => "_count",
        TopWeight::Sum(_) => "_sum",
        TopWeight::Max(_) => "_max",
    };
    Ok(Agg::Top {
        fields: a
            .list("field", true)?
            .ok_or_else(|| err(c.pos, "top() needs the parameter field"))?,
        limit: a.limit("limit", false, 10, 20_000)?,
        weight,
        as_: a.str("as", false)?.unwrap_or_else(|| default_as.into()),
        percent,
        rest: a.str("rest", false)?,
    })
}

fn percentile(c: &Call) -> Result<Agg, ParseError> {
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
    let accuracy = match a.str("accuracy", false)? {
        None => 0.01,
        Some(s) => number(&s)
            .filter(|x| *x > 0.0 && *x < 1.0)
            .ok_or_else(|| {
                err(
                    a.get("accuracy", false).map_or(c.pos, |x| x.pos),
                    format!("percentile(): accuracy must be a number between 0 and 1 (exclusive), not {s:?}"),
                )
            })?,
    };
    Ok(Agg::Percentile {
        field: a.req("field", true)?,
        percentiles: ps,
        prefix: a.str("as", false)?.unwrap_or_default(),
        accuracy,
    })
}

fn rows(c: &Call, name: &str) -> Result<Agg, ParseError> {
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
    Ok(Agg::Rows {
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
    })
}

/// Compiles `c` when `name` (lower-cased) is an aggregate function; `None` for other names.
pub(super) fn compile(
    c: &Call,
    name: &str,
    opts: PlanOptions,
) -> Result<Option<Compiled>, ParseError> {
    let stat = |kind: StatKind, out: &str| -> Result<Agg, ParseError> {
        let a = Args::new(c, &["field", "as"], Some("field"))?;
        Ok(Agg::Stat {
            kind,
            field: a.req("field", true)?,
            as_: a.str("as", false)?.unwrap_or_else(|| out.into()),
        })
    };
    let agg = match name {
        "count" => {
            let a = Args::new(c, &["field", "distinct", "as"], Some("field"))?;
            Agg::Count {
                field: a.str("field", true)?,
                distinct: a.bool("distinct", false)?,
                as_: a.str("as", false)?.unwrap_or_else(|| "_count".into()),
            }
        }
        "sum" => stat(StatKind::Sum, "_sum")?,
        "avg" => stat(StatKind::Avg, "_avg")?,
        "min" => stat(StatKind::Min, "_min")?,
        "max" => stat(StatKind::Max, "_max")?,
        "stddev" => stat(StatKind::StdDev, "_stddev")?,
        "range" => stat(StatKind::Range, "_range")?,
        "percentile" => percentile(c)?,
        "stats" => {
            let a = Args::new(c, &["function"], Some("function"))?;
            Agg::Stats(sub_aggs(&a, "function", true, opts)?)
        }
        "groupby" => {
            let a = Args::new(c, &["field", "function", "limit"], Some("field"))?;
            Agg::GroupBy {
                fields: a
                    .list("field", true)?
                    .ok_or_else(|| err(c.pos, "groupBy() needs the parameter field"))?,
                functions: sub_aggs(&a, "function", false, opts)?,
                limit: a.limit("limit", false, GROUPBY_DEFAULT_LIMIT, GROUPBY_MAX_LIMIT)?,
            }
        }
        "top" => top(c)?,
        "timechart" | "bucket" => series(c, name, opts)?,
        "collect" => {
            let a = Args::new(
                c,
                &["fields", "limit", "separator", "multival"],
                Some("fields"),
            )?;
            Agg::Collect {
                fields: a
                    .list("fields", true)?
                    .ok_or_else(|| err(c.pos, "collect() needs the parameter fields"))?,
                limit: a.limit("limit", false, 2000, 100_000)?,
                separator: a.str("separator", false)?.unwrap_or_else(|| "\n".into()),
                multival: a.bool("multival", true)?,
            }
        }
        "selectlast" => {
            let a = Args::new(c, &["fields"], Some("fields"))?;
            Agg::SelectLast {
                fields: a
                    .list("fields", true)?
                    .ok_or_else(|| err(c.pos, "selectLast() needs the parameter fields"))?,
            }
        }
        "selectfrommax" | "selectfrommin" => {
            let a = Args::new(c, &["field", "include"], Some("field"))?;
            Agg::SelectExtreme {
                field: a.req("field", true)?,
                include: a.list("include", false)?.ok_or_else(|| {
                    err(c.pos, format!("{}() needs the parameter include", c.name))
                })?,
                max: name == "selectfrommax",
            }
        }
        "session" => {
            let a = Args::new(c, &["function", "maxpause"], Some("function"))?;
            Agg::Session {
                maxpause: span_arg(&a, "maxpause", false)?.unwrap_or(15 * 60_000),
                functions: sub_aggs(&a, "function", true, opts)?,
            }
        }
        "sankey" => {
            let a = Args::new(c, &["source", "target", "weight"], None)?;
            let source = a.req("source", false)?;
            let target = a.req("target", false)?;
            let weight = sub_aggs(&a, "weight", false, opts)?;
            // The weight's output field is named `weight`, as the Sankey widget expects.
            let out = match weight.as_slice() {
                [Agg::Count { as_, .. } | Agg::Stat { as_, .. }] => as_.clone(),
                _ => {
                    return Err(err(
                        c.pos,
                        "sankey(): weight must be one count(), sum(), avg(), min() or max()",
                    ))
                }
            };
            Agg::Renamed {
                inner: Box::new(Agg::GroupBy {
                    fields: vec![source.clone(), target.clone()],
                    functions: weight,
                    limit: GROUPBY_DEFAULT_LIMIT,
                }),
                renames: vec![
                    (source, "source".into()),
                    (target, "target".into()),
                    (out, "weight".into()),
                ],
            }
        }
        "worldmap" => {
            let a = Args::new(c, &["ip", "lat", "lon", "magnitude", "precision"], None)?;
            if a.get("ip", false).is_some() {
                return Err(err(
                    c.pos,
                    "worldMap(): ip= needs ipLocation(), which is not built yet; give lat= and lon=",
                ));
            }
            let precision = a.limit("precision", false, 4, 12)?;
            Agg::WorldMap {
                lat: a.req("lat", false)?,
                lon: a.req("lon", false)?,
                precision,
                functions: sub_aggs(&a, "magnitude", false, opts)?,
                limit: GROUPBY_DEFAULT_LIMIT,
            }
        }
        "head" | "tail" => {
            let a = Args::new(c, &["limit"], Some("limit"))?;
            Agg::Rows {
                order: if name == "head" {
                    RowOrder::Oldest
                } else {
                    RowOrder::Newest
                },
                limit: a.limit("limit", true, 200, MAX_ROW_LIMIT)?,
                select: None,
            }
        }
        "sort" | "table" => rows(c, name)?,
        "window" => {
            let a = Args::new(c, &["function", "buckets", "span"], Some("function"))?;
            let buckets = match a.get("buckets", false) {
                Some(_) => Some(a.limit("buckets", false, 1, MAX_BUCKETS as usize)?),
                None => None,
            };
            let span = span_arg(&a, "span", false)?;
            if buckets.is_some() == span.is_some() {
                return Err(err(
                    c.pos,
                    "window(): give exactly one of buckets= and span=",
                ));
            }
            Agg::Window {
                buckets,
                span,
                functions: sub_aggs(&a, "function", true, opts)?,
            }
        }
        "slidingwindow" | "slidingtimewindow" => sliding(c, name, opts)?,
        "fieldstats" => {
            let a = Args::new(c, &["limit"], None)?;
            Agg::FieldStats {
                limit: a.limit(
                    "limit",
                    false,
                    200,
                    crate::query::agg::FIELDSTATS_MAX_FIELDS,
                )?,
            }
        }
        _ => return Ok(None),
    };
    if !matches!(agg, Agg::Series { .. }) && agg.children().iter().any(is_window) {
        return Err(err(c.pos, WINDOW_ONLY_IN_SERIES));
    }
    if agg.children().iter().any(is_sliding) {
        return Err(err(c.pos, SLIDING_AFTER_AGGREGATE));
    }
    Ok(Some(Compiled::Agg(agg)))
}
