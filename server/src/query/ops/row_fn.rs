//! LogScale's row functions as one enum with one `apply`, kept apart from the operator tree
//! because they are the part that grows with every supported function.

use std::collections::BTreeMap;

use super::formats::{parse_time, printf};
use super::{Case, RoundHow, Zone};
use crate::query::ast::Expr;
use crate::query::expr;
use crate::query::row::Row;
use crate::query::{fmt_num, number};

pub enum RowFn {
    Regex {
        re: regex::Regex,
        field: String,
        strict: bool,
    },
    ParseJson {
        field: String,
        prefix: String,
        /// Keep only these fields (and their sub-fields), named without the prefix.
        include: Vec<String>,
        exclude: Vec<String>,
        exclude_empty: bool,
    },
    KvParse {
        field: String,
        prefix: String,
        /// Replace fields the event already has (LogScale's default: keep them).
        override_: bool,
        exclude_empty: bool,
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
        /// Field to store the zone the timestamp was read in.
        zone_as: Option<String>,
        add_errors: bool,
    },
    ChangeCase {
        fields: Vec<String>,
        case: Case,
        as_: Option<String>,
        values: bool,
        names: bool,
    },
    Length {
        field: String,
        as_: String,
    },
    SplitString {
        field: String,
        by: String,
        as_: String,
        /// Only this element; negative counts from the end (-1 is the last).
        index: Option<i64>,
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
        replace_empty: bool,
    },
    Text(super::text::TextFn),
    Math(super::math::MathFn),
    Time(super::time::TimeFn),
    Array(super::array::ArrayFn),
}

fn src<'a>(row: &'a Row, field: &str) -> Option<&'a str> {
    row.get_str(field)
}

impl RowFn {
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            RowFn::Regex { re, field, strict } => {
                let Some(v) = src(row, field).map(str::to_string) else {
                    return !strict;
                };
                let Some(caps) = re.captures(&v) else {
                    return !strict;
                };
                for name in re.capture_names().flatten() {
                    if let Some(m) = caps.name(name) {
                        row.set(name, m.as_str().to_string());
                    }
                }
                true
            }
            RowFn::ParseJson {
                field,
                prefix,
                include,
                exclude,
                exclude_empty,
            } => {
                if let Some(v) = src(row, field) {
                    if let Ok(j) = serde_json::from_str::<serde_json::Value>(v.trim()) {
                        let mut out = BTreeMap::new();
                        crate::text::flatten_json("", &j, &mut out);
                        for (k, v) in out {
                            let keep = (include.is_empty() || include.iter().any(|p| under(&k, p)))
                                && !exclude.iter().any(|p| under(&k, p))
                                && !(*exclude_empty && v.is_empty());
                            if keep {
                                row.set(&format!("{prefix}{k}"), v);
                            }
                        }
                    }
                }
                true
            }
            RowFn::KvParse {
                field,
                prefix,
                override_,
                exclude_empty,
            } => {
                if let Some(v) = src(row, field) {
                    // `#name` keys are tags at ingest, so kvParse() leaves them out too.
                    for (k, v) in crate::text::parse_kv(v) {
                        let name = format!("{prefix}{k}");
                        if k.starts_with('#')
                            || (*exclude_empty && v.is_empty())
                            || (!override_ && row.get_str(&name).is_some())
                        {
                            continue;
                        }
                        row.set(&name, v);
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
                    if let Some(t) = zone.local(ms as i64) {
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
                zone_as,
                add_errors,
            } => {
                let Some(v) = src(row, field).map(str::to_string) else {
                    return true;
                };
                match parse_time(format, &v, zone) {
                    Some(ms) => {
                        row.set(as_, ms.to_string());
                        if let Some(z) = zone_as {
                            row.set(z, written_zone(&v).unwrap_or_else(|| zone.to_string()));
                        }
                    }
                    None if *add_errors => {
                        row.set("@error", "true".into());
                        row.set(
                            "@error_msg",
                            format!("parseTimestamp(): {v:?} does not match the format"),
                        );
                    }
                    None => {}
                }
                true
            }
            RowFn::ChangeCase {
                fields,
                case,
                as_,
                values,
                names,
            } => {
                let conv = |s: &str| match case {
                    Case::Lower => s.to_lowercase(),
                    Case::Upper => s.to_uppercase(),
                };
                for f in fields_of(row, fields) {
                    let Some(v) = src(row, &f).map(str::to_string) else {
                        continue;
                    };
                    let out = if *values { conv(&v) } else { v };
                    let to = match as_ {
                        Some(a) => a.clone(),
                        None if *names => conv(&f),
                        None => f.clone(),
                    };
                    if to != f && as_.is_none() {
                        row.remove(&f);
                    }
                    row.set(&to, out);
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
                            let at = if *i < 0 {
                                parts.len().checked_sub(i.unsigned_abs() as usize)
                            } else {
                                Some(*i as usize)
                            };
                            if let Some(p) = at.and_then(|i| parts.get(i)) {
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
            RowFn::Default {
                fields,
                value,
                replace_empty,
            } => {
                for f in fields {
                    let missing = match row.get_str(f) {
                        None => true,
                        Some(v) => *replace_empty && v.is_empty(),
                    };
                    if missing {
                        row.set(f, value.clone());
                    }
                }
                true
            }
            RowFn::Text(f) => f.apply(row),
            RowFn::Math(f) => f.apply(row),
            RowFn::Time(f) => f.apply(row),
            RowFn::Array(f) => f.apply(row),
        }
    }
}

/// `name` is `pattern` or one of its sub-fields (`a` covers `a.b` and `a[0]`).
fn under(name: &str, pattern: &str) -> bool {
    name == pattern
        || name
            .strip_prefix(pattern)
            .is_some_and(|r| r.starts_with('.') || r.starts_with('['))
}

/// The fields a case change covers: `*` is every field but built-ins and tags.
fn fields_of(row: &Row, fields: &[String]) -> Vec<String> {
    if fields.iter().any(|f| f == "*") {
        row.fields
            .iter()
            .map(|(n, _)| n.clone())
            .filter(|n| !n.starts_with('@') && !n.starts_with('#'))
            .collect()
    } else {
        fields.to_vec()
    }
}

/// The zone a timestamp was written with (`Z`, `+02:00`), when it has one.
fn written_zone(v: &str) -> Option<String> {
    let v = v.trim();
    if v.ends_with('Z') {
        return Some("Z".into());
    }
    let tail = v.get(v.len().checked_sub(6)?..)?;
    let b = tail.as_bytes();
    (matches!(b[0], b'+' | b'-') && b[3] == b':').then(|| tail.to_string())
}
