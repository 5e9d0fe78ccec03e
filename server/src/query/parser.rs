//! Scannerless recursive-descent parser for the LogScale query language. Words mean different
//! things in filter position (`host=web-*`, a glob), in expressions (`a-b`, arithmetic) and in
//! arguments (`span=1h`), so the parser reads characters directly instead of a token stream.
//!
//! Filter precedence follows LogScale: `not` binds tightest, then `and` (also implicit, by
//! juxtaposition), then `or`. Every error carries the byte position and says what was expected.

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
        Ok(Stage::Filter(self.or_filter()?))
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

    // ---- words ----

    fn word(&mut self, ok: fn(char) -> bool) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !ok(c) || (c == ':' && self.rest()[1..].starts_with('=')) {
                break;
            }
            self.bump(c.len_utf8());
        }
        self.s[start..self.pos].to_string()
    }

    fn try_ident(&mut self) -> Option<String> {
        let c = self.peek()?;
        if !is_ident_start(c) {
            return None;
        }
        let start = self.pos;
        self.bump(c.len_utf8());
        while let Some(c) = self.peek() {
            if is_ident_char(c) {
                self.bump(c.len_utf8());
            } else if c == '[' {
                // `field[0]`: array element names as produced by splitString / parseJson.
                let r = self.rest();
                let digits = r[1..].chars().take_while(char::is_ascii_digit).count();
                if digits > 0 && r[1 + digits..].starts_with(']') {
                    self.bump(digits + 2);
                } else {
                    break;
                }
            } else {
                break;
            }
        }
        Some(self.s[start..self.pos].to_string())
    }

    /// A function name directly followed by `(`; leaves the position after the `(`.
    fn try_call_name(&mut self) -> Option<String> {
        let start = self.pos;
        let c = self.peek()?;
        if !(c.is_alphabetic() || c == '_') {
            return None;
        }
        let name: String = self
            .rest()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        if self.rest()[name.len()..].starts_with('(') {
            self.bump(name.len() + 1);
            Some(name)
        } else {
            self.pos = start;
            None
        }
    }

    fn quoted(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        self.bump(1);
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err_at(start, "unterminated string: expected a closing \""));
            };
            self.bump(c.len_utf8());
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let Some(e) = self.peek() else {
                        return Err(
                            self.err_at(start, "unterminated string: expected a closing \"")
                        );
                    };
                    self.bump(e.len_utf8());
                    // Other escapes stay as written, so regexes in strings keep `\d`.
                    match e {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '"' | '\\' => out.push(e),
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn regex(&mut self) -> Result<Regex, ParseError> {
        let start = self.pos;
        self.bump(1);
        let mut pattern = String::new();
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err_at(start, "unterminated regex: expected a closing /"));
            };
            self.bump(c.len_utf8());
            match c {
                '/' => break,
                '\\' if self.peek() == Some('/') => {
                    self.bump(1);
                    pattern.push('/');
                }
                '\\' => {
                    pattern.push('\\');
                    if let Some(e) = self.peek() {
                        self.bump(e.len_utf8());
                        pattern.push(e);
                    }
                }
                c => pattern.push(c),
            }
        }
        let flags: String = self
            .rest()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect();
        let fpos = self.pos;
        self.bump(flags.len());
        if let Some(bad) = flags.chars().find(|c| !"imsgx".contains(*c)) {
            return Err(self.err_at(
                fpos,
                format!("unknown regex flag {bad:?}: expected i, m, s, g or x"),
            ));
        }
        let re = Regex { pattern, flags };
        super::compile_regex(&re).map_err(|e| self.err_at(start, e))?;
        Ok(re)
    }

    /// Substitutes `?name` by its argument.
    fn param_or(&self, w: String) -> Result<String, ParseError> {
        match w.strip_prefix('?') {
            Some(name) if !name.is_empty() => self.params.get(name).cloned().ok_or_else(|| {
                self.err_at(
                    self.pos - w.len(),
                    format!("query parameter ?{name} has no value: pass it in the query job's arguments"),
                )
            }),
            _ => Ok(w),
        }
    }

    // ---- filters ----

    fn or_filter(&mut self) -> Result<Filter, ParseError> {
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

    fn and_filter(&mut self) -> Result<Filter, ParseError> {
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

    fn not_filter(&mut self) -> Result<Filter, ParseError> {
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

    fn primary_filter(&mut self) -> Result<Filter, ParseError> {
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

    fn cmp_op(&mut self) -> Option<CmpOp> {
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

    fn comparison(&mut self, field: String, op: CmpOp, start: usize) -> Result<Filter, ParseError> {
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
            && super::number(&value).is_none()
        {
            return Err(self.err_at(
                start,
                format!("{field}{}{value}: a comparison needs a number", op_str(op)),
            ));
        }
        Ok(Filter::Compare { field, op, value })
    }

    // ---- function calls ----

    /// Parses arguments after `name(`.
    fn call_args(&mut self, name: String, pos: usize) -> Result<Call, ParseError> {
        self.call_args_mode(name, pos, false)
    }

    /// `in_expr`: positional arguments are expressions (a call inside an expression).
    fn call_args_mode(
        &mut self,
        name: String,
        pos: usize,
        in_expr: bool,
    ) -> Result<Call, ParseError> {
        self.enter()?;
        let lname = name.to_ascii_lowercase();
        let mut args = Vec::new();
        self.ws();
        if self.peek() == Some(')') {
            self.bump(1);
            self.leave();
            return Ok(Call { name, args, pos });
        }
        loop {
            self.ws();
            let at = self.pos;
            // `name=value` (but not `name==`, which is an expression).
            let mut arg_name = None;
            if let Some(id) = self.try_ident() {
                self.ws();
                if self.peek() == Some('=') && !self.starts("==") && !self.starts("=>") {
                    self.bump(1);
                    arg_name = Some(id);
                } else {
                    self.pos = at;
                }
            }
            self.ws();
            let expr_arg = match lname.as_str() {
                "eval" => arg_name.is_some(),
                "test" => arg_name.is_none(),
                "if" => arg_name.is_none() || matches!(arg_name.as_deref(), Some("then" | "else")),
                _ => in_expr && arg_name.is_none(),
            };
            let value = if expr_arg {
                ArgValue::Expr(self.expr()?)
            } else {
                self.arg_value()?
            };
            args.push(Arg {
                name: arg_name,
                value,
                pos: at,
            });
            self.ws();
            match self.peek() {
                Some(',') => self.bump(1),
                Some(')') => {
                    self.bump(1);
                    break;
                }
                _ => return Err(self.err(&format!("expected , or ) in the arguments of {name}()"))),
            }
        }
        self.leave();
        Ok(Call { name, args, pos })
    }

    fn arg_value(&mut self) -> Result<ArgValue, ParseError> {
        self.ws();
        let start = self.pos;
        match self.peek() {
            Some('[') => {
                self.enter()?;
                self.bump(1);
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some(']') {
                        self.bump(1);
                        break;
                    }
                    items.push(self.arg_value()?);
                    self.ws();
                    match self.peek() {
                        Some(',') => self.bump(1),
                        Some(']') => {
                            self.bump(1);
                            break;
                        }
                        _ => return Err(self.err("expected , or ] in the list")),
                    }
                }
                self.leave();
                Ok(ArgValue::List(items))
            }
            Some('{') => {
                self.bump(1);
                let p = self.pipeline()?;
                self.ws();
                if self.peek() != Some('}') {
                    return Err(self.err("expected } to close the sub-query"));
                }
                self.bump(1);
                Ok(ArgValue::Pipeline(p))
            }
            Some('/') => Ok(ArgValue::Regex(self.regex()?)),
            Some('"') => Ok(ArgValue::Str(self.quoted()?)),
            Some(c) if is_value_word_char(c) => {
                if let Some(name) = self.try_call_name() {
                    return Ok(ArgValue::Call(self.call_args(name, start)?));
                }
                let w = self.word(is_value_word_char);
                Ok(ArgValue::Str(self.param_or(w)?))
            }
            _ => Err(self.err("expected an argument value")),
        }
    }

    // ---- expressions ----

    fn expr(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let e = self.or_expr();
        self.leave();
        e
    }

    fn or_expr(&mut self) -> Result<Expr, ParseError> {
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

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
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

    fn cmp_expr(&mut self) -> Result<Expr, ParseError> {
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

    fn add_expr(&mut self) -> Result<Expr, ParseError> {
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

    fn mul_expr(&mut self) -> Result<Expr, ParseError> {
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

    fn unary_expr(&mut self) -> Result<Expr, ParseError> {
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

    fn atom(&mut self) -> Result<Expr, ParseError> {
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
            Some('?') => {
                self.bump(1);
                let name = self.try_ident().unwrap_or_default();
                let v = self.param_or(format!("?{name}"))?;
                Ok(match super::number(&v) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ft(s: &str) -> Filter {
        Filter::FreeText(s.into())
    }

    fn cmp(f: &str, op: CmpOp, v: &str) -> Filter {
        Filter::Compare {
            field: f.into(),
            op,
            value: v.into(),
        }
    }

    #[test]
    fn precedence() {
        let q = parse(r#"error "disk full" or warn not status=200 | count()"#).unwrap();
        assert_eq!(
            q.stages[0],
            Stage::Filter(Filter::Or(vec![
                Filter::And(vec![ft("error"), ft("disk full")]),
                Filter::And(vec![
                    ft("warn"),
                    Filter::Not(Box::new(cmp("status", CmpOp::Eq, "200")))
                ]),
            ]))
        );
        assert!(matches!(&q.stages[1], Stage::Call(c) if c.name == "count" && c.args.is_empty()));
        assert!(parse("").unwrap().stages.is_empty());
        assert_eq!(
            parse("a // c\n/* x */ b").unwrap().stages[0],
            Stage::Filter(Filter::And(vec![ft("a"), ft("b")]))
        );
        assert_eq!(
            parse("latency >= 10.5 status!=500").unwrap().stages[0],
            Stage::Filter(Filter::And(vec![
                cmp("latency", CmpOp::Ge, "10.5"),
                cmp("status", CmpOp::Ne, "500")
            ]))
        );
    }

    #[test]
    fn assignments_case_match_and_params() {
        let q = parse("x := a * 2 + b | y := lowercase(name)").unwrap();
        assert!(
            matches!(&q.stages[0], Stage::Assign { field, expr: Expr::Bin(BinOp::Add, _, _), .. } if field == "x")
        );
        assert!(
            matches!(&q.stages[1], Stage::Assign { expr: Expr::Call(c), .. } if c.name == "lowercase")
        );
        let q = parse("case { level=ERROR | s := 1; * | s := 0 }").unwrap();
        assert!(matches!(&q.stages[0], Stage::Case { branches, .. } if branches.len() == 2));
        let q =
            parse(r#"status match { "200" => ok := 1; 5* => bad := 1; /^4/ => c := 4 }"#).unwrap();
        assert!(matches!(&q.stages[0], Stage::Match { arms, .. } if arms.len() == 3));
        let mut params = HashMap::new();
        params.insert("svc".to_string(), "api".to_string());
        assert_eq!(
            parse_with("service=?svc", &params).unwrap().stages[0],
            Stage::Filter(cmp("service", CmpOp::Eq, "api"))
        );
        let e = parse("service=?nope").unwrap_err();
        assert!(e.message.contains("?nope"), "{e}");
        let q = parse("groupBy([a, b], function=[count(), avg(x)], limit=5)").unwrap();
        let Stage::Call(c) = &q.stages[0] else {
            panic!()
        };
        assert_eq!(c.args.len(), 3);
        assert!(matches!(&c.args[1].value, ArgValue::List(l) if l.len() == 2));
    }

    #[test]
    fn errors_point_at_the_problem() {
        let e = parse("status=").unwrap_err();
        assert_eq!(e.position, 7);
        assert!(e.message.contains("expected a value after status="), "{e}");
        assert!(parse("(a").unwrap_err().message.contains("expected )"));
        assert!(parse("\"open")
            .unwrap_err()
            .message
            .contains("unterminated string"));
        assert!(parse("a |").unwrap_err().message.contains("after |"));
        assert!(parse("a )")
            .unwrap_err()
            .message
            .contains("expected | or the end"));
        assert!(parse("/(/").unwrap_err().message.contains("regex"));
        assert!(parse("x < abc")
            .unwrap_err()
            .message
            .contains("needs a number"));
        assert!(parse("count(").unwrap_err().message.contains("expected"));
        let deep = "(".repeat(10_000);
        assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
    }
}
