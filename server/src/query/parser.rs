//! Recursive-descent parser: `or` binds loosest, then implicit/explicit `and`, then `not`.

use super::lexer::{lex, Tok};
use super::{Filter, ParseError, Query, Stage};

struct P {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

/// Parses a query string.
pub fn parse(src: &str) -> Result<Query, ParseError> {
    let toks = lex(src)?;
    let mut p = P {
        toks,
        pos: 0,
        end: src.len(),
    };
    let mut stages = Vec::new();
    loop {
        if p.at_end() || p.peek() == Some(&Tok::Pipe) {
            // An empty stage (empty query, or `| |`) matches everything.
            if stages.is_empty() && p.at_end() {
                break;
            }
        } else {
            stages.push(p.stage()?);
        }
        match p.peek() {
            None => break,
            Some(Tok::Pipe) => {
                p.pos += 1;
                if p.at_end() {
                    return Err(p.err("expected a filter or function after |"));
                }
            }
            Some(_) => return Err(p.err("expected | or the end of the query")),
        }
    }
    Ok(Query { stages })
}

impl P {
    fn at_end(&self) -> bool {
        self.pos >= self.toks.len()
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(_, t)| t)
    }
    fn peek_at(&self, n: usize) -> Option<&Tok> {
        self.toks.get(self.pos + n).map(|(_, t)| t)
    }
    fn here(&self) -> usize {
        self.toks.get(self.pos).map(|(i, _)| *i).unwrap_or(self.end)
    }
    fn err(&self, msg: &str) -> ParseError {
        let found = match self.peek() {
            None => "the end of the query".to_string(),
            Some(t) => format!("{t:?}"),
        };
        ParseError {
            position: self.here(),
            message: format!("{msg}, found {found}"),
        }
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        if let (Some(Tok::Word(w)), Some(Tok::LParen)) = (self.peek(), self.peek_at(1)) {
            let name = w.clone();
            let at = self.here();
            self.pos += 2;
            return self.function(&name, at);
        }
        Ok(Stage::Filter(self.or_expr()?))
    }

    fn or_expr(&mut self) -> Result<Filter, ParseError> {
        let mut parts = vec![self.and_expr()?];
        while matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("or")) {
            self.pos += 1;
            parts.push(self.and_expr()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn and_expr(&mut self) -> Result<Filter, ParseError> {
        let mut parts = vec![self.not_expr()?];
        loop {
            match self.peek() {
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("and") => {
                    self.pos += 1;
                    parts.push(self.not_expr()?);
                }
                Some(Tok::Word(w)) if w.eq_ignore_ascii_case("or") => break,
                Some(Tok::Word(_)) | Some(Tok::Quoted(_)) | Some(Tok::LParen) | Some(Tok::Bang) => {
                    parts.push(self.not_expr()?);
                }
                _ => break,
            }
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn not_expr(&mut self) -> Result<Filter, ParseError> {
        match self.peek() {
            Some(Tok::Bang) => {
                self.pos += 1;
                Ok(Filter::Not(Box::new(self.not_expr()?)))
            }
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                Ok(Filter::Not(Box::new(self.not_expr()?)))
            }
            _ => self.primary(),
        }
    }

    fn primary(&mut self) -> Result<Filter, ParseError> {
        match self.peek().cloned() {
            Some(Tok::LParen) => {
                self.pos += 1;
                let f = self.or_expr()?;
                if self.peek() != Some(&Tok::RParen) {
                    return Err(self.err("expected )"));
                }
                self.pos += 1;
                Ok(f)
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                match self.peek() {
                    Some(Tok::Eq) | Some(Tok::NotEq) => {
                        let negate = self.peek() == Some(&Tok::NotEq);
                        self.pos += 1;
                        let pattern = match self.peek().cloned() {
                            Some(Tok::Word(v)) | Some(Tok::Quoted(v)) => {
                                self.pos += 1;
                                v
                            }
                            _ => return Err(self.err(&format!("expected a value after {w}="))),
                        };
                        let f = Filter::FieldMatch { field: w, pattern };
                        Ok(if negate { Filter::Not(Box::new(f)) } else { f })
                    }
                    _ => {
                        if w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or") {
                            self.pos -= 1;
                            return Err(self.err("expected a filter before this operator"));
                        }
                        Ok(Filter::FreeText(w))
                    }
                }
            }
            Some(Tok::Quoted(s)) => {
                self.pos += 1;
                Ok(Filter::FreeText(s))
            }
            _ => {
                Err(self.err("expected a filter (a word, \"text\", field=value or a parenthesis)"))
            }
        }
    }

    /// Arguments: `value` (unnamed) or `name=value`, comma separated, up to `)`.
    fn args(&mut self) -> Result<Vec<(Option<String>, String, usize)>, ParseError> {
        let mut out = Vec::new();
        if self.peek() == Some(&Tok::RParen) {
            self.pos += 1;
            return Ok(out);
        }
        loop {
            let at = self.here();
            let name = if let (Some(Tok::Word(n)), Some(Tok::Eq)) = (self.peek(), self.peek_at(1)) {
                let n = n.clone();
                self.pos += 2;
                Some(n)
            } else {
                None
            };
            let value = match self.peek().cloned() {
                Some(Tok::Word(v)) | Some(Tok::Quoted(v)) => {
                    self.pos += 1;
                    v
                }
                _ => return Err(self.err("expected an argument value")),
            };
            out.push((name, value, at));
            match self.peek() {
                Some(Tok::Comma) => self.pos += 1,
                Some(Tok::RParen) => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return Err(self.err("expected , or ) in the argument list")),
            }
        }
    }

    fn function(&mut self, name: &str, at: usize) -> Result<Stage, ParseError> {
        let args = self.args()?;
        let bad = |pos: usize, m: String| ParseError {
            position: pos,
            message: m,
        };
        match name.to_ascii_lowercase().as_str() {
            "count" => {
                let mut field = None;
                let mut distinct = false;
                let mut as_name = "_count".to_string();
                for (n, v, pos) in args {
                    match n.as_deref() {
                        None | Some("field") => field = Some(v),
                        Some("distinct") => {
                            distinct = match v.as_str() {
                                "true" => true,
                                "false" => false,
                                _ => {
                                    return Err(bad(
                                        pos,
                                        format!(
                                            "count(): distinct must be true or false, not {v:?}"
                                        ),
                                    ))
                                }
                            }
                        }
                        Some("as") => as_name = v,
                        Some(other) => {
                            return Err(bad(pos, format!("count() has no parameter {other:?}")))
                        }
                    }
                }
                Ok(Stage::Count {
                    field,
                    distinct,
                    as_name,
                })
            }
            "head" => {
                let mut limit = 200usize;
                for (n, v, pos) in args {
                    match n.as_deref() {
                        None | Some("limit") => {
                            limit = v
                                .parse()
                                .ok()
                                .filter(|l| (1..=10_000).contains(l))
                                .ok_or_else(|| bad(pos, format!("head(): limit must be a number from 1 to 10000, not {v:?}")))?;
                        }
                        Some(other) => {
                            return Err(bad(pos, format!("head() has no parameter {other:?}")))
                        }
                    }
                }
                Ok(Stage::Head { limit })
            }
            other => Err(bad(at, format!("unknown function {other}()"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ft(s: &str) -> Filter {
        Filter::FreeText(s.into())
    }

    #[test]
    fn precedence_and_functions() {
        let q = parse(r#"error "disk full" or warn not status=200 | count()"#).unwrap();
        assert_eq!(
            q.stages[0],
            Stage::Filter(Filter::Or(vec![
                Filter::And(vec![ft("error"), ft("disk full")]),
                Filter::And(vec![
                    ft("warn"),
                    Filter::Not(Box::new(Filter::FieldMatch {
                        field: "status".into(),
                        pattern: "200".into()
                    }))
                ]),
            ]))
        );
        assert_eq!(
            q.stages[1],
            Stage::Count {
                field: None,
                distinct: false,
                as_name: "_count".into()
            }
        );
        assert_eq!(
            parse("x | head(5)").unwrap().stages[1],
            Stage::Head { limit: 5 }
        );
        assert!(parse("").unwrap().stages.is_empty());
        assert_eq!(
            parse("a // c\n/* x */ b").unwrap().stages[0],
            Stage::Filter(Filter::And(vec![ft("a"), ft("b")]))
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("status=").unwrap_err();
        assert_eq!(e.position, 7);
        assert!(e.message.contains("expected a value after status="), "{e}");
        let e = parse("a | nosuch()").unwrap_err();
        assert_eq!(e.position, 4);
        assert!(e.message.contains("unknown function nosuch()"));
        assert!(parse("(a").unwrap_err().message.contains("expected )"));
        assert!(parse("\"open")
            .unwrap_err()
            .message
            .contains("unterminated string"));
        assert!(parse("a |").unwrap_err().message.contains("after |"));
        assert!(parse("head(0)").unwrap_err().message.contains("limit"));
        assert!(parse("a )")
            .unwrap_err()
            .message
            .contains("expected | or the end"));
    }
}
