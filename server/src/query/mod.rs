//! The LogScale query language: parser ([`parse`]), syntax tree ([`ast`]), compiler
//! ([`compile()`]: tree → [`Plan`]) and the operators a plan runs (row functions, filters,
//! mergeable aggregates). The search module drives a plan over segments and work in progress;
//! everything here is independent of storage, so the same plan runs per block, per thread and
//! (later) per node, with partial aggregate states merged at the end.

pub mod agg;
pub mod ast;
mod compile;
pub mod expr;
pub mod filter;
pub mod filter_fns;
pub mod lookup;
pub mod ops;
mod parser;
pub mod reltime;
pub mod row;

use std::borrow::Cow;

pub use agg::{Agg, State};
pub use ast::Query;
pub use compile::{compile, compile_with, parse_span, unit_ms, Plan, PlanOptions};
pub use filter::CFilter;
pub use ops::Op;
pub use ops::Zone;
pub use parser::{parse, parse_with};
pub use row::{Row, Source};

/// A parse (or compile) error at a byte position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

/// Matches `value` against a glob `pattern` where `*` matches any run of characters.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == value;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// A field value read as a number (LogScale recognises numbers at query time).
#[inline]
pub fn number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let b = t.as_bytes()[0];
    if !(b.is_ascii_digit() || b == b'-' || b == b'+' || b == b'.') {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Formats a number the way results show it: integers without a decimal point.
pub fn fmt_num(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else if n.is_finite() {
        // Enough digits to be exact, without float noise like 0.30000000000000004.
        let s = format!("{:.12}", n);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        n.to_string()
    }
}

/// The regex flags LogScale defines: `i` case-insensitive, `m` multi-line (`^`/`$` at line
/// ends), `d` dot matches newline, `g` every match (for `regex()`, one event per match), `F`
/// LogScale's second regex engine (the same matches here, so accepted as is).
/// <https://library.humio.com/data-analysis/syntax-regex-flags.html>
pub const REGEX_FLAGS: &str = "dgimF";

/// Compiles a query regex, applying its flags. `\d`, `\w` and `\s` are ASCII-only, as in
/// LogScale's engine (`\d` is `[0-9]`:
/// <https://library.humio.com/data-analysis/syntax-regex-syntax.html>).
pub fn compile_regex(re: &ast::Regex) -> Result<regex::Regex, String> {
    if let Some(bad) = re.flags.chars().find(|c| !REGEX_FLAGS.contains(*c)) {
        return Err(format!(
            "unknown regex flag {bad:?}: expected d, g, i, m or F"
        ));
    }
    let mut b = regex::RegexBuilder::new(&ascii_classes(&re.pattern));
    b.case_insensitive(re.flags.contains('i'))
        .multi_line(re.flags.contains('m'))
        .dot_matches_new_line(re.flags.contains('d'))
        .size_limit(1 << 22);
    b.build().map_err(|e| {
        format!(
            "invalid regex /{}/: {}",
            re.pattern,
            first_line(&e.to_string())
        )
    })
}

/// Rewrites `\d \D \w \W \s \S` as their ASCII classes (the regex crate's are Unicode).
fn ascii_classes(p: &str) -> Cow<'_, str> {
    if !p.contains('\\') {
        return Cow::Borrowed(p);
    }
    let mut out = String::with_capacity(p.len() + 16);
    let mut chars = p.chars().peekable();
    let mut in_class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let rep = match (e, in_class) {
                    ('d', false) => Some("[0-9]"),
                    ('D', false) => Some("[^0-9]"),
                    ('w', false) => Some("[0-9A-Za-z_]"),
                    ('W', false) => Some("[^0-9A-Za-z_]"),
                    ('s', false) => Some("[\\t\\n\\x0B\\x0C\\r ]"),
                    ('S', false) => Some("[^\\t\\n\\x0B\\x0C\\r ]"),
                    ('d', true) => Some("0-9"),
                    ('D', true) => Some("[:^digit:]"),
                    ('w', true) => Some("0-9A-Za-z_"),
                    ('W', true) => Some("[:^word:]"),
                    ('s', true) => Some("\\t\\n\\x0B\\x0C\\r "),
                    ('S', true) => Some("[:^space:]"),
                    _ => None,
                };
                match rep {
                    Some(r) => out.push_str(r),
                    None => {
                        out.push('\\');
                        out.push(e);
                    }
                }
                class_start = false;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                class_start = true;
                out.push(c);
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                continue;
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // A POSIX class inside a bracket: copy through its `:]`.
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            ']' if in_class && !class_start => {
                in_class = false;
                out.push(c);
            }
            c => out.push(c),
        }
        class_start = false;
    }
    Cow::Owned(out)
}

fn first_line(s: &str) -> Cow<'_, str> {
    // regex errors are multi-line pictures; keep the last line, which says what is wrong.
    match s.lines().rfind(|l| !l.trim().is_empty()) {
        Some(l) => Cow::Owned(l.trim().to_string()),
        None => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("web-*", "web-01"));
        assert!(glob_match("*err*", "an error"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXcYYb"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("exact", "exact"));
    }

    #[test]
    fn regex_classes_are_ascii() {
        let re = |p: &str| {
            compile_regex(&ast::Regex {
                pattern: p.into(),
                flags: String::new(),
            })
            .unwrap()
        };
        assert!(re(r"^\d+$").is_match("123"));
        assert!(!re(r"^\d$").is_match("\u{0663}"));
        assert!(!re(r"^\w$").is_match("é"));
        assert!(re(r"^[\w.]+$").is_match("a_b.c"));
        assert!(re(r"^[^\d]$").is_match("x"));
        assert!(re(r"^[[:alpha:]\d]+$").is_match("a1"));
        assert!(re(r"^\S\s\W$").is_match("a -"));
        assert!(compile_regex(&ast::Regex {
            pattern: "x".into(),
            flags: "s".into()
        })
        .is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(number(" 12 "), Some(12.0));
        assert_eq!(number("-1.5e3"), Some(-1500.0));
        assert_eq!(number("abc"), None);
        assert_eq!(number("inf"), None);
        assert_eq!(number("NaN"), None);
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(-7.0), "-7");
    }
}
