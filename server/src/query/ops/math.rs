//! LogScale's `math:*` row functions: one numeric field in, one out (`as` defaults to
//! `_<name>`, e.g. `math:abs` → `_abs`), with `math:pow(exponent=)`, `math:mod(divisor=)` and
//! `math:log(base=)` taking a second number. A missing or non-numeric input, or a result that
//! is not a finite number (`math:log(0)`), sets nothing.
//! <https://library.humio.com/data-analysis/functions-math-functions.html>

use crate::query::row::Row;
use crate::query::{fmt_num, number};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MathOp {
    Abs,
    Ceil,
    Floor,
    Sqrt,
    Cbrt,
    Exp,
    Expm1,
    Ln,
    Log10,
    Log1p,
    Log2,
    LogBase(f64),
    Sin,
    Cos,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Tanh,
    DegToRad,
    RadToDeg,
    Pow(f64),
    Mod(f64),
}

impl MathOp {
    /// The op for a `math:` function name (after the prefix, lower-cased) that takes no
    /// second number.
    pub fn unary(name: &str) -> Option<MathOp> {
        Some(match name {
            "abs" => MathOp::Abs,
            "ceil" => MathOp::Ceil,
            "floor" => MathOp::Floor,
            "sqrt" => MathOp::Sqrt,
            "cbrt" => MathOp::Cbrt,
            "exp" => MathOp::Exp,
            "expm1" => MathOp::Expm1,
            "log10" => MathOp::Log10,
            "log1p" => MathOp::Log1p,
            "log2" => MathOp::Log2,
            "sin" => MathOp::Sin,
            "cos" => MathOp::Cos,
            "tan" => MathOp::Tan,
            "arcsin" | "asin" => MathOp::Asin,
            "arccos" | "acos" => MathOp::Acos,
            "arctan" | "atan" => MathOp::Atan,
            "sinh" => MathOp::Sinh,
            "cosh" => MathOp::Cosh,
            "tanh" => MathOp::Tanh,
            "deg2rad" => MathOp::DegToRad,
            "rad2deg" => MathOp::RadToDeg,
            _ => return None,
        })
    }

    pub fn eval(self, x: f64) -> f64 {
        match self {
            MathOp::Abs => x.abs(),
            MathOp::Ceil => x.ceil(),
            MathOp::Floor => x.floor(),
            MathOp::Sqrt => x.sqrt(),
            MathOp::Cbrt => x.cbrt(),
            MathOp::Exp => x.exp(),
            MathOp::Expm1 => x.exp_m1(),
            MathOp::Ln => x.ln(),
            MathOp::Log10 => x.log10(),
            MathOp::Log1p => x.ln_1p(),
            MathOp::Log2 => x.log2(),
            MathOp::LogBase(b) => x.ln() / b.ln(),
            MathOp::Sin => x.sin(),
            MathOp::Cos => x.cos(),
            MathOp::Tan => x.tan(),
            MathOp::Asin => x.asin(),
            MathOp::Acos => x.acos(),
            MathOp::Atan => x.atan(),
            MathOp::Sinh => x.sinh(),
            MathOp::Cosh => x.cosh(),
            MathOp::Tanh => x.tanh(),
            MathOp::DegToRad => x.to_radians(),
            MathOp::RadToDeg => x.to_degrees(),
            MathOp::Pow(e) => x.powf(e),
            MathOp::Mod(d) => x % d,
        }
    }
}

pub struct MathFn {
    pub field: String,
    pub as_: String,
    pub op: MathOp,
}

impl MathFn {
    pub fn apply(&self, row: &mut Row) -> bool {
        if let Some(x) = row.get_str(&self.field).and_then(number) {
            let r = self.op.eval(x);
            if r.is_finite() {
                row.set(&self.as_, fmt_num(r));
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops() {
        assert_eq!(MathOp::Abs.eval(-2.5), 2.5);
        assert_eq!(MathOp::Pow(3.0).eval(2.0), 8.0);
        assert_eq!(MathOp::Mod(3.0).eval(7.0), 1.0);
        assert_eq!(MathOp::LogBase(2.0).eval(8.0), 3.0);
        assert!(!MathOp::Ln.eval(0.0).is_finite());
        assert_eq!(MathOp::unary("arcsin"), Some(MathOp::Asin));
        assert_eq!(MathOp::unary("pow"), None);
    }
}
