//! Tokens of the query language, each with its byte position.

use super::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// Bare word (field names, free text, values, function names).
    Word(String),
    /// Double-quoted string, unescaped.
    Quoted(String),
    LParen,
    RParen,
    Pipe,
    Comma,
    Eq,
    NotEq,
    Bang,
    LBracket,
    RBracket,
}

fn is_word_byte(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '(' | ')' | '|' | ',' | '=' | '!' | '"' | '[' | ']')
}

/// Splits a query into tokens, skipping whitespace and `//` / `/* */` comments.
pub fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let mut out = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        if src[i..].starts_with("//") {
            while let Some(&(_, c)) = it.peek() {
                if c == '\n' {
                    break;
                }
                it.next();
            }
            continue;
        }
        if src[i..].starts_with("/*") {
            let Some(end) = src[i + 2..].find("*/") else {
                return Err(ParseError {
                    position: i,
                    message: "unterminated /* comment".into(),
                });
            };
            let stop = i + 2 + end + 2;
            while let Some(&(j, _)) = it.peek() {
                if j >= stop {
                    break;
                }
                it.next();
            }
            continue;
        }
        let single = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '|' => Some(Tok::Pipe),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Eq),
            '[' => Some(Tok::LBracket),
            ']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(t) = single {
            it.next();
            out.push((i, t));
            continue;
        }
        if c == '!' {
            it.next();
            if let Some(&(_, '=')) = it.peek() {
                it.next();
                out.push((i, Tok::NotEq));
            } else {
                out.push((i, Tok::Bang));
            }
            continue;
        }
        if c == '"' {
            it.next();
            let mut s = String::new();
            let mut closed = false;
            while let Some((_, c)) = it.next() {
                match c {
                    '"' => {
                        closed = true;
                        break;
                    }
                    '\\' => match it.next() {
                        Some((_, 'n')) => s.push('\n'),
                        Some((_, 't')) => s.push('\t'),
                        Some((_, c)) => s.push(c),
                        None => break,
                    },
                    c => s.push(c),
                }
            }
            if !closed {
                return Err(ParseError {
                    position: i,
                    message: "unterminated string, expected a closing \"".into(),
                });
            }
            out.push((i, Tok::Quoted(s)));
            continue;
        }
        let mut s = String::new();
        while let Some(&(_, c)) = it.peek() {
            if !is_word_byte(c) {
                break;
            }
            s.push(c);
            it.next();
        }
        out.push((i, Tok::Word(s)));
    }
    Ok(out)
}
