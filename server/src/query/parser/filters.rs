//! Filter expressions: `or` below `and` (also by juxtaposition) below `not`, with free text,
//! globs, `field=value` comparisons and regexes as the terms.

use super::{is_filter_word_char, P};
use crate::query::ast::{CmpOp, Filter, Regex};
use crate::query::ParseError;

impl P<'_> {
    pub(super) fn or_filter(&mut self) -> Result<Filter, ParseError> {
        self.enter()?;
        let mut parts = vec![self.and_filter()?];
        loop {
            self.ws();
            if self.at_keyword("or") {
                self.bump(2);
                parts.push(self.and_filter()?);
            } else {
                break;
            }
        }
        self.leave();
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    pub(super) fn and_filter(&mut self) -> Result<Filter, ParseError> {
        let mut parts = vec![self.not_filter()?];
        loop {
            self.ws();
            if self.at_keyword("and") {
                self.bump(3);
                parts.push(self.not_filter()?);
            } else if self.at_keyword("or") || self.at_stage_end() {
                break;
            } else {
                parts.push(self.not_filter()?);
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
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
                let f = self.or_filter()?;
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
