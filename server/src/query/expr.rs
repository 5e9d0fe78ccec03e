//! Expression evaluation for `:=`, `eval()`, `test()` and `if()`. Values are dynamically
//! typed: a field is a number when it reads as one, arithmetic on a missing or non-numeric
//! operand gives no value (the assignment is skipped), comparisons are numeric when both sides
//! are numbers and textual otherwise.

use super::ast::{BinOp, Call, Expr};
use super::row::Source;
use super::{fmt_num, number};

/// A value during expression evaluation.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Num(f64),
    Str(String),
    Bool(bool),
}

impl Value {
    /// The value as a field string; `None` for no value.
    pub fn into_field(self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Num(n) if n.is_finite() => Some(fmt_num(n)),
            Value::Num(_) => None,
            Value::Str(s) => Some(s),
            Value::Bool(b) => Some(b.to_string()),
        }
    }

    fn num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => number(s),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Null => None,
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0.0,
            Value::Str(s) => !s.is_empty() && s != "false",
        }
    }

    fn text(&self) -> Option<String> {
        self.clone().into_field()
    }
}

/// Names of the functions usable inside expressions.
pub const EXPR_FUNCTIONS: &[&str] = &[
    "lower",
    "lowercase",
    "upper",
    "uppercase",
    "length",
    "abs",
    "round",
    "floor",
    "ceil",
    "sqrt",
    "log",
    "log10",
    "concat",
    "min",
    "max",
    "now",
    "if",
    "coalesce",
    "text:contains",
];

/// Evaluates `e` against an event.
pub fn eval(e: &Expr, src: &dyn Source) -> Value {
    match e {
        Expr::Num(n) => Value::Num(*n),
        Expr::Str(s) => Value::Str(s.clone()),
        Expr::Field(f) => match src.get(f) {
            Some(v) => Value::Str(v.into_owned()),
            None => Value::Null,
        },
        Expr::Neg(x) => match eval(x, src).num() {
            Some(n) => Value::Num(-n),
            None => Value::Null,
        },
        Expr::Not(x) => Value::Bool(!eval(x, src).truthy()),
        Expr::Bin(op, a, b) => binary(*op, a, b, src),
        Expr::Call(c) => call(c, src),
    }
}

fn binary(op: BinOp, a: &Expr, b: &Expr, src: &dyn Source) -> Value {
    match op {
        BinOp::And => return Value::Bool(eval(a, src).truthy() && eval(b, src).truthy()),
        BinOp::Or => return Value::Bool(eval(a, src).truthy() || eval(b, src).truthy()),
        _ => {}
    }
    let (x, y) = (eval(a, src), eval(b, src));
    let arith = |f: fn(f64, f64) -> f64| match (x.num(), y.num()) {
        (Some(p), Some(q)) => {
            let r = f(p, q);
            if r.is_finite() {
                Value::Num(r)
            } else {
                Value::Null
            }
        }
        _ => Value::Null,
    };
    match op {
        BinOp::Add => arith(|p, q| p + q),
        BinOp::Sub => arith(|p, q| p - q),
        BinOp::Mul => arith(|p, q| p * q),
        BinOp::Div => arith(|p, q| p / q),
        BinOp::Mod => arith(|p, q| p % q),
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            if x == Value::Null || y == Value::Null {
                return Value::Bool(op == BinOp::Ne && x != y);
            }
            let ord = match (x.num(), y.num()) {
                (Some(p), Some(q)) => p.partial_cmp(&q),
                _ => x.text().partial_cmp(&y.text()),
            };
            let Some(ord) = ord else {
                return Value::Bool(false);
            };
            use std::cmp::Ordering::*;
            Value::Bool(match op {
                BinOp::Eq => ord == Equal,
                BinOp::Ne => ord != Equal,
                BinOp::Lt => ord == Less,
                BinOp::Le => ord != Greater,
                BinOp::Gt => ord == Greater,
                _ => ord != Less,
            })
        }
        BinOp::And | BinOp::Or => unreachable!("handled above"),
    }
}

fn call(c: &Call, src: &dyn Source) -> Value {
    let args: Vec<Value> = c
        .args
        .iter()
        .map(|a| match &a.value {
            super::ast::ArgValue::Expr(e) => eval(e, src),
            super::ast::ArgValue::Str(s) => Value::Str(s.clone()),
            _ => Value::Null,
        })
        .collect();
    let first = args.first().cloned().unwrap_or(Value::Null);
    let num1 = |f: fn(f64) -> f64| match first.num() {
        Some(n) if f(n).is_finite() => Value::Num(f(n)),
        _ => Value::Null,
    };
    match c.name.to_ascii_lowercase().as_str() {
        "lower" | "lowercase" => first
            .text()
            .map_or(Value::Null, |s| Value::Str(s.to_lowercase())),
        "upper" | "uppercase" => first
            .text()
            .map_or(Value::Null, |s| Value::Str(s.to_uppercase())),
        "length" => first
            .text()
            .map_or(Value::Null, |s| Value::Num(s.chars().count() as f64)),
        "abs" => num1(f64::abs),
        "round" => num1(f64::round),
        "floor" => num1(f64::floor),
        "ceil" => num1(f64::ceil),
        "sqrt" => num1(f64::sqrt),
        "log" => num1(f64::ln),
        "log10" => num1(f64::log10),
        "concat" => Value::Str(args.iter().filter_map(Value::text).collect()),
        "coalesce" => {
            // coalesce([a, b]) or coalesce(a, b): the first value that is there and not
            // empty (LogScale's ignoreEmpty=true).
            let items: Vec<Value> = match c.args.first().map(|a| &a.value) {
                Some(super::ast::ArgValue::List(l)) => l
                    .iter()
                    .map(|v| match v {
                        super::ast::ArgValue::Expr(e) => eval(e, src),
                        super::ast::ArgValue::Str(s) => Value::Str(s.clone()),
                        _ => Value::Null,
                    })
                    .collect(),
                _ => args,
            };
            items
                .into_iter()
                .find(|v| !matches!(v, Value::Null) && !matches!(v, Value::Str(s) if s.is_empty()))
                .unwrap_or(Value::Null)
        }
        "min" | "max" => {
            let ns = args.iter().filter_map(Value::num);
            let r = if c.name.eq_ignore_ascii_case("min") {
                ns.fold(f64::INFINITY, f64::min)
            } else {
                ns.fold(f64::NEG_INFINITY, f64::max)
            };
            if r.is_finite() {
                Value::Num(r)
            } else {
                Value::Null
            }
        }
        "now" => Value::Num(crate::text::now_ms() as f64),
        "text:contains" => {
            let (s, sub) = (
                arg_at(c, &args, "string", 0),
                arg_at(c, &args, "substring", 1),
            );
            match (s.text(), sub.text()) {
                (Some(s), Some(sub)) => Value::Bool(s.contains(&sub)),
                _ => Value::Bool(false),
            }
        }
        "if" => {
            if first.truthy() {
                args.get(1).cloned().unwrap_or(Value::Null)
            } else {
                args.get(2).cloned().unwrap_or(Value::Null)
            }
        }
        _ => Value::Null,
    }
}

/// The argument called `name`, else the `index`-th unnamed one.
fn arg_at(c: &Call, args: &[Value], name: &str, index: usize) -> Value {
    let i = c
        .args
        .iter()
        .position(|a| {
            a.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .or_else(|| {
            c.args
                .iter()
                .enumerate()
                .filter(|(_, a)| a.name.is_none())
                .nth(index)
                .map(|(i, _)| i)
        });
    i.and_then(|i| args.get(i).cloned()).unwrap_or(Value::Null)
}

/// Checks that every function called inside `e` can be evaluated in an expression.
pub fn check(e: &Expr) -> Result<(), super::ParseError> {
    match e {
        Expr::Neg(x) | Expr::Not(x) => check(x),
        Expr::Bin(_, a, b) => check(a).and(check(b)),
        Expr::Call(c) => {
            if !EXPR_FUNCTIONS.contains(&c.name.to_ascii_lowercase().as_str()) {
                return Err(super::ParseError {
                    position: c.pos,
                    message: format!(
                        "{}() cannot be used inside an expression (expression functions: {})",
                        c.name,
                        EXPR_FUNCTIONS.join(", ")
                    ),
                });
            }
            for a in &c.args {
                match &a.value {
                    super::ast::ArgValue::Expr(x) => check(x)?,
                    super::ast::ArgValue::List(items) => {
                        for i in items {
                            if let super::ast::ArgValue::Expr(x) = i {
                                check(x)?;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
