//! Compiles LogScale's `time:*` functions (`ops/time.rs`): `field=@timestamp`, `as=_<part>`,
//! `timezone=` (else the query's zone); `time:start()`/`time:end()` (the search range) and
//! `now()`.

use super::args::{zone, Args};
use super::{err, Compiled, PlanOptions};
use crate::query::ast::Call;
use crate::query::ops::time::{TimeFn, TimePart};
use crate::query::ops::{Op, RowFn};
use crate::query::ParseError;

/// Compiles `c` when `name` (lower-cased) is one of this family; `None` otherwise.
pub(super) fn compile(
    c: &Call,
    name: &str,
    opts: PlanOptions,
) -> Result<Option<Compiled>, ParseError> {
    let f = match name {
        "now" => {
            let a = Args::new(c, &["as"], None)?;
            TimeFn::Now {
                as_: a.str("as", false)?.unwrap_or_else(|| "_now".into()),
            }
        }
        "time:start" | "time:end" => {
            let a = Args::new(c, &["as"], None)?;
            let (ms, default_as) = if name == "time:start" {
                (opts.start, "_start")
            } else {
                (opts.end, "_end")
            };
            TimeFn::Constant {
                ms,
                as_: a.str("as", false)?.unwrap_or_else(|| default_as.into()),
            }
        }
        _ => {
            let Some(part_name) = name.strip_prefix("time:") else {
                return Ok(None);
            };
            let Some((part, default_as)) = TimePart::named(part_name) else {
                return Err(err(
                    c.pos,
                    format!(
                        "unknown function {}() (time functions: year, month, monthName, dayOfMonth, dayOfYear, dayOfWeek, dayOfWeekName, weekOfYear, weekYear, hour, minute, second, millisecond, start, end)",
                        c.name
                    ),
                ));
            };
            let a = Args::new(c, &["field", "as", "timezone"], Some("field"))?;
            TimeFn::Part {
                field: a.str("field", true)?.unwrap_or_else(|| "@timestamp".into()),
                as_: a.str("as", false)?.unwrap_or_else(|| default_as.into()),
                part,
                zone: zone(&a, "timezone", opts)?,
            }
        }
    };
    Ok(Some(Compiled::Op(Op::Fn(RowFn::Time(f)))))
}
