//! The Apache/nginx access-log line format, kept apart from the ingest parser table so the
//! pattern and its field names live in one place with the timestamp form they use.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use super::time;

/// Fields of one access-log line and its timestamp when the line had a readable one.
#[derive(Debug, Default)]
pub struct AccessLog {
    pub fields: BTreeMap<String, String>,
    pub timestamp: Option<(i64, u32)>,
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

/// Apache/nginx common and combined log format; a line that does not match gives no fields.
pub fn parse_accesslog(raw: &str) -> AccessLog {
    let mut out = AccessLog::default();
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
                out.fields.insert(name.to_string(), m.as_str().to_string());
            }
        }
        out.timestamp = c
            .name("time")
            .and_then(|t| time::parse_access_log_time(t.as_str()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combined_format() {
        let a = parse_accesslog(
            r#"10.0.0.1 - - [14/Nov/2023:22:13:20 +0000] "GET /x HTTP/1.1" 200 512 "-" "curl/8""#,
        );
        assert_eq!(a.fields["statuscode"], "200");
        assert_eq!(a.fields["useragent"], "curl/8");
        assert_eq!(a.timestamp, Some((1_700_000_000_000, 0)));
        assert!(parse_accesslog("not an access log").fields.is_empty());
    }
}
