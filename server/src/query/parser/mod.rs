//! Scannerless recursive-descent parser for the LogScale query language. Words mean different
//! things in filter position (`host=web-*`, a glob), in expressions (`a-b`, arithmetic) and in
//! arguments (`span=1h`), so the parser reads characters directly instead of a token stream.
//!
//! Filter precedence follows LogScale's grammar: `not` binds tightest, then `or`, then `and`
//! (also implicit, by juxtaposition): `a or b c` is `(a or b) and c`. Every error carries the byte position and says what was expected.
//!
//! This file holds the entry points, the cursor and pipelines/stages; the grammar's other parts
//! are `impl P` blocks in `words.rs` (names, strings, regexes, parameters), `filters.rs`,
//! `calls.rs` (function arguments) and `exprs.rs`.

mod calls;
mod exprs;
mod filters;
#[cfg(test)]
mod tests;
mod words;

use std::collections::HashMap;

use super::ast::*;
use super::ParseError;

/// Deepest nesting of parentheses, sub-pipelines and expressions accepted (a guard against
/// stack exhaustion on hostile input).
const MAX_DEPTH: usize = 64;

/// Parses a query string with no `?parameters`.
pub fn parse(src: &str) -> Result<Query, ParseError> {
    parse_with(src, &HashMap::new())
}

/// Parses a query string, substituting `?name` by `params[name]`.
pub fn parse_with(src: &str, params: &HashMap<String, String>) -> Result<Query, ParseError> {
    let mut p = P {
        s: src,
        pos: 0,
        depth: 0,
        params,
    };
    let stages = p.pipeline()?;
    p.ws();
    if p.pos < src.len() {
        return Err(p.err("expected | or the end of the query"));
    }
    Ok(Query { stages })
}

struct P<'a> {
    s: &'a str,
    pos: usize,
    depth: usize,
    params: &'a HashMap<String, String>,
}

fn is_filter_word_char(c: char) -> bool {
    !c.is_whitespace() && !"|()[]{},=!<>\";".contains(c)
}

fn is_value_word_char(c: char) -> bool {
    !c.is_whitespace() && !"|()[]{},=\";".contains(c)
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '@' || c == '#'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || "_.@#-".contains(c)
}

impl<'a> P<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }
    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }
    fn starts(&self, t: &str) -> bool {
        self.rest().starts_with(t)
    }
    fn bump(&mut self, n: usize) {
        self.pos += n;
    }

    /// Skips whitespace and comments.
    fn ws(&mut self) {
        loop {
            let r = self.rest();
            let t = r.trim_start();
            self.pos += r.len() - t.len();
            if self.starts("//") {
                match self.rest().find('\n') {
                    Some(i) => self.pos += i + 1,
                    None => self.pos = self.s.len(),
                }
            } else if self.starts("/*") {
                match self.rest()[2..].find("*/") {
                    Some(i) => self.pos += i + 4,
                    None => self.pos = self.s.len(),
                }
            } else {
                return;
            }
        }
    }

    fn describe_here(&self) -> String {
        match self.peek() {
            None => "the end of the query".into(),
            Some(c) if is_filter_word_char(c) => {
                let w: String = self
                    .rest()
                    .chars()
                    .take_while(|c| is_filter_word_char(*c))
                    .take(30)
                    .collect();
                format!("{w:?}")
            }
            Some(c) => format!("{:?}", c.to_string()),
        }
    }

    fn err(&self, expected: &str) -> ParseError {
        ParseError {
            position: self.pos,
            message: format!("{expected}, found {}", self.describe_here()),
        }
    }

    fn err_at(&self, pos: usize, msg: impl Into<String>) -> ParseError {
        ParseError {
            position: pos,
            message: msg.into(),
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err_at(
                self.pos,
                format!("the query nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// True at a keyword (`and`, `or`, `not`, ...) followed by a non-word character.
    fn at_keyword(&self, kw: &str) -> bool {
        let r = self.rest();
        r.len() >= kw.len()
            && r.is_char_boundary(kw.len())
            && r[..kw.len()].eq_ignore_ascii_case(kw)
            && !r[kw.len()..]
                .chars()
                .next()
                .is_some_and(|c| is_filter_word_char(c) && c != '/')
    }

    /// True where a stage ends: `|`, `;`, `}`, `)` or the end of input.
    fn at_stage_end(&self) -> bool {
        matches!(
            self.peek(),
            None | Some('|') | Some(';') | Some('}') | Some(')')
        )
    }

    // ---- pipelines and stages ----

    fn pipeline(&mut self) -> Result<Vec<Stage>, ParseError> {
        self.enter()?;
        let mut stages = Vec::new();
        loop {
            self.ws();
            if self.at_stage_end() {
                // An empty stage (empty query, `| |`) matches everything; a trailing `|` is an error.
                if self.peek() == Some('|') || stages.is_empty() {
                    if self.peek() != Some('|') {
                        break;
                    }
                } else {
                    break;
                }
            } else {
                stages.push(self.stage()?);
                self.ws();
            }
            if self.peek() == Some('|') {
                self.bump(1);
                self.ws();
                if matches!(self.peek(), None | Some(';') | Some('}') | Some(')')) {
                    return Err(self.err("expected a filter or function after |"));
                }
                continue;
            }
            break;
        }
        self.leave();
        Ok(stages)
    }

    fn stage(&mut self) -> Result<Stage, ParseError> {
        let start = self.pos;
        if self.at_keyword("case") {
            let save = self.pos;
            self.bump(4);
            self.ws();
            if self.peek() == Some('{') {
                return self.case(start);
            }
            self.pos = save;
        }
        if let Some(id) = self.try_ident() {
            self.ws();
            if self.starts(":=") {
                self.bump(2);
                self.ws();
                let expr = self.expr()?;
                return Ok(Stage::Assign {
                    field: id,
                    expr,
                    pos: start,
                });
            }
            if self.starts("=~") {
                // `field =~ f(...)` alone is the stage `f(..., field=field)`, so row functions
                // (regex with extraction, wildcard, cidr, ...) keep their full meaning.
                self.bump(2);
                let call = self.field_match(id.clone(), start)?;
                self.ws();
                if self.at_stage_end() {
                    return Ok(Stage::Call(call));
                }
            }
            if self.at_keyword("match") {
                let save = self.pos;
                self.bump(5);
                self.ws();
                if self.peek() == Some('{') {
                    return self.match_stage(id, start);
                }
                self.pos = save;
            }
            self.pos = start;
        }
        // A stage that is a single function call.
        if let Some(name) = self.try_call_name() {
            let call = self.call_args(name, start)?;
            self.ws();
            if self.at_stage_end() {
                return Ok(Stage::Call(call));
            }
            // A filter function followed by more filter terms: `in(...) or x=1`.
            self.pos = start;
        }
        Ok(Stage::Filter(self.filter_expr()?))
    }

    fn case(&mut self, start: usize) -> Result<Stage, ParseError> {
        self.bump(1); // {
        let mut branches = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some('}') {
                self.bump(1);
                break;
            }
            branches.push(self.pipeline()?);
            self.ws();
            match self.peek() {
                Some(';') => self.bump(1),
                Some('}') => {
                    self.bump(1);
                    break;
                }
                _ => return Err(self.err("expected ; or } in case")),
            }
        }
        if branches.is_empty() {
            return Err(self.err_at(start, "case { } needs at least one branch"));
        }
        Ok(Stage::Case {
            branches,
            pos: start,
        })
    }

    fn match_stage(&mut self, field: String, start: usize) -> Result<Stage, ParseError> {
        self.bump(1); // {
        let mut arms = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some('}') {
                self.bump(1);
                break;
            }
            let pat = match self.peek() {
                Some('/') => MatchPattern::Regex(self.regex()?),
                Some('"') => MatchPattern::Glob(self.quoted()?),
                _ => {
                    let w = self.word(is_filter_word_char);
                    if w.is_empty() {
                        return Err(self.err("expected a value, glob or /regex/ before =>"));
                    }
                    MatchPattern::Glob(self.param_or(w)?)
                }
            };
            self.ws();
            if !self.starts("=>") {
                return Err(self.err("expected => after the match pattern"));
            }
            self.bump(2);
            let body = self.pipeline()?;
            arms.push((pat, body));
            self.ws();
            match self.peek() {
                Some(';') => self.bump(1),
                Some('}') => {
                    self.bump(1);
                    break;
                }
                _ => return Err(self.err("expected ; or } in match")),
            }
        }
        if arms.is_empty() {
            return Err(self.err_at(start, "match { } needs at least one arm"));
        }
        Ok(Stage::Match {
            field,
            arms,
            pos: start,
        })
    }
}
