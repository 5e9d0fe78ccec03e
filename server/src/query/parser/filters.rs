//! Filter expressions: `and` (also by juxtaposition) below `or` below `not`, as LogScale's
//! grammar has them, with free text, globs, `field=value` comparisons, regexes, `field =~ f()`
//! and `a <=> b` as the terms.

use super::{is_filter_word_char, P};
use crate::query::ast::{Arg, ArgValue, BinOp, Call, CmpOp, Expr, Filter, Regex};
use crate::query::ParseError;

impl P<'_> {
    /// A whole filter expression. LogScale's grammar puts `and` (explicit or by
    /// juxtaposition) below `or`: `a or b c` is `(a or b) and c`
    /// (`LogicalAndFilter ::= LogicalOrFilter ('AND'? LogicalOrFilter)*`,
    /// <https://library.humio.com/data-analysis-1.76/syntax-filters.html>).
    pub(super) fn filter_expr(&mut self) -> Result<Filter, ParseError> {
        self.enter()?;
        let mut parts = vec![self.or_filter()?];
        loop {
            self.ws();
            if self.at_keyword("and") {
                self.bump(3);
                parts.push(self.or_filter()?);
            } else if self.at_stage_end() {
                break;
            } else {
                parts.push(self.or_filter()?);
            }
        }
        self.leave();
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    /// `UnaryFilter ('or' UnaryFilter)*`.
    pub(super) fn or_filter(&mut self) -> Result<Filter, ParseError> {
        let mut parts = vec![self.not_filter()?];
        loop {
            self.ws();
            if self.at_keyword("or") {
                self.bump(2);
                parts.push(self.not_filter()?);
            } else {
                break;
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    pub(super) fn not_filter(&mut self) -> Result<Filter, ParseError> {
        self.ws();
        let negation = if self.peek() == Some('!') && !self.starts("!=") {
            1
        } else if self.at_keyword("not") {
            3
        } else {
            0
        };
        if negation > 0 {
            self.bump(negation);
            self.enter()?;
            let f = self.not_filter()?;
            self.leave();
            return Ok(Filter::Not(Box::new(f)));
        }
        self.primary_filter()
    }

    pub(super) fn primary_filter(&mut self) -> Result<Filter, ParseError> {
        self.ws();
        let start = self.pos;
        match self.peek() {
            Some('(') => {
                self.bump(1);
                let f = self.filter_expr()?;
                self.ws();
                if self.peek() != Some(')') {
                    return Err(self.err("expected )"));
                }
                self.bump(1);
                Ok(f)
            }
            Some('"') => {
                let s = self.quoted()?;
                self.ws();
                if let Some(op) = self.cmp_op() {
                    return self.comparison(s, op, start);
                }
                Ok(Filter::FreeText(s))
            }
            Some('/') => Ok(Filter::FreeRegex(self.regex()?)),
            Some('?') if self.starts("?{") => {
                let w = self.braced_param()?.unwrap_or_default();
                Ok(if w.is_empty() || w == "*" {
                    Filter::And(vec![])
                } else {
                    Filter::FreeText(w)
                })
            }
            Some(c) if is_filter_word_char(c) => {
                if self.at_keyword("and") || self.at_keyword("or") {
                    return Err(self.err("expected a filter before this operator"));
                }
                if let Some(name) = self.try_call_name() {
                    return Ok(Filter::Call(self.call_args(name, start)?));
                }
                let w = self.word(is_filter_word_char);
                if w.is_empty() {
                    return Err(self.err("expected a filter"));
                }
                self.ws();
                if self.starts("=~") {
                    self.bump(2);
                    return Ok(Filter::Call(self.field_match(w, start)?));
                }
                if self.starts("<=>") {
                    self.bump(3);
                    return self.field_compare(w, start);
                }
                if let Some(op) = self.cmp_op() {
                    return self.comparison(w, op, start);
                }
                let w = self.param_or(w)?;
                if w == "*" {
                    return Ok(Filter::And(vec![]));
                }
                if w.contains('*') {
                    // A free-text glob: the parts in order, case-insensitively.
                    let pattern = w
                        .split('*')
                        .map(regex::escape)
                        .collect::<Vec<_>>()
                        .join(".*");
                    return Ok(Filter::FreeRegex(Regex {
                        pattern,
                        flags: "i".into(),
                    }));
                }
                Ok(Filter::FreeText(w))
            }
            _ => Err(self.err(
                "expected a filter (a word, \"text\", field=value, /regex/ or a parenthesis)",
            )),
        }
    }

    pub(super) fn cmp_op(&mut self) -> Option<CmpOp> {
        let ops = [
            ("!=", CmpOp::Ne),
            ("<=", CmpOp::Le),
            (">=", CmpOp::Ge),
            ("<", CmpOp::Lt),
            (">", CmpOp::Gt),
            ("=", CmpOp::Eq),
        ];
        if self.starts("=>") || self.starts("==") {
            return None;
        }
        for (t, op) in ops {
            if self.starts(t) {
                self.bump(t.len());
                return Some(op);
            }
        }
        None
    }

    pub(super) fn comparison(
        &mut self,
        field: String,
        op: CmpOp,
        start: usize,
    ) -> Result<Filter, ParseError> {
        if field.is_empty() {
            return Err(self.err_at(start, "expected a field name before the comparison"));
        }
        self.ws();
        let value = match self.peek() {
            Some('?') if self.starts("?{") => self.braced_param()?.unwrap_or_default(),
            Some('"') => self.quoted()?,
            Some('/') if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
                let re = self.regex()?;
                let f = Filter::FieldRegex { field, re };
                return Ok(if op == CmpOp::Ne {
                    Filter::Not(Box::new(f))
                } else {
                    f
                });
            }
            Some(c) if is_filter_word_char(c) => {
                let w = self.word(is_filter_word_char);
                self.param_or(w)?
            }
            _ => {
                return Err(self.err(&format!("expected a value after {field}{}", op_str(op))));
            }
        };
        if matches!(op, CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge)
            && crate::query::number(&value).is_none()
        {
            return Err(self.err_at(
                start,
                format!("{field}{}{value}: a comparison needs a number", op_str(op)),
            ));
        }
        Ok(Filter::Compare { field, op, value })
    }
}

impl P<'_> {
    /// After `field =~`: the function call the field is matched with, given `field=` as its
    /// first argument (`f =~ regex("x")` is `regex("x", field=f)`).
    pub(super) fn field_match(&mut self, field: String, start: usize) -> Result<Call, ParseError> {
        self.ws();
        let at = self.pos;
        let Some(name) = self.try_call_name() else {
            return Err(self.err(&format!(
                "expected a function after {field} =~ (regex(), in(), wildcard(), ...)"
            )));
        };
        let mut call = self.call_args(name, at)?;
        if call.args.iter().any(|a| {
            a.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case("field"))
        }) {
            return Err(self.err_at(
                start,
                format!("{field} =~ {}(): field= is already given by =~", call.name),
            ));
        }
        call.args.insert(
            0,
            Arg {
                name: Some("field".into()),
                value: ArgValue::Str(field),
                pos: start,
            },
        );
        Ok(call)
    }

    /// After `a <=>`: true when fields `a` and `b` hold the same value.
    fn field_compare(&mut self, left: String, start: usize) -> Result<Filter, ParseError> {
        self.ws();
        let right = match self.peek() {
            Some('"') => self.quoted()?,
            _ => self.word(is_filter_word_char),
        };
        if right.is_empty() {
            return Err(self.err(&format!("expected a field name after {left} <=>")));
        }
        Ok(Filter::Call(Call {
            name: "test".into(),
            args: vec![Arg {
                name: None,
                value: ArgValue::Expr(Expr::Bin(
                    BinOp::Eq,
                    Box::new(Expr::Field(left)),
                    Box::new(Expr::Field(right)),
                )),
                pos: start,
            }],
            pos: start,
        }))
    }
}

fn op_str(op: CmpOp) -> &'static str {
    match op {
        CmpOp::Eq => "=",
        CmpOp::Ne => "!=",
        CmpOp::Lt => "<",
        CmpOp::Le => "<=",
        CmpOp::Gt => ">",
        CmpOp::Ge => ">=",
    }
}
