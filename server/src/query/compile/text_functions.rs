//! Compiles the text and encoding functions (`ops/text.rs`) with LogScale's parameters and
//! defaults: `crypto:md5`/`sha1`/`sha256` (`as=_md5`, ...), `hash` (`as=_hash`), `base64Encode`/
//! `base64Decode`, `urlEncode`/`urlDecode`, `parseInt` (`radix=16`), `parseHexString`,
//! `parseCsv`, `parseXml`, `parseUrl`/`parseUri`, `formatDuration`, `duration`, `eventSize`, `coalesce`.

use super::args::{parse_span, Args};
use super::{err, Compiled, PlanOptions};
use crate::query::ast::{ArgValue, Call, Expr};
use crate::query::expr;
use crate::query::ops::text::{Charset, HashKind, TextFn};
use crate::query::ops::{Op, RowFn};
use crate::query::ParseError;

/// Compiles `c` when `name` (lower-cased) is one of this family; `None` otherwise.
pub(super) fn compile(
    c: &Call,
    name: &str,
    _opts: PlanOptions,
) -> Result<Option<Compiled>, ParseError> {
    let f = match name {
        "crypto:md5" | "crypto:sha1" | "crypto:sha256" => {
            let a = Args::new(c, &["field", "as"], Some("field"))?;
            let (kind, default_as) = match name {
                "crypto:md5" => (HashKind::Md5, "_md5"),
                "crypto:sha1" => (HashKind::Sha1, "_sha1"),
                _ => (HashKind::Sha256, "_sha256"),
            };
            TextFn::Crypto {
                fields: req_list(&a, "field")?,
                as_: a.str("as", false)?.unwrap_or_else(|| default_as.into()),
                kind,
            }
        }
        "hash" => {
            let a = Args::new(c, &["field", "as", "limit", "seed"], Some("field"))?;
            let limit = match a.str("limit", false)? {
                None => None,
                Some(s) => Some(s.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    err(
                        pos(&a, "limit"),
                        format!("hash(): limit must be a whole number of at least 1, not {s:?}"),
                    )
                })?),
            };
            TextFn::Hash {
                fields: req_list(&a, "field")?,
                as_: a.str("as", false)?.unwrap_or_else(|| "_hash".into()),
                limit,
                seed: a.str("seed", false)?.unwrap_or_default(),
            }
        }
        "base64encode" | "base64decode" => {
            let a = Args::new(c, &["field", "as", "charset"], Some("field"))?;
            let field = a.req("field", true)?;
            let as_ = a.str("as", false)?.unwrap_or_else(|| field.clone());
            let charset = charset(&a)?;
            if name == "base64encode" {
                TextFn::Base64Encode {
                    field,
                    as_,
                    charset,
                }
            } else {
                TextFn::Base64Decode {
                    field,
                    as_,
                    charset,
                }
            }
        }
        "urlencode" | "urldecode" => {
            let a = Args::new(c, &["field", "as"], Some("field"))?;
            let field = a.req("field", true)?;
            let as_ = a.str("as", false)?.unwrap_or_else(|| field.clone());
            if name == "urlencode" {
                TextFn::UrlEncode { field, as_ }
            } else {
                TextFn::UrlDecode { field, as_ }
            }
        }
        "parseint" => {
            let a = Args::new(c, &["field", "as", "radix", "endian"], Some("field"))?;
            let field = a.req("field", true)?;
            let radix = match a.str("radix", false)? {
                None => 16,
                Some(s) => s
                    .parse::<u32>()
                    .ok()
                    .filter(|r| (2..=36).contains(r))
                    .ok_or_else(|| {
                        err(
                            pos(&a, "radix"),
                            format!("parseInt(): radix must be from 2 to 36, not {s:?}"),
                        )
                    })?,
            };
            let little_endian = match a.str("endian", false)?.as_deref() {
                None | Some("big") => false,
                Some("little") => true,
                Some(e) => {
                    return Err(err(
                        pos(&a, "endian"),
                        format!("parseInt(): endian must be big or little, not {e:?}"),
                    ))
                }
            };
            TextFn::ParseInt {
                as_: a.str("as", false)?.unwrap_or_else(|| field.clone()),
                field,
                radix,
                little_endian,
            }
        }
        "parsehexstring" => {
            let a = Args::new(c, &["field", "as", "charset"], Some("field"))?;
            let field = a.req("field", true)?;
            TextFn::ParseHexString {
                as_: a
                    .str("as", false)?
                    .unwrap_or_else(|| "_parsehexstring".into()),
                field,
                charset: charset(&a)?,
            }
        }
        "parsecsv" => {
            let a = Args::new(
                c,
                &["field", "columns", "delimiter", "trim", "excludeEmpty"],
                Some("field"),
            )?;
            let delimiter = match a.str("delimiter", false)? {
                None => ',',
                Some(d) => {
                    let d = if d == "\\t" { "\t".to_string() } else { d };
                    let mut ch = d.chars();
                    match (ch.next(), ch.next()) {
                        (Some(x), None) => x,
                        _ => {
                            return Err(err(
                                pos(&a, "delimiter"),
                                format!("parseCsv(): delimiter must be one character, not {d:?}"),
                            ))
                        }
                    }
                }
            };
            TextFn::ParseCsv {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
                columns: req_list(&a, "columns")?,
                delimiter,
                trim: a.bool("trim", false)?,
                exclude_empty: a.bool("excludeEmpty", false)?,
            }
        }
        "parsexml" => {
            let a = Args::new(c, &["field", "prefix"], Some("field"))?;
            TextFn::ParseXml {
                field: a.str("field", true)?.unwrap_or_else(|| "@rawstring".into()),
                prefix: a.str("prefix", false)?.unwrap_or_default(),
            }
        }
        "parseurl" | "parseuri" => {
            let a = Args::new(c, &["field", "as"], Some("field"))?;
            let default = if name == "parseurl" { "url" } else { "uri" };
            let field = a.str("field", true)?.unwrap_or_else(|| default.into());
            TextFn::ParseUrl {
                as_: a.str("as", false)?.unwrap_or_else(|| field.clone()),
                field,
            }
        }
        "formatduration" => {
            let a = Args::new(c, &["field", "as", "from", "precision"], Some("field"))?;
            let field = a.req("field", true)?;
            let from = a.str("from", false)?.unwrap_or_else(|| "ms".into());
            let from_ns = match from.as_str() {
                "ns" => 1,
                "us" => 1_000,
                "ms" => 1_000_000,
                "s" => 1_000_000_000,
                "m" => 60_000_000_000,
                "h" => 3_600_000_000_000,
                "d" => 86_400_000_000_000,
                _ => {
                    return Err(err(
                        pos(&a, "from"),
                        format!(
                            "formatDuration(): from must be ns, us, ms, s, m, h or d, not {from:?}"
                        ),
                    ))
                }
            };
            let precision = match a.str("precision", false)? {
                None => 0,
                Some(p) => p.parse::<usize>().map_err(|_| {
                    err(
                        pos(&a, "precision"),
                        format!("formatDuration(): precision must be a whole number, not {p:?}"),
                    )
                })?,
            };
            TextFn::FormatDuration {
                as_: a.str("as", false)?.unwrap_or_else(|| field.clone()),
                field,
                from_ns,
                precision,
            }
        }
        "duration" => {
            let a = Args::new(c, &["duration", "as"], Some("duration"))?;
            let d = a.req("duration", true)?;
            let ms = parse_span(&d).ok_or_else(|| {
                err(
                    pos(&a, "duration"),
                    format!("duration(): {d:?} is not a duration like 1h or 500ms"),
                )
            })?;
            TextFn::Duration {
                ms,
                as_: a.str("as", false)?.unwrap_or_else(|| "_duration".into()),
            }
        }
        "eventsize" => {
            let a = Args::new(c, &["as"], None)?;
            TextFn::EventSize {
                as_: a.str("as", false)?.unwrap_or_else(|| "_eventSize".into()),
            }
        }
        "coalesce" => {
            let a = Args::new(
                c,
                &["expressions", "as", "ignoreEmpty"],
                Some("expressions"),
            )?;
            let arg = a
                .get("expressions", true)
                .ok_or_else(|| err(c.pos, "coalesce() needs the parameter expressions"))?;
            let exprs = match &arg.value {
                ArgValue::List(items) => items
                    .iter()
                    .map(|i| match i {
                        ArgValue::Expr(e) => Ok(e.clone()),
                        ArgValue::Str(s) => Ok(Expr::Field(s.clone())),
                        _ => Err(err(arg.pos, "coalesce(): expressions must be a list")),
                    })
                    .collect::<Result<Vec<_>, _>>()?,
                _ => {
                    return Err(err(
                        arg.pos,
                        "coalesce(): expressions must be a list like [a, b]",
                    ))
                }
            };
            for e in &exprs {
                expr::check(e)?;
            }
            TextFn::Coalesce {
                exprs,
                as_: a.str("as", false)?.unwrap_or_else(|| "_coalesce".into()),
                ignore_empty: a.bool("ignoreEmpty", true)?,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Compiled::Op(Op::Fn(RowFn::Text(f)))))
}

fn pos(a: &Args, name: &str) -> usize {
    a.get(name, false).map_or(a.call.pos, |x| x.pos)
}

fn req_list(a: &Args, name: &str) -> Result<Vec<String>, ParseError> {
    a.list(name, name == "field")?
        .filter(|l| !l.is_empty())
        .ok_or_else(|| {
            err(
                a.call.pos,
                format!("{} needs the parameter {name}", a.fname),
            )
        })
}

fn charset(a: &Args) -> Result<Charset, ParseError> {
    match a.str("charset", false)? {
        None => Ok(Charset::Utf8),
        Some(c) => match c.to_ascii_uppercase().replace('_', "-").as_str() {
            "UTF-8" | "UTF8" => Ok(Charset::Utf8),
            "ISO-8859-1" | "LATIN1" | "LATIN-1" => Ok(Charset::Latin1),
            _ => Err(err(
                pos(a, "charset"),
                format!(
                    "{}: charset must be UTF-8 or ISO-8859-1, not {c:?}",
                    a.fname
                ),
            )),
        },
    }
}
