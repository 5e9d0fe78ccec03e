//! Built-in parsers: `json`, `kv`, `accesslog` and `none`. Each turns one line into an event
//! (`@rawstring` kept as sent) with extracted fields, and takes `@timestamp` from the event
//! when it finds one, else the ingest time. Fields starting with `#` are tags.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::time;
use super::QueuedEvent;

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

/// Builds a queued event from a raw line, using `now` when no timestamp is found; `None` when
/// a parser script dropped the line.
#[allow(clippy::type_complexity)]
pub fn event_from_line(
    parser: &super::script::ParserSpec,
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

const TIMESTAMP_FIELDS: &[&str] = &["@timestamp", "timestamp", "ts", "time", "@t"];

/// Flattens a JSON value into dotted field names (`a.b`, `arr[0]`), LogScale style.
pub fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_into(key, v, out);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten_into(format!("{prefix}[{i}]"), v, out);
            }
        }
        leaf => flatten_into(prefix.to_string(), leaf, out),
    }
}

/// [`flatten_json`] under an already built key, which leaves move into `out` (ingest flattens
/// every attribute of every event, so one allocation per key counts).
fn flatten_into(key: String, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    match v {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => flatten_json(&key, v, out),
        serde_json::Value::String(s) => {
            out.insert(key, s.clone());
        }
        serde_json::Value::Null => {}
        other => {
            out.insert(key, other.to_string());
        }
    }
}

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

/// `key=value` pairs; values may be double-quoted (with `\"` escapes) or bare up to a space.
pub fn parse_kv(raw: &str) -> Parsed {
    let mut fields = BTreeMap::new();
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        // Find a key: run of [A-Za-z0-9_.@#-] followed by '='.
        let start = i;
        while i < b.len()
            && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'.' | b'@' | b'#' | b'-'))
        {
            i += 1;
        }
        if i > start && i < b.len() && b[i] == b'=' {
            let key = &raw[start..i];
            i += 1;
            let value = if i < b.len() && b[i] == b'"' {
                i += 1;
                let mut v = String::new();
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' && i + 1 < b.len() {
                        i += 1;
                    }
                    let ch_len = utf8_len(b[i]);
                    v.push_str(raw.get(i..i + ch_len).unwrap_or(""));
                    i += ch_len;
                }
                i += 1;
                v
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b',' {
                    i += 1;
                }
                raw.get(vs..i).unwrap_or("").to_string()
            };
            fields.insert(key.to_string(), value);
        } else {
            // Skip to the next separator.
            i = i.max(start + 1);
            while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b',' {
                i += 1;
            }
        }
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b',') {
            i += 1;
        }
    }
    let timestamp = find_timestamp(&fields);
    let tags = split_tags(&mut fields);
    Parsed {
        fields,
        tags,
        timestamp,
    }
}

fn utf8_len(b: u8) -> usize {
    match b {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

fn accesslog_regex() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r#"^(?P<client>\S+) \S+ (?P<userid>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<url>\S+) (?P<httpversion>[^"]+)" (?P<statuscode>\d{3}) (?P<responsesize>\S+)(?: "(?P<referrer>[^"]*)" "(?P<useragent>[^"]*)")?"#,
        )
        .expect("access log pattern is valid")
    })
}

/// Apache/nginx common and combined log format.
pub fn parse_accesslog(raw: &str) -> Parsed {
    let mut fields = BTreeMap::new();
    let mut timestamp = None;
    if let Some(c) = accesslog_regex().captures(raw) {
        for name in [
            "client",
            "userid",
            "method",
            "url",
            "httpversion",
            "statuscode",
            "responsesize",
            "referrer",
            "useragent",
        ] {
            if let Some(m) = c.name(name) {
                fields.insert(name.to_string(), m.as_str().to_string());
            }
        }
        timestamp = c
            .name("time")
            .and_then(|t| time::parse_access_log_time(t.as_str()));
    }
    Parsed {
        fields,
        tags: BTreeMap::new(),
        timestamp,
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
