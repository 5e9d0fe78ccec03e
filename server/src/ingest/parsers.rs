//! Built-in parsers: `json`, `kv`, `accesslog` and `none`. Each turns one line into an event
//! (`@rawstring` kept as sent) with extracted fields, and takes `@timestamp` from the event
//! when it finds one, else the ingest time. Fields starting with `#` are tags.

use std::collections::BTreeMap;

use crate::text::{self, flatten_json, time};

/// Names of the built-in parsers.
pub const BUILTIN: &[&str] = &["json", "kv", "accesslog", "none"];

/// Why a line could not be parsed (only for parsers that require structure).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

/// Fields and timestamp extracted from one line.
#[derive(Debug)]
pub struct Parsed {
    pub fields: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub timestamp: Option<(i64, u32)>,
}

/// Parses `raw` with parser `name` (an unknown name is an error naming it).
pub fn parse(name: &str, raw: &str) -> Result<Parsed, ParseError> {
    match name {
        "json" => parse_json(raw),
        "kv" => Ok(parse_kv(raw)),
        "accesslog" => Ok(parse_accesslog(raw)),
        "none" | "" => Ok(Parsed {
            fields: BTreeMap::new(),
            tags: BTreeMap::new(),
            timestamp: None,
        }),
        other => Err(ParseError(format!(
            "unknown parser {other:?} (built-in parsers: {})",
            BUILTIN.join(", ")
        ))),
    }
}

const TIMESTAMP_FIELDS: &[&str] = &["@timestamp", "timestamp", "ts", "time", "@t"];

/// The first parseable timestamp among the usual timestamp fields (`@timestamp`, `timestamp`, …).
pub fn find_timestamp(fields: &BTreeMap<String, String>) -> Option<(i64, u32)> {
    TIMESTAMP_FIELDS
        .iter()
        .find_map(|k| fields.get(*k).and_then(|v| time::parse_any(v)))
}

fn split_tags(fields: &mut BTreeMap<String, String>) -> BTreeMap<String, String> {
    let tag_keys: Vec<String> = fields
        .keys()
        .filter(|k| k.starts_with('#'))
        .cloned()
        .collect();
    tag_keys
        .into_iter()
        .filter_map(|k| fields.remove(&k).map(|v| (k[1..].to_string(), v)))
        .collect()
}

fn parse_json(raw: &str) -> Result<Parsed, ParseError> {
    let v: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| ParseError(format!("invalid JSON: {e}")))?;
    if !v.is_object() {
        return Err(ParseError(
            "the json parser expects a JSON object per event".into(),
        ));
    }
    let mut fields = BTreeMap::new();
    flatten_json("", &v, &mut fields);
    let timestamp = find_timestamp(&fields);
    let tags = split_tags(&mut fields);
    Ok(Parsed {
        fields,
        tags,
        timestamp,
    })
}

/// `key=value` pairs (see [`text::parse_kv`]), with `#name` keys as tags.
pub fn parse_kv(raw: &str) -> Parsed {
    let mut fields = text::parse_kv(raw);
    let timestamp = find_timestamp(&fields);
    let tags = split_tags(&mut fields);
    Parsed {
        fields,
        tags,
        timestamp,
    }
}

/// Apache/nginx common and combined log format (see [`text::parse_accesslog`]).
pub fn parse_accesslog(raw: &str) -> Parsed {
    let a = text::parse_accesslog(raw);
    Parsed {
        fields: a.fields,
        tags: BTreeMap::new(),
        timestamp: a.timestamp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_flattens_and_finds_timestamp_and_tags() {
        let p = parse(
            "json",
            r##"{"@timestamp":"2023-11-14T22:13:20Z","a":{"b":1,"c":[true,"x"]},"#env":"prod"}"##,
        )
        .unwrap();
        assert_eq!(p.timestamp, Some((1_700_000_000_000, 0)));
        assert_eq!(p.fields["a.b"], "1");
        assert_eq!(p.fields["a.c[1]"], "x");
        assert_eq!(p.tags["env"], "prod");
        assert!(parse("json", "[1,2]").is_err());
        assert!(parse("json", "{bad")
            .unwrap_err()
            .0
            .contains("invalid JSON"));
    }

    #[test]
    fn kv_and_accesslog() {
        let p = parse_kv(r#"level=ERROR msg="disk \"full\" now" ts=1700000000 user=ü"#);
        assert_eq!(p.fields["level"], "ERROR");
        assert_eq!(p.fields["msg"], r#"disk "full" now"#);
        assert_eq!(p.fields["user"], "ü");
        assert_eq!(p.timestamp, Some((1_700_000_000_000, 0)));
        let a = parse_accesslog(
            r#"10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /x HTTP/1.1" 200 512 "-" "curl/8""#,
        );
        assert_eq!(a.fields["statuscode"], "200");
        assert_eq!(a.fields["useragent"], "curl/8");
        assert_eq!(a.timestamp, Some((1_700_000_000_000, 0)));
        assert!(parse("nope", "x").unwrap_err().0.contains("unknown parser"));
    }
}
