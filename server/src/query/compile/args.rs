//! Argument checking shared by every function compiler: names against the function's
//! parameters, positional arguments, and typed reads (values, lists, booleans, limits, regexes,
//! expressions, zones, durations), each failing with an error that points at the argument.

use super::err;
use crate::query::ast::{self, ArgValue, Call, Expr};
use crate::query::ops;
use crate::query::{compile_regex, expr, number, ParseError};

/// Argument access for one call, checking names against the function's parameters.
pub(super) struct Args<'a> {
    pub(super) call: &'a Call,
    pub(super) fname: String,
}

impl<'a> Args<'a> {
    /// `params`: accepted names; `positional`: the parameter an unnamed argument sets.
    pub(super) fn new(
        call: &'a Call,
        params: &[&str],
        positional: Option<&str>,
    ) -> Result<Self, ParseError> {
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

    pub(super) fn get(&self, name: &str, positional: bool) -> Option<&'a ast::Arg> {
        self.call.args.iter().find(|a| match &a.name {
            Some(n) => n.eq_ignore_ascii_case(name),
            None => positional,
        })
    }

    pub(super) fn str(&self, name: &str, positional: bool) -> Result<Option<String>, ParseError> {
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

    pub(super) fn req(&self, name: &str, positional: bool) -> Result<String, ParseError> {
        self.str(name, positional)?.ok_or_else(|| {
            err(
                self.call.pos,
                format!("{} needs the parameter {name}", self.fname),
            )
        })
    }

    pub(super) fn list(
        &self,
        name: &str,
        positional: bool,
    ) -> Result<Option<Vec<String>>, ParseError> {
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

    pub(super) fn bool(&self, name: &str, default: bool) -> Result<bool, ParseError> {
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

    pub(super) fn limit(
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

    pub(super) fn regex(
        &self,
        name: &str,
        positional: bool,
        flags: &str,
    ) -> Result<regex::Regex, ParseError> {
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

    pub(super) fn expr(&self, name: &str, positional: bool) -> Result<Expr, ParseError> {
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

/// The zone a `timezone=`-style parameter names, else the query's zone.
pub(super) fn zone(
    a: &Args,
    name: &str,
    opts: super::PlanOptions,
) -> Result<ops::Zone, ParseError> {
    let Some(z) = a.str(name, false)? else {
        return Ok(opts.zone);
    };
    ops::Zone::parse(&z).ok_or_else(|| {
        err(
            a.get(name, false).map_or(a.call.pos, |x| x.pos),
            format!(
                "{}: unknown time zone {z:?} (use an IANA name like Europe/Berlin, UTC, or an offset like +02:00)",
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

/// Milliseconds in one of a duration unit (`ms`, `s`, `m`, `h`, `d`, `w`, `mon`, `q`, `y` and
/// their long forms), shared by spans and relative query times. Months, quarters and years
/// are fixed lengths here (30, 91 and 365 days); `query::reltime` counts them on the calendar.
pub fn unit_ms(unit: &str) -> Option<i64> {
    Some(match unit {
        "ms" | "msec" | "millis" | "millisecond" | "milliseconds" => 1,
        "mon" | "month" | "months" => 30 * 86_400_000,
        "q" | "qtr" | "qtrs" | "quarter" | "quarters" => 91 * 86_400_000,
        "s" | "sec" | "secs" | "second" | "seconds" => 1000,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000,
        "d" | "day" | "days" => 86_400_000,
        "w" | "week" | "weeks" => 7 * 86_400_000,
        "y" | "yr" | "yrs" | "year" | "years" => 365 * 86_400_000,
        _ => return None,
    })
}
