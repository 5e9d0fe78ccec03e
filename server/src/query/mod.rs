//! The LogScale query language: lexer, parser and AST. A query is a pipeline of stages
//! separated by `|`; a stage is a filter expression (free text, `field=value`, `and`/`or`/
//! `not`, parentheses) or a function call. Parse errors carry the byte position and say what
//! was expected. This first version knows `count()` and `head()`; the query-language issue
//! extends the function set.

mod lexer;
mod parser;

pub use parser::parse;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub stages: Vec<Stage>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Filter(Filter),
    Count {
        field: Option<String>,
        distinct: bool,
        as_name: String,
    },
    Head {
        limit: usize,
    },
}

/// A boolean filter over events.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    /// Substring of `@rawstring`, ASCII-case-insensitive.
    FreeText(String),
    /// `field=pattern`; `*` in the pattern is a wildcard, `field=*` means the field exists.
    /// Field matches are case-sensitive. `#tag=v` compares a tag of the datasource.
    FieldMatch {
        field: String,
        pattern: String,
    },
}

/// A parse error at a byte position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} at position {position}")]
pub struct ParseError {
    pub position: usize,
    pub message: String,
}

impl Query {
    /// True when the result is an aggregate (rows) rather than events.
    pub fn is_aggregate(&self) -> bool {
        self.stages.iter().any(|s| matches!(s, Stage::Count { .. }))
    }
}

/// Matches `value` against a glob `pattern` where `*` matches any run of characters.
pub fn glob_match(pattern: &str, value: &str) -> bool {
    if !pattern.contains('*') {
        return pattern == value;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !value.starts_with(first) || value.len() < first.len() + last.len() || !value.ends_with(last)
    {
        return false;
    }
    let mut rest = &value[first.len()..value.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("web-*", "web-01"));
        assert!(glob_match("*err*", "an error"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXcYYb"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("exact", "exact"));
    }
}
