//! The lexical layer the scannerless parser reads directly: words (whose allowed characters
//! depend on the position), identifiers, call names, quoted strings, regex literals and
//! `?parameter` substitution.

use super::{is_ident_char, is_ident_start, P};
use crate::query::ast::Regex;
use crate::query::ParseError;

impl P<'_> {
    pub(super) fn word(&mut self, ok: fn(char) -> bool) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if !ok(c) || (c == ':' && self.rest()[1..].starts_with('=')) {
                break;
            }
            self.bump(c.len_utf8());
        }
        self.s[start..self.pos].to_string()
    }

    pub(super) fn try_ident(&mut self) -> Option<String> {
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
    pub(super) fn try_call_name(&mut self) -> Option<String> {
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

    pub(super) fn quoted(&mut self) -> Result<String, ParseError> {
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

    pub(super) fn regex(&mut self) -> Result<Regex, ParseError> {
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
        if let Some(bad) = flags
            .chars()
            .find(|c| !crate::query::REGEX_FLAGS.contains(*c))
        {
            return Err(self.err_at(
                fpos,
                format!("unknown regex flag {bad:?}: expected d, g, i, m or F"),
            ));
        }
        let re = Regex { pattern, flags };
        crate::query::compile_regex(&re).map_err(|e| self.err_at(start, e))?;
        Ok(re)
    }

    /// `?{name=default}` (or `?{name}`) at the cursor: the argument's value, else the default.
    /// `None` when the cursor is not at `?{`.
    pub(super) fn braced_param(&mut self) -> Result<Option<String>, ParseError> {
        if !self.starts("?{") {
            return Ok(None);
        }
        let start = self.pos;
        let Some(end) = self.rest().find('}') else {
            return Err(self.err_at(start, "unterminated parameter: expected } after ?{"));
        };
        let body = &self.rest()[2..end];
        let (name, default) = match body.split_once('=') {
            Some((n, d)) => (n.trim(), Some(d.trim())),
            None => (body.trim(), None),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        {
            return Err(self.err_at(
                start,
                format!("?{{{body}}}: a parameter is ?{{name}} or ?{{name=default}}"),
            ));
        }
        let default = default.map(|d| {
            d.strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(d)
                .to_string()
        });
        let value = match (self.params.get(name), default) {
            (Some(v), _) => v.clone(),
            (None, Some(d)) => d,
            (None, None) => {
                return Err(self.err_at(
                    start,
                    format!(
                    "query parameter ?{name} has no value: pass it in the query job's arguments"
                ),
                ))
            }
        };
        self.bump(end + 1);
        Ok(Some(value))
    }

    /// Substitutes `?name` by its argument.
    pub(super) fn param_or(&self, w: String) -> Result<String, ParseError> {
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
}
