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

/// How many exact values of one field an OR needs before they become one set lookup.
pub const ONE_OF_MIN: usize = 4;

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
    /// `field=a or field=b or …` (exact values, no globs) as one set lookup: what an OR of many
    /// values compiles to — e.g. the shared search of many filter alerts — so each event costs
    /// one hash lookup, not one comparison per value.
    OneOf {
        field: String,
        values: rustc_hash::FxHashSet<String>,
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
            Filter::Or(p) => CFilter::any_of(
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

    /// The OR of `parts`, with at least [`ONE_OF_MIN`] exact `field=value` tests of one field
    /// folded into a [`CFilter::OneOf`] at the place of the first. Not when a part sets fields:
    /// which branch matches first decides what a regex extracts, and folding reorders.
    fn any_of(parts: Vec<CFilter>) -> CFilter {
        fn exact(f: &CFilter) -> Option<(&str, &str)> {
            match f {
                CFilter::Compare {
                    field,
                    op: CmpOp::Eq,
                    value,
                    ..
                } if !value.contains('*') => Some((field, value)),
                _ => None,
            }
        }
        if parts.iter().any(CFilter::extracts) {
            return CFilter::Or(parts);
        }
        let mut per_field: std::collections::HashMap<&str, usize> = Default::default();
        for (f, _) in parts.iter().filter_map(exact) {
            *per_field.entry(f).or_default() += 1;
        }
        let folded: Vec<String> = per_field
            .into_iter()
            .filter(|(_, n)| *n >= ONE_OF_MIN)
            .map(|(f, _)| f.to_string())
            .collect();
        if folded.is_empty() {
            return CFilter::Or(parts);
        }
        let mut out: Vec<CFilter> = Vec::new();
        let mut slot: std::collections::HashMap<String, usize> = Default::default();
        for p in parts {
            match exact(&p) {
                Some((f, v)) if folded.iter().any(|x| x == f) => {
                    let at = *slot.entry(f.to_string()).or_insert_with(|| {
                        out.push(CFilter::OneOf {
                            field: f.to_string(),
                            values: Default::default(),
                        });
                        out.len() - 1
                    });
                    if let CFilter::OneOf { values, .. } = &mut out[at] {
                        values.insert(v.to_string());
                    }
                }
                _ => out.push(p),
            }
        }
        if out.len() == 1 {
            return out.remove(0);
        }
        CFilter::Or(out)
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
            CFilter::OneOf { field, values } => {
                src.get(field).is_some_and(|v| values.contains(v.as_ref()))
            }
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
            | CFilter::In { field, .. }
            | CFilter::OneOf { field, .. } => out.push(field.clone()),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::query::{compile, parse, PlanOptions, Zone};

    /// The leading filter `q` compiles to.
    pub(crate) fn leading(q: &str) -> CFilter {
        let opts = PlanOptions {
            start: 0,
            end: i64::MAX,
            default_limit: 200,
            zone: Zone::UTC,
        };
        compile(&parse(q).expect("parses"), opts)
            .expect("compiles")
            .leading
    }

    fn row(fields: &[(&str, &str)]) -> Row {
        let mut r = Row::default();
        for (k, v) in fields {
            r.set(k, v.to_string());
        }
        r
    }

    fn one_ofs(f: &CFilter) -> usize {
        match f {
            CFilter::OneOf { .. } => 1,
            CFilter::And(p) | CFilter::Or(p) => p.iter().map(one_ofs).sum(),
            CFilter::Not(f) => one_ofs(f),
            _ => 0,
        }
    }

    #[test]
    fn many_exact_values_of_a_field_become_one_set_and_match_the_same_events() {
        let q = "user=a or user=b or host=h or user=c or user=d or user=e* or user=\"\"";
        let f = leading(q);
        assert_eq!(one_ofs(&f), 1, "the four exact user values fold");
        // The same OR with too few values of any one field stays as it is.
        assert_eq!(one_ofs(&leading("user=a or user=b or host=h")), 0);
        // A part that extracts keeps the OR unfolded (branch order decides what it sets).
        assert_eq!(
            one_ofs(&leading(
                "user=a or user=b or user=c or user=d or /(?<x>zz)/"
            )),
            0
        );
        let rows = [
            row(&[("user", "a")]),
            row(&[("user", "d")]),
            row(&[("user", "ex")]),
            row(&[("user", "")]),
            row(&[("user", "A")]),
            row(&[("user", "ab")]),
            row(&[("host", "h")]),
            row(&[("host", "a")]),
            row(&[]),
        ];
        let want = [true, true, true, true, false, false, true, false, false];
        for (r, w) in rows.iter().zip(want) {
            assert_eq!(f.matches(r), w, "{r:?}");
        }
    }
}
