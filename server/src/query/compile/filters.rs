//! Functions that may stand inside a filter expression (`in()`, `test()`, `regex()`,
//! `wildcard()`, `cidr()`, `array:contains()`, `text:contains()`), compiled to filters so
//! they can join the leading filters that run on segment blocks.

use super::args::Args;
use super::{err, PlanOptions};
use crate::query::ast::{self, ArgValue, Call, Expr};
use crate::query::filter::CFilter;
use crate::query::filter_fns::{FnFilter, Net};
use crate::query::ops::array;
use crate::query::ParseError;

/// Filter functions usable inside a filter expression.
pub(super) fn filter_call(c: &Call, _opts: PlanOptions) -> Result<CFilter, ParseError> {
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
        // A regex in a filter expression (`f =~ regex("x") or ...`): matches, extracts named
        // groups, and never keeps a non-matching event (strict=false needs its own stage).
        "regex" => {
            let a = Args::new(c, &["regex", "field", "flags"], Some("regex"))?;
            let flags = a.str("flags", false)?.unwrap_or_else(|| "m".into());
            let arg = a
                .get("regex", true)
                .ok_or_else(|| err(c.pos, "regex() needs the parameter regex"))?;
            let re = match &arg.value {
                ArgValue::Regex(r) => ast::Regex {
                    pattern: r.pattern.clone(),
                    flags: format!("{}{flags}", r.flags),
                },
                ArgValue::Str(s) => ast::Regex {
                    pattern: s.clone(),
                    flags,
                },
                _ => return Err(err(arg.pos, "regex(): regex must be a regex")),
            };
            let field = a
                .str("field", false)?
                .unwrap_or_else(|| "@rawstring".into());
            CFilter::regex(&field, &re).map_err(|e| err(arg.pos, e.message))
        }
        "wildcard" => {
            let a = Args::new(
                c,
                &[
                    "pattern",
                    "field",
                    "ignoreCase",
                    "includeEverythingOnAsterisk",
                ],
                Some("pattern"),
            )?;
            let pattern = a.req("pattern", true)?;
            let ignore_case = a.bool("ignoreCase", false)?;
            let fields = a.list("field", false)?;
            if pattern == "*" && a.bool("includeEverythingOnAsterisk", false)? {
                return Ok(CFilter::True);
            }
            let (fields, pattern) = match fields {
                Some(f) => (f, pattern),
                // No field: anywhere in @rawstring.
                None => (vec!["@rawstring".into()], format!("*{pattern}*")),
            };
            Ok(CFilter::Func(FnFilter::Wildcard {
                fields,
                pattern: if ignore_case {
                    pattern.to_lowercase()
                } else {
                    pattern
                },
                ignore_case,
            }))
        }
        "cidr" => {
            let a = Args::new(c, &["field", "subnet", "negate"], Some("field"))?;
            let subnets = a
                .list("subnet", false)?
                .ok_or_else(|| err(c.pos, "cidr() needs the parameter subnet"))?;
            let nets = subnets
                .iter()
                .map(|s| {
                    Net::parse(s).ok_or_else(|| {
                        err(
                            a.get("subnet", false).map_or(c.pos, |x| x.pos),
                            format!("cidr(): {s:?} is not a subnet like 10.0.0.0/8"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(CFilter::Func(FnFilter::Cidr {
                field: a.req("field", true)?,
                nets,
                negate: a.bool("negate", false)?,
            }))
        }
        "array:contains" => {
            let a = Args::new(c, &["array", "value"], Some("array"))?;
            Ok(CFilter::Func(FnFilter::ArrayContains {
                array: array::base(&a.req("array", true)?).to_string(),
                value: a.req("value", false)?,
            }))
        }
        "text:contains" => {
            let a = Args::new(c, &["string", "substring"], Some("string"))?;
            let string = text_arg(&a, "string", true)?;
            let substring = text_arg(&a, "substring", false)?;
            Ok(CFilter::Test(Expr::Call(Call {
                name: "text:contains".into(),
                args: vec![expr_arg(string), expr_arg(substring)],
                pos: c.pos,
            })))
        }
        other => Err(err(
            c.pos,
            format!(
                "{other}() cannot be used inside a filter expression; put it in its own | stage"
            ),
        )),
    }
}

/// An argument of `text:contains` (the parser reads them as expressions: a bare word is a
/// field, a quoted string is text).
fn text_arg(a: &Args, name: &str, positional: bool) -> Result<Expr, ParseError> {
    a.expr(name, positional)
}

fn expr_arg(e: Expr) -> ast::Arg {
    ast::Arg {
        name: None,
        value: ArgValue::Expr(e),
        pos: 0,
    }
}
