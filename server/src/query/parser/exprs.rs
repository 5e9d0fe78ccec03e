//! Expressions (`:=`, `eval`, `test`, `if`): the usual precedence climbing from `or` down to
//! unary operators and atoms (fields, numbers, strings, parameters, calls).

use super::{is_ident_start, P};
use crate::query::ast::{BinOp, Expr};
use crate::query::ParseError;

impl P<'_> {
    pub(super) fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let e = self.or_expr();
        self.leave();
        e
    }

    pub(super) fn or_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.and_expr()?;
        loop {
            self.ws();
            if self.at_keyword("or") || self.starts("||") {
                self.bump(2);
                let r = self.and_expr()?;
                l = Expr::Bin(BinOp::Or, Box::new(l), Box::new(r));
            } else {
                return Ok(l);
            }
        }
    }

    pub(super) fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.cmp_expr()?;
        loop {
            self.ws();
            if self.at_keyword("and") {
                self.bump(3);
            } else if self.starts("&&") {
                self.bump(2);
            } else {
                return Ok(l);
            }
            let r = self.cmp_expr()?;
            l = Expr::Bin(BinOp::And, Box::new(l), Box::new(r));
        }
    }

    pub(super) fn cmp_expr(&mut self) -> Result<Expr, ParseError> {
        let l = self.add_expr()?;
        self.ws();
        let ops = [
            ("==", BinOp::Eq),
            ("!=", BinOp::Ne),
            ("<=", BinOp::Le),
            (">=", BinOp::Ge),
            ("<", BinOp::Lt),
            (">", BinOp::Gt),
        ];
        for (t, op) in ops {
            if self.starts(t) {
                self.bump(t.len());
                let r = self.add_expr()?;
                return Ok(Expr::Bin(op, Box::new(l), Box::new(r)));
            }
        }
        Ok(l)
    }

    pub(super) fn add_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.mul_expr()?;
        loop {
            self.ws();
            let op = match self.peek() {
                Some('+') => BinOp::Add,
                Some('-') => BinOp::Sub,
                _ => return Ok(l),
            };
            self.bump(1);
            let r = self.mul_expr()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    pub(super) fn mul_expr(&mut self) -> Result<Expr, ParseError> {
        let mut l = self.unary_expr()?;
        loop {
            self.ws();
            let op = match self.peek() {
                Some('*') => BinOp::Mul,
                Some('/') if !self.starts("//") && !self.starts("/*") => BinOp::Div,
                Some('%') => BinOp::Mod,
                _ => return Ok(l),
            };
            self.bump(1);
            let r = self.unary_expr()?;
            l = Expr::Bin(op, Box::new(l), Box::new(r));
        }
    }

    pub(super) fn unary_expr(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        if self.peek() == Some('-') {
            self.bump(1);
            self.enter()?;
            let e = self.unary_expr()?;
            self.leave();
            return Ok(Expr::Neg(Box::new(e)));
        }
        if (self.peek() == Some('!') && !self.starts("!=")) || self.at_keyword("not") {
            self.bump(if self.peek() == Some('!') { 1 } else { 3 });
            self.enter()?;
            let e = self.unary_expr()?;
            self.leave();
            return Ok(Expr::Not(Box::new(e)));
        }
        self.atom()
    }

    pub(super) fn atom(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.bump(1);
                let e = self.expr()?;
                self.ws();
                if self.peek() != Some(')') {
                    return Err(self.err("expected ) in the expression"));
                }
                self.bump(1);
                Ok(e)
            }
            Some('"') => Ok(Expr::Str(self.quoted()?)),
            Some('?') if self.starts("?{") => {
                let v = self.braced_param()?.unwrap_or_default();
                Ok(match crate::query::number(&v) {
                    Some(n) => Expr::Num(n),
                    None => Expr::Str(v),
                })
            }
            Some('?') => {
                self.bump(1);
                let name = self.try_ident().unwrap_or_default();
                let v = self.param_or(format!("?{name}"))?;
                Ok(match crate::query::number(&v) {
                    Some(n) => Expr::Num(n),
                    None => Expr::Str(v),
                })
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let r = self.rest();
                let mut end = r
                    .char_indices()
                    .find(|(_, c)| !(c.is_ascii_digit() || *c == '.'))
                    .map(|(i, _)| i)
                    .unwrap_or(r.len());
                // Exponent: 1e6, 2.5E-3.
                if r[end..].starts_with(['e', 'E']) {
                    let e = &r[end + 1..];
                    let sign = usize::from(e.starts_with(['+', '-']));
                    let digits = e[sign..].chars().take_while(char::is_ascii_digit).count();
                    if digits > 0 {
                        end += 1 + sign + digits;
                    }
                }
                let text = &r[..end];
                let n: f64 = text
                    .parse()
                    .map_err(|_| self.err_at(start, format!("{text:?} is not a number")))?;
                self.bump(end);
                Ok(Expr::Num(n))
            }
            Some(c) if is_ident_start(c) => {
                if let Some(name) = self.try_call_name() {
                    return Ok(Expr::Call(self.call_args_mode(name, start, true)?));
                }
                let id = self.try_ident().unwrap_or_default();
                if id.eq_ignore_ascii_case("true") {
                    return Ok(Expr::Str("true".into()));
                }
                if id.eq_ignore_ascii_case("false") {
                    return Ok(Expr::Str("false".into()));
                }
                Ok(Expr::Field(id))
            }
            _ => Err(self.err("expected a field, number, \"string\" or ( in the expression")),
        }
    }
}
