//! Custom parsers: a repository's parser is a LogScale query script (`parseJson() | ...`,
//! `/(?<level>\w+) /`, `kvParse() | @timestamp := parseTimestamp(...)`) run over each incoming
//! line at ingest. Filters in the script drop lines; the fields it leaves become the event's
//! fields, `#name` fields its tags, and `@timestamp` (epoch ms, as `parseTimestamp` sets it)
//! its timestamp.

use std::collections::BTreeMap;

use super::parsers::{self, find_timestamp, Parsed};
use crate::query::{self, Plan, PlanOptions, Row};
use crate::text::time;

/// A compiled parser script.
pub struct ScriptParser {
    plan: Plan,
}

impl ScriptParser {
    /// Compiles `script`; errors carry the parser's position ("... at position N").
    pub fn compile(script: &str) -> Result<ScriptParser, String> {
        let q = query::parse(script).map_err(|e| e.to_string())?;
        let plan = query::compile(
            &q,
            PlanOptions {
                start: i64::MIN,
                end: i64::MAX,
                default_limit: 1,
                zone: crate::query::Zone::UTC,
            },
        )
        .map_err(|e| e.to_string())?;
        if plan.is_aggregate() || !plan.suffix.is_empty() {
            return Err(
                "a parser runs per event: aggregate functions (count, groupBy, head, sort, ...) are not allowed"
                    .into(),
            );
        }
        Ok(ScriptParser { plan })
    }

    /// Runs the script over one line; `None` when the script filtered it out.
    pub fn parse(&self, raw: &str) -> Option<Parsed> {
        let mut row = Row {
            fields: vec![("@rawstring".to_string(), raw.to_string())],
            ..Row::default()
        };
        if !self.plan.leading.apply(&mut row) {
            return None;
        }
        for op in &self.plan.prefix {
            if !op.apply(&mut row) {
                return None;
            }
        }
        let mut fields = BTreeMap::new();
        let mut tags = BTreeMap::new();
        let mut ts = None;
        for (k, v) in row.fields {
            if k == "@rawstring" {
                continue;
            }
            if k == "@timestamp" {
                ts = query::number(&v).map(|ms| (ms as i64, 0));
                if ts.is_none() {
                    ts = time::parse_any(&v);
                }
            } else if let Some(t) = k.strip_prefix('#') {
                tags.insert(t.to_string(), v);
            } else if !k.starts_with('@') {
                fields.insert(k, v);
            }
        }
        let timestamp = ts.or_else(|| find_timestamp(&fields));
        Some(Parsed {
            fields,
            tags,
            timestamp,
        })
    }
}

/// The parser an ingest request uses: a built-in by name, or a repository's script.
pub enum ParserSpec {
    Builtin(String),
    Script(Box<ScriptParser>),
}

impl ParserSpec {
    /// Resolves `name` in `repo`: a repository parser of that name wins over a built-in
    /// (as in LogScale, where repository parsers can shadow the built-in ones).
    pub fn resolve(state: &strata_global::State, repo: &str, name: &str) -> Result<Self, String> {
        if let Some(p) = state
            .repositories
            .get(repo)
            .and_then(|r| r.parsers.get(name))
        {
            return ScriptParser::compile(&p.script)
                .map(|p| ParserSpec::Script(Box::new(p)))
                .map_err(|e| format!("parser {name:?} does not compile: {e}"));
        }
        if parsers::BUILTIN.contains(&name) {
            return Ok(ParserSpec::Builtin(name.to_string()));
        }
        Err(format!(
            "unknown parser {name:?} (built-in parsers: {})",
            parsers::BUILTIN.join(", ")
        ))
    }

    /// Parses one line; `Ok(None)` when a script dropped it.
    pub fn parse(&self, raw: &str) -> Result<Option<Parsed>, parsers::ParseError> {
        match self {
            ParserSpec::Builtin(n) => parsers::parse(n, raw).map(Some),
            ParserSpec::Script(s) => Ok(s.parse(raw)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_extracts_fields_tags_and_timestamp() {
        let p = ScriptParser::compile(
            r#"/^(?<ts>\S+) (?<level>\w+) (?<msg>.*)$/ | #env := "prod" | @timestamp := parseTimestamp(field=ts)"#,
        )
        .unwrap();
        let out = p.parse("2024-05-01T10:00:00Z ERROR disk full").unwrap();
        assert_eq!(out.fields["level"], "ERROR");
        assert_eq!(out.fields["msg"], "disk full");
        assert_eq!(out.tags["env"], "prod");
        assert_eq!(out.timestamp, Some((1_714_557_600_000, 0)));
        // A line the regex does not match is dropped.
        assert!(p.parse("garbage").is_none());
    }

    #[test]
    fn aggregates_and_bad_scripts_are_refused_with_a_reason() {
        assert!(ScriptParser::compile("count()")
            .err()
            .unwrap()
            .contains("aggregate"));
        assert!(ScriptParser::compile("parseJson(")
            .err()
            .unwrap()
            .contains("position"));
    }
}
