//! Compiles LogScale's `math:*` functions (`ops/math.rs`): `field` (positional), `as`
//! (default `_<name>`), and the second number of `math:pow(exponent=)`, `math:mod(divisor=)`
//! and `math:log(base=)`.

use super::args::Args;
use super::{err, Compiled};
use crate::query::ast::Call;
use crate::query::number;
use crate::query::ops::math::{MathFn, MathOp};
use crate::query::ops::{Op, RowFn};
use crate::query::ParseError;

/// Compiles `c` when `name` (lower-cased) is a `math:` function; `None` otherwise.
pub(super) fn compile(c: &Call, name: &str) -> Result<Option<Compiled>, ParseError> {
    let Some(op_name) = name.strip_prefix("math:") else {
        return Ok(None);
    };
    let second = match op_name {
        "pow" => Some("exponent"),
        "mod" => Some("divisor"),
        "log" => Some("base"),
        _ => None,
    };
    let mut params = vec!["field", "as"];
    params.extend(second);
    if second.is_none() && MathOp::unary(op_name).is_none() {
        return Err(err(
            c.pos,
            format!(
                "unknown function {}() (math functions: abs, ceil, floor, sqrt, cbrt, exp, expm1, log, log10, log1p, log2, pow, mod, sin, cos, tan, arcsin, arccos, arctan, sinh, cosh, tanh, deg2rad, rad2deg)",
                c.name
            ),
        ));
    }
    let a = Args::new(c, &params, Some("field"))?;
    let num = |p: &str| -> Result<Option<f64>, ParseError> {
        match a.str(p, false)? {
            None => Ok(None),
            Some(s) => number(&s).map(Some).ok_or_else(|| {
                err(
                    a.get(p, false).map_or(c.pos, |x| x.pos),
                    format!("{}: {p} must be a number, not {s:?}", a.fname),
                )
            }),
        }
    };
    let op = match op_name {
        "pow" => MathOp::Pow(
            num("exponent")?
                .ok_or_else(|| err(c.pos, format!("{} needs the parameter exponent", a.fname)))?,
        ),
        "mod" => {
            let d = num("divisor")?
                .ok_or_else(|| err(c.pos, format!("{} needs the parameter divisor", a.fname)))?;
            if d == 0.0 {
                return Err(err(c.pos, format!("{}: divisor must not be 0", a.fname)));
            }
            MathOp::Mod(d)
        }
        "log" => match num("base")? {
            None => MathOp::Ln,
            Some(b) if b > 0.0 && b != 1.0 => MathOp::LogBase(b),
            Some(b) => {
                return Err(err(
                    c.pos,
                    format!("{}: base must be positive and not 1, not {b}", a.fname),
                ))
            }
        },
        other => MathOp::unary(other).ok_or_else(|| err(c.pos, "unknown math function"))?,
    };
    Ok(Some(Compiled::Op(Op::Fn(RowFn::Math(MathFn {
        field: a.req("field", true)?,
        as_: a.str("as", false)?.unwrap_or_else(|| format!("_{op_name}")),
        op,
    })))))
}
