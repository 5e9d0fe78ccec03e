//! Function-call arguments: `name=value` pairs, lists, sub-queries, regexes and nested calls;
//! which arguments are expressions depends on the function (`eval`, `test`, `if`).

use super::{is_value_word_char, P};
use crate::query::ast::{Arg, ArgValue, Call};
use crate::query::ParseError;

impl P<'_> {
    /// Parses arguments after `name(`.
    pub(super) fn call_args(&mut self, name: String, pos: usize) -> Result<Call, ParseError> {
        self.call_args_mode(name, pos, false)
    }

    /// `in_expr`: positional arguments are expressions (a call inside an expression).
    pub(super) fn call_args_mode(
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
                "text:contains" => true,
                _ => in_expr && arg_name.is_none(),
            };
            let value = if lname == "coalesce"
                && matches!(arg_name.as_deref(), None | Some("expressions"))
                && self.peek() == Some('[')
            {
                // coalesce([a, "text", b * 2]): a list of expressions.
                self.bump(1);
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some(']') {
                        self.bump(1);
                        break;
                    }
                    items.push(ArgValue::Expr(self.expr()?));
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
                ArgValue::List(items)
            } else if expr_arg {
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

    pub(super) fn arg_value(&mut self) -> Result<ArgValue, ParseError> {
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
            Some('?') if self.starts("?{") => {
                Ok(ArgValue::Str(self.braced_param()?.unwrap_or_default()))
            }
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
}
