//! Compiles LogScale's `array:*` row functions (`ops/array.rs`): `array:length(array,
//! as=_length)`, `array:union(array=[...], as=_union)`, `array:filter(array, var, function,
//! asArray)`. `array:contains` is a filter (`filters.rs`). Arrays are named `name[]`.

use super::args::Args;
use super::{compile_stage, err, Compiled, PlanOptions};
use crate::query::ast::{ArgValue, Call};
use crate::query::ops::array::{base, ArrayFn};
use crate::query::ops::{Op, RowFn};
use crate::query::ParseError;

/// Compiles `c` when `name` (lower-cased) is one of this family; `None` otherwise.
pub(super) fn compile(
    c: &Call,
    name: &str,
    opts: PlanOptions,
) -> Result<Option<Compiled>, ParseError> {
    let f = match name {
        "array:length" => {
            let a = Args::new(c, &["array", "as"], Some("array"))?;
            ArrayFn::Length {
                array: base(&a.req("array", true)?).to_string(),
                as_: a.str("as", false)?.unwrap_or_else(|| "_length".into()),
            }
        }
        "array:union" => {
            let a = Args::new(c, &["array", "as"], Some("array"))?;
            let arrays = a
                .list("array", true)?
                .ok_or_else(|| err(c.pos, "array:union() needs the parameter array"))?;
            ArrayFn::Union {
                arrays: arrays.iter().map(|s| base(s).to_string()).collect(),
                as_: base(&a.str("as", false)?.unwrap_or_else(|| "_union[]".into())).to_string(),
            }
        }
        "array:filter" => {
            let a = Args::new(c, &["array", "var", "function", "asArray"], Some("array"))?;
            let array = base(&a.req("array", true)?).to_string();
            let farg = a
                .get("function", false)
                .ok_or_else(|| err(c.pos, "array:filter() needs the parameter function"))?;
            let ArgValue::Pipeline(stages) = &farg.value else {
                return Err(err(farg.pos, "array:filter(): function must be { ... }"));
            };
            let mut function = Vec::new();
            for s in stages {
                match compile_stage(s, opts)? {
                    Compiled::Op(op) => function.push(op),
                    Compiled::Agg(_) => {
                        return Err(err(
                            farg.pos,
                            "array:filter(): the function cannot hold an aggregate",
                        ))
                    }
                }
            }
            ArrayFn::Filter {
                var: a.str("var", false)?.unwrap_or_else(|| array.clone()),
                as_array: base(&a.str("asArray", false)?.unwrap_or_else(|| array.clone()))
                    .to_string(),
                array,
                function,
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Compiled::Op(Op::Fn(RowFn::Array(f)))))
}
