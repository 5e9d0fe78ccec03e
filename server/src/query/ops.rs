//! Streaming operators: each takes one row and keeps (possibly changed) or drops it. Filters,
//! assignments, `case`, `match`, and LogScale's row functions (`regex`, `parseJson`, `kvParse`,
//! `replace`, `format`, `formatTime`, `parseTimestamp`, `lowercase`, `length`,
//! `splitString`, `concat`, `round`, `if`, `in`, `rename`, `drop`, `select`, `eval`).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};

use super::agg::Agg;
use super::ast::Expr;
use super::expr;
use super::filter::CFilter;
use super::row::Row;
use super::{fmt_num, glob_match, number};

/// One pipeline operator.
pub enum Op {
    Filter(CFilter),
    Eval(Vec<(String, Expr)>),
    Fn(RowFn),
    /// Branches: (leading filters, rest).
    Case(Vec<(Vec<Op>, Vec<Op>)>),
    Match {
        field: String,
        arms: Vec<(MatchPat, Vec<Op>)>,
    },
    Agg(Agg),
}

pub enum MatchPat {
    Glob(String),
    Regex(regex::Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    Lower,
    Upper,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundHow {
    Round,
    Floor,
    Ceil,
}

/// A time zone for formatTime/parseTimestamp: UTC or a fixed offset.
pub type Zone = FixedOffset;

pub enum RowFn {
    Regex {
        re: regex::Regex,
        field: String,
        strict: bool,
        repeat: bool,
    },
    ParseJson {
        field: String,
        prefix: String,
    },
    KvParse {
        field: String,
    },
    Replace {
        re: regex::Regex,
        with: String,
        field: String,
        as_: String,
    },
    Format {
        format: String,
        fields: Vec<String>,
        as_: String,
    },
    FormatTime {
        format: String,
        field: String,
        as_: String,
        zone: Zone,
        unit_ms: bool,
    },
    ParseTimestamp {
        format: String,
        field: String,
        as_: String,
        zone: Zone,
    },
    ChangeCase {
        fields: Vec<String>,
        case: Case,
        as_: Option<String>,
    },
    Length {
        field: String,
        as_: String,
    },
    SplitString {
        field: String,
        by: String,
        as_: String,
        index: Option<usize>,
    },
    Concat {
        fields: Vec<String>,
        as_: String,
    },
    Round {
        field: String,
        as_: String,
        how: RoundHow,
    },
    If {
        cond: Expr,
        then: Expr,
        else_: Expr,
        as_: String,
    },
    Rename(Vec<(String, String)>),
    Drop(Vec<String>),
    Select(Vec<String>),
    Default {
        fields: Vec<String>,
        value: String,
    },
}

impl Op {
    /// Applies the operator; false drops the row. Aggregates never reach here.
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            Op::Filter(f) => f.apply(row),
            Op::Eval(assigns) => {
                for (field, e) in assigns {
                    match expr::eval(e, row).into_field() {
                        Some(v) => row.set(field, v),
                        None => {
                            row.remove(field);
                        }
                    }
                }
                true
            }
            Op::Fn(f) => f.apply(row),
            Op::Case(branches) => {
                for (cond, body) in branches {
                    let mut r = row.clone();
                    if cond.iter().all(|op| op.apply(&mut r)) {
                        let ok = body.iter().all(|op| op.apply(&mut r));
                        *row = r;
                        return ok;
                    }
                }
                false
            }
            Op::Match { field, arms } => {
                let v = row.get_str(field).map(str::to_string);
                for (pat, body) in arms {
                    let hit = match (pat, &v) {
                        (MatchPat::Glob(g), _) if g == "*" => true,
                        (MatchPat::Glob(g), Some(v)) => glob_match(g, v),
                        (MatchPat::Regex(re), Some(v)) => re.is_match(v),
                        _ => false,
                    };
                    if hit {
                        return body.iter().all(|op| op.apply(row));
                    }
                }
                false
            }
            Op::Agg(_) => true,
        }
    }
}

fn src<'a>(row: &'a Row, field: &str) -> Option<&'a str> {
    row.get_str(field)
}

impl RowFn {
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            RowFn::Regex {
                re,
                field,
                strict,
                repeat,
            } => {
                let Some(v) = src(row, field).map(str::to_string) else {
                    return !strict;
                };
                let mut any = false;
                for (index, caps) in re.captures_iter(&v).enumerate() {
                    any = true;
                    for name in re.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            let n = if *repeat {
                                format!("{name}[{index}]")
                            } else {
                                name.to_string()
                            };
                            row.set(&n, m.as_str().to_string());
                        }
                    }
                    if !repeat {
                        break;
                    }
                }
                any || !strict
            }
            RowFn::ParseJson { field, prefix } => {
                if let Some(v) = src(row, field) {
                    if let Ok(j) = serde_json::from_str::<serde_json::Value>(v.trim()) {
                        let mut out = BTreeMap::new();
                        crate::text::flatten_json(prefix, &j, &mut out);
                        for (k, v) in out {
                            row.set(&k, v);
                        }
                    }
                }
                true
            }
            RowFn::KvParse { field } => {
                if let Some(v) = src(row, field) {
                    // `#name` keys are tags at ingest, so kvParse() leaves them out too.
                    for (k, v) in crate::text::parse_kv(v) {
                        if !k.starts_with('#') {
                            row.set(&k, v);
                        }
                    }
                }
                true
            }
            RowFn::Replace {
                re,
                with,
                field,
                as_,
            } => {
                if let Some(v) = src(row, field) {
                    let out = re.replace_all(v, with.as_str()).into_owned();
                    row.set(as_, out);
                }
                true
            }
            RowFn::Format {
                format,
                fields,
                as_,
            } => {
                let vals: Vec<Option<String>> = fields
                    .iter()
                    .map(|f| src(row, f).map(str::to_string))
                    .collect();
                row.set(as_, printf(format, &vals));
                true
            }
            RowFn::FormatTime {
                format,
                field,
                as_,
                zone,
                unit_ms,
            } => {
                if let Some(ms) = src(row, field).and_then(number) {
                    let ms = if *unit_ms { ms } else { ms * 1000.0 };
                    if let Some(t) = Utc.timestamp_millis_opt(ms as i64).single() {
                        let t = t.with_timezone(zone);
                        let mut s = String::new();
                        use std::fmt::Write;
                        if write!(s, "{}", t.format(format)).is_ok() {
                            row.set(as_, s);
                        }
                    }
                }
                true
            }
            RowFn::ParseTimestamp {
                format,
                field,
                as_,
                zone,
            } => {
                let Some(v) = src(row, field).map(str::to_string) else {
                    return true;
                };
                match parse_time(format, &v, zone) {
                    Some(ms) => row.set(as_, ms.to_string()),
                    None => row.set("@error", "true".into()),
                }
                true
            }
            RowFn::ChangeCase { fields, case, as_ } => {
                let names: Vec<String> = if fields.iter().any(|f| f == "*") {
                    row.fields
                        .iter()
                        .map(|(n, _)| n.clone())
                        .filter(|n| !n.starts_with('@') && !n.starts_with('#'))
                        .collect()
                } else {
                    fields.clone()
                };
                for f in names {
                    if let Some(v) = src(row, &f) {
                        let out = match case {
                            Case::Lower => v.to_lowercase(),
                            Case::Upper => v.to_uppercase(),
                        };
                        row.set(as_.as_deref().unwrap_or(&f), out);
                    }
                }
                true
            }
            RowFn::Length { field, as_ } => {
                if let Some(v) = src(row, field) {
                    let n = v.chars().count();
                    row.set(as_, n.to_string());
                }
                true
            }
            RowFn::SplitString {
                field,
                by,
                as_,
                index,
            } => {
                if let Some(v) = src(row, field).map(str::to_string) {
                    let parts: Vec<&str> = v.split(by.as_str()).collect();
                    match index {
                        Some(i) => {
                            if let Some(p) = parts.get(*i) {
                                row.set(as_, p.to_string());
                            }
                        }
                        None => {
                            for (i, p) in parts.iter().enumerate() {
                                row.set(&format!("{as_}[{i}]"), p.to_string());
                            }
                        }
                    }
                }
                true
            }
            RowFn::Concat { fields, as_ } => {
                let s: String = fields.iter().filter_map(|f| src(row, f)).collect();
                row.set(as_, s);
                true
            }
            RowFn::Round { field, as_, how } => {
                if let Some(x) = src(row, field).and_then(number) {
                    let r = match how {
                        RoundHow::Round => x.round(),
                        RoundHow::Floor => x.floor(),
                        RoundHow::Ceil => x.ceil(),
                    };
                    row.set(as_, fmt_num(r));
                }
                true
            }
            RowFn::If {
                cond,
                then,
                else_,
                as_,
            } => {
                let v = if expr::eval(cond, row).truthy() {
                    expr::eval(then, row)
                } else {
                    expr::eval(else_, row)
                };
                match v.into_field() {
                    Some(v) => row.set(as_, v),
                    None => {
                        row.remove(as_);
                    }
                }
                true
            }
            RowFn::Rename(pairs) => {
                for (from, to) in pairs {
                    if let Some(v) = row.remove(from) {
                        row.set(to, v);
                    }
                }
                true
            }
            RowFn::Drop(fields) => {
                for f in fields {
                    row.remove(f);
                }
                true
            }
            RowFn::Select(fields) => {
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    if let Some(v) = row.get_str(f) {
                        out.push((f.clone(), v.to_string()));
                    }
                }
                row.fields = out;
                true
            }
            RowFn::Default { fields, value } => {
                for f in fields {
                    if row.get_str(f).is_none_or(str::is_empty) {
                        row.set(f, value.clone());
                    }
                }
                true
            }
        }
    }
}

/// printf-style formatting: `%s`, `%d`/`%i`, `%f` and `%.Nf`, `%x`/`%X`, `%%`. A missing
/// value prints as empty; a non-number under a numeric conversion prints as given.
pub fn printf(format: &str, vals: &[Option<String>]) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut next = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = it.peek() {
            if d.is_ascii_digit() || d == '.' || d == '-' || d == ',' {
                spec.push(d);
                it.next();
            } else {
                break;
            }
        }
        let Some(conv) = it.next() else {
            out.push('%');
            out.push_str(&spec);
            break;
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        let v = vals.get(next).cloned().flatten().unwrap_or_default();
        next += 1;
        let n = number(&v);
        match (conv, n) {
            ('d' | 'i', Some(x)) => out.push_str(&format!("{}", x.trunc() as i64)),
            ('f', Some(x)) => {
                let prec = spec
                    .split('.')
                    .nth(1)
                    .and_then(|p| p.parse::<usize>().ok())
                    .unwrap_or(6);
                out.push_str(&format!("{x:.prec$}"));
            }
            ('x', Some(x)) => out.push_str(&format!("{:x}", x as i64)),
            ('X', Some(x)) => out.push_str(&format!("{:X}", x as i64)),
            _ => out.push_str(&v),
        }
    }
    out
}

/// Parses a zone: `UTC`, `Z`, or a fixed offset like `+02:00` / `-0530`.
pub fn parse_zone(s: &str) -> Option<Zone> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
        return FixedOffset::east_opt(0);
    }
    let sign = match t.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = t[1..].chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 4 && digits.len() != 2 {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// Translates a Java `DateTimeFormatter` pattern (as LogScale uses) into a strftime one. A
/// pattern already containing `%` is taken as strftime.
pub fn java_to_strftime(p: &str) -> String {
    if p.contains('%') {
        return p.to_string();
    }
    let mut out = String::new();
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let t = match (c, n) {
            ('y', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', _) => "%3f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('X' | 'Z' | 'x', 1 | 2) => "%z",
            ('X' | 'Z' | 'x', _) => "%:z",
            _ => {
                for _ in 0..n {
                    out.push(c);
                }
                i += n;
                continue;
            }
        };
        out.push_str(t);
        i += n;
    }
    out
}

/// Parses a time with a LogScale format: `seconds`, `milliseconds`, `unixtimeMillis`,
/// `unixtime`, ISO 8601 (the default, empty format), or a Java/strftime pattern.
pub fn parse_time(format: &str, v: &str, zone: &Zone) -> Option<i64> {
    let v = v.trim();
    match format {
        "seconds" | "unixtime" => return number(v).map(|s| (s * 1000.0) as i64),
        "milliseconds" | "millis" | "unixtimeMillis" => return number(v).map(|m| m as i64),
        "" | "iso8601" | "yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX" => {
            return crate::text::time::parse_iso8601(v).map(|(ms, _)| ms)
        }
        _ => {}
    }
    let mut f = java_to_strftime(format);
    // chrono's %z does not read `Z`; spell it as an offset.
    let zulu;
    let v = match v.strip_suffix('Z') {
        Some(rest) if f.ends_with("%z") || f.ends_with("%:z") => {
            zulu = format!("{rest}+0000");
            f = f.replace("%:z", "%z");
            zulu.as_str()
        }
        _ => v,
    };
    if let Ok(t) = DateTime::parse_from_str(v, &f) {
        return Some(t.timestamp_millis());
    }
    let naive = chrono::NaiveDateTime::parse_from_str(v, &f)
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(v, &f)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    zone.from_local_datetime(&naive)
        .single()
        .map(|t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_conversions() {
        let v = |s: &str| Some(s.to_string());
        assert_eq!(printf("%s-%d", &[v("a"), v("4.7")]), "a-4");
        assert_eq!(printf("%.2f%%", &[v("3.14159")]), "3.14%");
        assert_eq!(printf("%x %s", &[v("255"), None]), "ff ");
    }

    #[test]
    fn time_formats() {
        let utc = parse_zone("UTC").unwrap();
        assert_eq!(
            java_to_strftime("yyyy-MM-dd'T'HH:mm:ss"),
            "%Y-%m-%dT%H:%M:%S"
        );
        assert_eq!(
            parse_time("yyyy-MM-dd HH:mm:ss", "2026-01-02 03:04:05", &utc),
            Some(1_767_323_045_000)
        );
        assert_eq!(parse_time("seconds", "1.5", &utc), Some(1500));
        let plus2 = parse_zone("+02:00").unwrap();
        assert_eq!(
            parse_time("yyyy-MM-dd HH:mm:ss", "2026-01-02 05:04:05", &plus2),
            Some(1_767_323_045_000)
        );
        assert!(parse_zone("Mars/Olympus").is_none());
    }
}
