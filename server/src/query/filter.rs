//! Compiled filters over one event ([`Source`]) or one row. Semantics, shared with the
//! column-wise evaluation in the search module: free text is an ASCII-case-insensitive
//! substring of `@rawstring`; `field=value` is exact and case-sensitive, with `*` globs and
//! `field=*` meaning present; `field!=value` also matches events without the field; `<`, `>`,
//! ... compare numerically and never match a missing or non-numeric value; regexes with named
//! groups set fields on the rows they match (in positive positions).

use std::cell::RefCell;

use memchr::memmem;

use super::ast::{CmpOp, Expr, Filter};
use super::row::{Row, Source};
use super::{compile_regex, expr, glob_match, number, ParseError};

#[allow(clippy::large_enum_variant)]
pub enum CFilter {
    True,
    And(Vec<CFilter>),
    Or(Vec<CFilter>),
    Not(Box<CFilter>),
    FreeText {
        text: String,
        finder: memmem::Finder<'static>,
    },
    Regex {
        field: String,
        re: regex::Regex,
        extracts: bool,
    },
    Compare {
        field: String,
        op: CmpOp,
        value: String,
        num: Option<f64>,
    },
    In {
        field: String,
        values: Vec<String>,
        ignore_case: bool,
    },
    Test(Expr),
    /// A filter function with its own matching rule (`wildcard`, `cidr`, `array:contains`).
    Func(super::filter_fns::FnFilter),
}

thread_local! {
    static LOWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// ASCII-case-insensitive substring test; `finder` holds the lowercased needle.
pub fn contains_ci(finder: &memmem::Finder<'_>, hay: &str) -> bool {
    if finder.needle().is_empty() {
        return true;
    }
    LOWER.with(|b| {
        let mut b = b.borrow_mut();
        b.clear();
        b.extend(hay.bytes().map(|c| c.to_ascii_lowercase()));
        finder.find(&b).is_some()
    })
}

impl CFilter {
    /// Compiles a parsed filter; filter functions (`in`, `test`, `regex`) are compiled by
    /// `call`, which the compiler passes in.
    pub fn new(
        f: &Filter,
        call: &dyn Fn(&super::ast::Call) -> Result<CFilter, ParseError>,
    ) -> Result<CFilter, ParseError> {
        Ok(match f {
            Filter::And(p) if p.is_empty() => CFilter::True,
            Filter::And(p) => CFilter::And(
                p.iter()
                    .map(|x| CFilter::new(x, call))
                    .collect::<Result<_, _>>()?,
            ),
            Filter::Or(p) => CFilter::Or(
                p.iter()
                    .map(|x| CFilter::new(x, call))
                    .collect::<Result<_, _>>()?,
            ),
            Filter::Not(x) => CFilter::Not(Box::new(CFilter::new(x, call)?)),
            Filter::FreeText(t) => CFilter::FreeText {
                text: t.clone(),
                finder: memmem::Finder::new(&t.to_ascii_lowercase()).into_owned(),
            },
            Filter::FreeRegex(re) => CFilter::regex("@rawstring", re)?,
            Filter::FieldRegex { field, re } => CFilter::regex(field, re)?,
            Filter::Compare { field, op, value } => CFilter::Compare {
                field: field.clone(),
                op: *op,
                value: value.clone(),
                num: number(value),
            },
            Filter::Call(c) => call(c)?,
        })
    }

    pub fn regex(field: &str, re: &super::ast::Regex) -> Result<CFilter, ParseError> {
        let r = compile_regex(re).map_err(|m| ParseError {
            position: 0,
            message: m,
        })?;
        Ok(CFilter::Regex {
            field: field.to_string(),
            extracts: r.capture_names().flatten().next().is_some(),
            re: r,
        })
    }

    /// Does the filter accept the event (no field extraction).
    pub fn matches(&self, src: &dyn Source) -> bool {
        match self {
            CFilter::True => true,
            CFilter::And(p) => p.iter().all(|f| f.matches(src)),
            CFilter::Or(p) => p.iter().any(|f| f.matches(src)),
            CFilter::Not(f) => !f.matches(src),
            CFilter::FreeText { finder, .. } => src
                .get("@rawstring")
                .is_some_and(|r| contains_ci(finder, &r)),
            CFilter::Regex { field, re, .. } => src.get(field).is_some_and(|v| re.is_match(&v)),
            CFilter::Compare {
                field,
                op,
                value,
                num,
            } => compare(src.get(field).as_deref(), *op, value, *num),
            CFilter::In {
                field,
                values,
                ignore_case,
            } => src.get(field).is_some_and(|v| {
                values.iter().any(|p| {
                    if *ignore_case {
                        glob_match(&p.to_lowercase(), &v.to_lowercase())
                    } else {
                        glob_match(p, &v)
                    }
                })
            }),
            CFilter::Test(e) => expr::eval(e, src).truthy(),
            CFilter::Func(f) => f.matches(src),
        }
    }

    /// Like [`matches`](Self::matches), and sets the named groups of matching regexes.
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            CFilter::And(p) => p.iter().all(|f| f.apply(row)),
            CFilter::Or(p) => p.iter().any(|f| f.apply(row)),
            CFilter::Regex {
                field,
                re,
                extracts: true,
            } => {
                let Some(v) = row.get_str(field).map(str::to_string) else {
                    return false;
                };
                let Some(caps) = re.captures(&v) else {
                    return false;
                };
                for name in re.capture_names().flatten() {
                    if let Some(m) = caps.name(name) {
                        row.set(name, m.as_str().to_string());
                    }
                }
                true
            }
            other => other.matches(&*row),
        }
    }

    /// False when the filter reads fields it cannot name up front (array elements), so it
    /// cannot be evaluated over a block's loaded columns.
    pub fn column_safe(&self) -> bool {
        match self {
            CFilter::And(p) | CFilter::Or(p) => p.iter().all(CFilter::column_safe),
            CFilter::Not(f) => f.column_safe(),
            CFilter::Func(f) => f.column_safe(),
            _ => true,
        }
    }

    /// True when the filter sets fields (so it must run on rows, not only on columns).
    pub fn extracts(&self) -> bool {
        match self {
            CFilter::And(p) | CFilter::Or(p) => p.iter().any(CFilter::extracts),
            CFilter::Regex { extracts, .. } => *extracts,
            _ => false,
        }
    }

    /// Field names the filter reads.
    pub fn fields(&self, out: &mut Vec<String>) {
        match self {
            CFilter::And(p) | CFilter::Or(p) => p.iter().for_each(|f| f.fields(out)),
            CFilter::Not(f) => f.fields(out),
            CFilter::FreeText { .. } => out.push("@rawstring".into()),
            CFilter::Regex { field, .. }
            | CFilter::Compare { field, .. }
            | CFilter::In { field, .. } => out.push(field.clone()),
            CFilter::Test(e) => expr_fields(e, out),
            CFilter::Func(f) => f.fields(out),
            CFilter::True => {}
        }
    }
}

/// Field names an expression reads.
pub fn expr_fields(e: &Expr, out: &mut Vec<String>) {
    match e {
        Expr::Field(f) => out.push(f.clone()),
        Expr::Neg(x) | Expr::Not(x) => expr_fields(x, out),
        Expr::Bin(_, a, b) => {
            expr_fields(a, out);
            expr_fields(b, out);
        }
        Expr::Call(c) => {
            for a in &c.args {
                match &a.value {
                    super::ast::ArgValue::Expr(x) => expr_fields(x, out),
                    super::ast::ArgValue::List(items) => {
                        for i in items {
                            if let super::ast::ArgValue::Expr(x) = i {
                                expr_fields(x, out);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Expr::Num(_) | Expr::Str(_) => {}
    }
}

/// `value <op> pattern` for one (possibly missing) field value.
pub fn compare(v: Option<&str>, op: CmpOp, pattern: &str, num: Option<f64>) -> bool {
    match op {
        CmpOp::Eq => v.is_some_and(|v| glob_match(pattern, v)),
        CmpOp::Ne => !v.is_some_and(|v| glob_match(pattern, v)),
        _ => {
            let (Some(x), Some(y)) = (v.and_then(number), num) else {
                return false;
            };
            match op {
                CmpOp::Lt => x < y,
                CmpOp::Le => x <= y,
                CmpOp::Gt => x > y,
                _ => x >= y,
            }
        }
    }
}
