//! Line → event parsing with a request's parser (a built-in or a repository script). Every
//! protocol that carries unparsed lines (LogScale unstructured, raw, JSON, HEC raw) ends here,
//! so the API layer only decodes requests and the parsing rules live next to the parsers.

use std::collections::BTreeMap;

use super::parsers::ParseError;
use super::script::ParserSpec;
use super::{Batch, QueuedEvent};

/// A line that its parser refused; `line` counts from 1 in the order the lines came.
#[derive(Debug, thiserror::Error)]
#[error("line {line}: {source}")]
pub struct LineError {
    pub line: usize,
    #[source]
    pub source: ParseError,
}

/// Builds a queued event from a raw line, using `now` when no timestamp is found; `None` when
/// a parser script dropped the line.
#[allow(clippy::type_complexity)]
pub fn event_from_line(
    parser: &ParserSpec,
    raw: String,
    now: i64,
) -> Result<Option<(BTreeMap<String, String>, QueuedEvent)>, ParseError> {
    let Some(p) = parser.parse(&raw)? else {
        return Ok(None);
    };
    let (ts, nanos) = p.timestamp.unwrap_or((now, 0));
    Ok(Some((
        p.tags,
        QueuedEvent {
            timestamp: ts,
            nanos,
            raw,
            fields: p.fields.into_iter().collect(),
        },
    )))
}

/// Parses lines with a parser into batches keyed by the tags the parser found (added to
/// `base_tags`). `base_fields` fill in fields the parser did not set; `now` is the timestamp of
/// events without one. Lines a script drops are left out.
pub fn parse_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    parser: &ParserSpec,
    base_tags: &BTreeMap<String, String>,
    base_fields: &BTreeMap<String, String>,
    now: i64,
) -> Result<Vec<Batch>, LineError> {
    let mut by_tags: BTreeMap<BTreeMap<String, String>, Vec<QueuedEvent>> = BTreeMap::new();
    for (i, line) in lines.enumerate() {
        let Some((tags, mut ev)) =
            event_from_line(parser, line.to_string(), now).map_err(|source| LineError {
                line: i + 1,
                source,
            })?
        else {
            continue;
        };
        for (k, v) in base_fields {
            if !ev.fields.iter().any(|(n, _)| n == k) {
                ev.fields.push((k.clone(), v.clone()));
            }
        }
        let mut t = base_tags.clone();
        t.extend(tags);
        by_tags.entry(t).or_default().push(ev);
    }
    Ok(by_tags
        .into_iter()
        .map(|(tags, events)| Batch { tags, events })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_group_by_tags_and_keep_base_fields_under_parsed_ones() {
        let parser = ParserSpec::Builtin("kv".into());
        let base_tags = BTreeMap::from([("host".to_string(), "a".to_string())]);
        let base_fields = BTreeMap::from([
            ("svc".to_string(), "api".to_string()),
            ("level".to_string(), "INFO".to_string()),
        ]);
        let lines = ["level=ERROR x=1", "#env=prod y=2 ts=1700000000"];
        let batches =
            parse_lines(lines.into_iter(), &parser, &base_tags, &base_fields, 42).unwrap();
        assert_eq!(batches.len(), 2);
        let plain = batches.iter().find(|b| b.tags == base_tags).unwrap();
        let ev = &plain.events[0];
        assert_eq!(ev.timestamp, 42);
        assert!(ev.fields.contains(&("level".into(), "ERROR".into())));
        assert!(ev.fields.contains(&("svc".into(), "api".into())));
        let tagged = batches.iter().find(|b| b.tags != base_tags).unwrap();
        assert_eq!(tagged.tags["env"], "prod");
        assert_eq!(tagged.tags["host"], "a");
        assert_eq!(tagged.events[0].timestamp, 1_700_000_000_000);
    }

    #[test]
    fn a_refused_line_is_named_by_its_number() {
        let parser = ParserSpec::Builtin("json".into());
        let Err(e) = parse_lines(
            ["{}", "{bad"].into_iter(),
            &parser,
            &BTreeMap::new(),
            &BTreeMap::new(),
            0,
        ) else {
            panic!("a line that is not JSON must be refused");
        };
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("line 2: invalid JSON"), "{e}");
    }
}
