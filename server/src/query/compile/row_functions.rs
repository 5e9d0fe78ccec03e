//! Row functions (`select`, `rename`, `eval`, `regex`, `parseJson`, `kvParse`, `replace`,
//! `format`, `formatTime`, `parseTimestamp`, `lowercase`, `splitString`, `round`, `if`, ...):
//! their parameters and defaults, which LogScale fixes (`as=_length`, `field=@rawstring`).

use super::args::{zone, Args};
use super::filters::filter_call;
use super::{err, Compiled, PlanOptions};
use crate::query::ast::{ArgValue, Call};
use crate::query::expr;
use crate::query::ops::{Case, Expand, Op, RoundHow, RowFn};
use crate::query::ParseError;

/// Compiles `c` when `name` (lower-cased) is a row function; `None` for other names.
pub(super) fn compile(
    c: &Call,
    name: &str,
    opts: PlanOptions,
) -> Result<Option<Compiled>, ParseError> {
    let op = |f: RowFn| Ok(Compiled::Op(Op::Fn(f)));
    let compiled = match name {
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
        "in" | "test" | "wildcard" | "cidr" | "array:contains" | "text:contains" => {
            Ok(Compiled::Op(Op::Filter(filter_call(c, opts)?)))
        }
        "regex" => {
            let a = Args::new(
                c,
                &["regex", "field", "strict", "flags", "repeat", "limit"],
                Some("regex"),
            )?;
            // LogScale's regex() has the m flag on unless flags= says otherwise.
            let flags = a.str("flags", false)?.unwrap_or_else(|| "m".into());
            let re = a.regex("regex", true, &flags)?;
            let field = a
                .str("field", false)?
                .unwrap_or_else(|| "@rawstring".into());
            let strict = a.bool("strict", true)?;
            if a.bool("repeat", false)? || flags.contains('g') {
                let explicit = a.get("limit", false).is_some();
                let limit = a.limit("limit", false, 100, super::MAX_ROW_LIMIT)?;
                Ok(Compiled::Op(Op::Expand(Expand::regex(
                    re, field, strict, limit, !explicit,
                ))))
            } else {
                if a.get("limit", false).is_some() {
                    return Err(err(
                        a.get("limit", false).map_or(c.pos, |x| x.pos),
                        "regex(): limit only applies with repeat=true",
                    ));
                }
                Ok(Compiled::Op(Op::Fn(RowFn::Regex { re, field, strict })))
            }
        }
        "split" => {
            let a = Args::new(c, &["field", "strip"], Some("field"))?;
            Ok(Compiled::Op(Op::Expand(Expand::split(
                a.str("field", true)?.unwrap_or_else(|| "_events".into()),
                a.bool("strip", false)?,
            ))))
        }
        "parsejson" => {
            let a = Args::new(
                c,
                &[
                    "field",
                    "prefix",
                    "as",
                    "include",
                    "exclude",
                    "excludeEmpty",
                ],
                Some("field"),
            )?;
            op(RowFn::ParseJson {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
                prefix: a
                    .str("prefix", false)?
                    .or(a.str("as", false)?)
                    .unwrap_or_default(),
                include: a.list("include", false)?.unwrap_or_default(),
                exclude: a.list("exclude", false)?.unwrap_or_default(),
                exclude_empty: a.bool("excludeEmpty", false)?,
            })
        }
        "kvparse" => {
            let a = Args::new(
                c,
                &["field", "as", "override", "excludeEmpty"],
                Some("field"),
            )?;
            op(RowFn::KvParse {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
                prefix: a.str("as", false)?.unwrap_or_default(),
                override_: a.bool("override", false)?,
                exclude_empty: a.bool("excludeEmpty", false)?,
            })
        }
        "replace" => {
            let a = Args::new(
                c,
                &["regex", "with", "field", "as", "flags", "replacement"],
                Some("regex"),
            )?;
            let flags = a.str("flags", false)?.unwrap_or_else(|| "m".into());
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
            let a = Args::new(c, &["format", "field", "as"], Some("format"))?;
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
            let unit_ms = match unit.to_ascii_lowercase().as_str() {
                "milliseconds" | "ms" | "millis" => true,
                "seconds" | "s" => false,
                _ => {
                    return Err(err(
                        a.get("unit", false).map_or(c.pos, |x| x.pos),
                        format!("formatTime(): unit must be milliseconds or seconds, not {unit:?}"),
                    ))
                }
            };
            english_only(&a, "locale")?;
            op(RowFn::FormatTime {
                format: a.req("format", true)?,
                field: a
                    .str("field", false)?
                    .unwrap_or_else(|| "@timestamp".into()),
                as_: a.str("as", false)?.unwrap_or_else(|| "_time".into()),
                zone: zone(&a, "timezone", opts)?,
                unit_ms,
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
                zone: zone(&a, "timezone", opts)?,
                zone_as: a.str("timezoneAs", false)?,
                add_errors: a.bool("addErrors", true)?,
            })
        }
        "lowercase" | "uppercase" | "lower" | "upper" => {
            let a = Args::new(c, &["field", "include", "locale", "as"], Some("field"))?;
            // include=: which part changes (LogScale: values, fieldnames or both).
            let (values, names) = match a.str("include", false)?.as_deref() {
                None | Some("values") => (true, false),
                Some("fieldnames") => (false, true),
                Some("both") => (true, true),
                Some(other) => {
                    return Err(err(
                        a.get("include", false).map_or(c.pos, |x| x.pos),
                        format!(
                            "{}(): include must be values, fieldnames or both, not {other:?}",
                            c.name
                        ),
                    ))
                }
            };
            locale_ok(&a)?;
            op(RowFn::ChangeCase {
                values,
                names,
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
                Some(s) => Some(s.parse::<i64>().map_err(|_| {
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
            let a = Args::new(c, &["field", "value", "replaceEmpty"], Some("field"))?;
            op(RowFn::Default {
                fields: a
                    .list("field", true)?
                    .ok_or_else(|| err(c.pos, "default() needs the parameter field"))?,
                value: a.req("value", false)?,
                replace_empty: a.bool("replaceEmpty", false)?,
            })
        }
        _ => return Ok(None),
    };
    compiled.map(Some)
}

/// Month and day names are English here: another `locale=` is refused, not ignored.
fn english_only(a: &Args, name: &str) -> Result<(), ParseError> {
    match a.str(name, false)? {
        Some(l)
            if !(l.eq_ignore_ascii_case("en")
                || l.to_ascii_lowercase().starts_with("en_")
                || l.to_ascii_lowercase().starts_with("en-")) =>
        {
            Err(err(
                a.get(name, false).map_or(a.call.pos, |x| x.pos),
                format!(
                    "{}: only English locales (en, en_US, ...) are supported, not {l:?}",
                    a.fname
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// Case mapping is the same in every locale except Turkish, Azeri and Lithuanian (dotted and
/// dotless i), which are refused rather than mapped wrongly.
fn locale_ok(a: &Args) -> Result<(), ParseError> {
    match a.str("locale", false)? {
        Some(l)
            if ["tr", "az", "lt"].iter().any(|p| {
                let l = l.to_ascii_lowercase();
                l == *p || l.starts_with(&format!("{p}_")) || l.starts_with(&format!("{p}-"))
            }) =>
        {
            Err(err(
                a.get("locale", false).map_or(a.call.pos, |x| x.pos),
                format!(
                    "{}: locale {l:?} has its own case rules, which are not supported",
                    a.fname
                ),
            ))
        }
        _ => Ok(()),
    }
}
