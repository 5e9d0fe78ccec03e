//! LogScale's row functions as one enum with one `apply`, kept apart from the operator tree
//! because they are the part that grows with every supported function.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

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
