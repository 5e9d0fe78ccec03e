//! LogScale's message templates: `{placeholder}`s in action bodies, subjects and Slack fields
//! are replaced by values of the trigger (a plain search/replace, no logic). Unknown
//! placeholders are left as they are, as LogScale does, so a literal `{` in a JSON body needs
//! no escaping.
//!
//! Values are JSON-escaped (without quotes) when rendering a webhook body, so
//! `"name": "{alert_name}"` stays valid JSON whatever the name holds; `{field_raw:…}`,
//! `{events}` (a JSON array) and `{events_html}` are inserted as they are.

use chrono::{TimeZone, Utc};
use serde_json::{Map, Value};

/// Everything a template can refer to.
#[derive(Clone, Debug, Default)]
pub struct Trigger {
    pub alert_id: String,
    pub alert_name: String,
    pub alert_description: String,
    /// `AggregateAlert`, `FilterAlert`, `ScheduledSearch` or `TestAction`.
    pub alert_type: String,
    pub repo: String,
    pub query_string: String,
    /// The window as configured (`1h`, `now`).
    pub query_time_start: String,
    pub query_time_end: String,
    /// The window as run (epoch ms).
    pub query_start_ms: i64,
    pub query_end_ms: i64,
    pub triggered_ms: i64,
    pub events: Vec<Map<String, Value>>,
    pub warnings: Vec<String>,
    /// This node's URL (`--advertise-url`), for `{url}`.
    pub base_url: String,
}

/// Per-action values.
#[derive(Clone, Debug, Default)]
pub struct ActionCtx {
    pub action_id: String,
    pub invocation_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Escape {
    /// Values go inside JSON strings.
    Json,
    /// Values are inserted as they are (email, Slack fields built with a JSON encoder).
    None,
}

/// Renders `template`.
pub fn render(template: &str, t: &Trigger, a: &ActionCtx, esc: Escape) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match placeholder_end(after) {
            Some(close) => {
                let name = &after[..close];
                match value(name, t, a, esc) {
                    Some(v) => {
                        out.push_str(&v);
                        rest = &after[close + 1..];
                    }
                    // Not a placeholder (a JSON object's brace, an unknown name): keep the
                    // brace and look for placeholders inside.
                    None => {
                        out.push('{');
                        rest = after;
                    }
                }
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The index of the `}` closing a placeholder (quotes may hold any character but `"`), or
/// None when `s` does not start a placeholder.
fn placeholder_end(s: &str) -> Option<usize> {
    let mut in_quotes = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return (i > 0).then_some(i),
            '{' | '\n' if !in_quotes => return None,
            _ => {}
        }
    }
    None
}

fn value(name: &str, t: &Trigger, a: &ActionCtx, esc: Escape) -> Option<String> {
    let text = |s: &str| match esc {
        Escape::Json => json_escape(s),
        Escape::None => s.to_string(),
    };
    if let Some(f) = name.strip_prefix("field:") {
        return Some(text(&first_field(t, unquote(f))));
    }
    if let Some(f) = name.strip_prefix("field_raw:") {
        return Some(first_field(t, unquote(f)));
    }
    Some(match name {
        "name" | "alert_name" => text(&t.alert_name),
        "description" | "alert_description" => text(&t.alert_description),
        "id" | "alert_id" => text(&t.alert_id),
        "alert_type" => text(&t.alert_type),
        "triggered_timestamp" | "alert_triggered_timestamp" => iso(t.triggered_ms),
        "action_id" | "alert_notifier_id" => text(&a.action_id),
        "action_invocation_id" => text(&a.invocation_id),
        "event_count" => t.events.len().to_string(),
        "url" => text(&url(t)),
        "query_result_summary" | "events_str" => text(&events_str(&t.events)),
        "events" => Value::Array(t.events.iter().cloned().map(Value::Object).collect()).to_string(),
        "events_html" => events_html(&t.events),
        "query_string" => text(&t.query_string),
        "query_start_s" => secs(t.query_start_ms),
        "query_end_s" => secs(t.query_end_ms),
        "query_start_ms" => t.query_start_ms.to_string(),
        "query_end_ms" => t.query_end_ms.to_string(),
        "query_time_start" => text(&t.query_time_start),
        "query_time_end" => text(&t.query_time_end),
        "query_time_interval" => text(&format!("{} -> {}", t.query_time_start, t.query_time_end)),
        "warnings" => text(&t.warnings.join("\n")),
        "repo_name" | "view_name" => text(&t.repo),
        _ => return None,
    })
}

fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(s)
}

/// A field of the first event as text ("" when absent).
fn first_field(t: &Trigger, name: &str) -> String {
    match t.events.first().and_then(|e| e.get(name)) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

pub fn json_escape(s: &str) -> String {
    let quoted = Value::String(s.to_string()).to_string();
    quoted[1..quoted.len() - 1].to_string()
}

/// ISO 8601 with milliseconds, UTC.
pub fn iso(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

/// A link to the search page with the trigger's query and window.
pub fn url(t: &Trigger) -> String {
    let mut u = match url::Url::parse(&format!("{}/search", t.base_url.trim_end_matches('/'))) {
        Ok(u) => u,
        Err(_) => return String::new(),
    };
    u.query_pairs_mut()
        .append_pair("repo", &t.repo)
        .append_pair("query", &t.query_string)
        .append_pair("start", &t.query_start_ms.to_string())
        .append_pair("end", &t.query_end_ms.to_string());
    u.to_string()
}

fn field_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// One line per event: `name=value` pairs in the event's field order, `, `-separated.
pub fn events_str(events: &[Map<String, Value>]) -> String {
    events
        .iter()
        .map(|e| {
            e.iter()
                .map(|(k, v)| format!("{k}={}", field_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The events as an HTML table: every field of every event is a column, in the order the
/// fields are first seen.
pub fn events_html(events: &[Map<String, Value>]) -> String {
    let mut cols: Vec<&str> = Vec::new();
    for e in events {
        for k in e.keys() {
            if !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    let mut out = String::from("<table><tr>");
    for c in &cols {
        out.push_str(&format!("<th>{}</th>", html_escape(c)));
    }
    out.push_str("</tr>");
    for e in events {
        out.push_str("<tr>");
        for c in &cols {
            let v = e.get(*c).map(field_text).unwrap_or_default();
            out.push_str(&format!("<td>{}</td>", html_escape(&v)));
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The events as CSV (email attachments): a header of every field, then one row per event.
pub fn events_csv(events: &[Map<String, Value>]) -> String {
    let mut cols: Vec<&str> = Vec::new();
    for e in events {
        for k in e.keys() {
            if !cols.contains(&k.as_str()) {
                cols.push(k);
            }
        }
    }
    let cell = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let mut out = cols.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push('\n');
    for e in events {
        let row: Vec<String> = cols
            .iter()
            .map(|c| cell(&e.get(*c).map(field_text).unwrap_or_default()))
            .collect();
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trigger() -> Trigger {
        let e: Map<String, Value> = serde_json::from_value(
            json!({"@timestamp": 1_700_000_000_000i64, "status": "500", "My Field": "a \"q\""}),
        )
        .unwrap();
        Trigger {
            alert_id: "a1".into(),
            alert_name: "Too \"many\" errors".into(),
            alert_description: "desc".into(),
            alert_type: "AggregateAlert".into(),
            repo: "web".into(),
            query_string: "status=500 | count()".into(),
            query_time_start: "1h".into(),
            query_time_end: "now".into(),
            query_start_ms: 1_700_000_000_000,
            query_end_ms: 1_700_003_600_500,
            triggered_ms: 1_700_003_600_500,
            events: vec![e],
            warnings: vec![],
            base_url: "http://node:8080/".into(),
        }
    }

    #[test]
    fn placeholders_are_replaced_and_json_escaped_in_webhook_bodies() {
        let t = trigger();
        let a = ActionCtx {
            action_id: "act".into(),
            invocation_id: "inv".into(),
        };
        let body = r#"{"name": "{alert_name}", "n": {event_count}, "events": {events}, "q": "{query_string}", "f": "{field:"My Field"}", "s": {query_start_s}, "when": "{triggered_timestamp}", "i": "{query_time_interval}", "x": "{unknown}", "a": "{action_id}"}"#;
        let out = render(body, &t, &a, Escape::Json);
        let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(v["name"], "Too \"many\" errors");
        assert_eq!(v["n"], 1);
        assert_eq!(v["events"][0]["status"], "500");
        assert_eq!(v["q"], "status=500 | count()");
        assert_eq!(v["f"], "a \"q\"");
        assert_eq!(v["s"], 1_700_000_000.0);
        assert_eq!(v["when"], "2023-11-14T23:13:20.500Z");
        assert_eq!(v["i"], "1h -> now");
        assert_eq!(v["x"], "{unknown}", "unknown placeholders stay");
        assert_eq!(v["a"], "act");
    }

    #[test]
    fn raw_fields_summaries_and_urls() {
        let t = trigger();
        let a = ActionCtx::default();
        assert_eq!(
            render("{field_raw:\"My Field\"}", &t, &a, Escape::Json),
            "a \"q\""
        );
        assert_eq!(
            render("{events_str}", &t, &a, Escape::None),
            "@timestamp=1700000000000, My Field=a \"q\", status=500"
        );
        let html = render("{events_html}", &t, &a, Escape::None);
        assert!(html.starts_with("<table><tr><th>@timestamp</th>"), "{html}");
        assert!(html.contains("<td>a &quot;q&quot;</td>"), "{html}");
        let u = render("{url}", &t, &a, Escape::None);
        assert!(
            u.starts_with("http://node:8080/search?repo=web&query=status%3D500+%7C+count%28%29"),
            "{u}"
        );
        assert_eq!(render("a { b } {", &t, &a, Escape::None), "a { b } {");
        // A JSON body without unquoted braces inside: the outer braces are not a placeholder.
        assert_eq!(
            render(
                r#"{"id": "{alert_id}", "s": "{field:status}"}"#,
                &t,
                &a,
                Escape::Json
            ),
            r#"{"id": "a1", "s": "500"}"#
        );
        assert_eq!(render("{}", &t, &a, Escape::None), "{}");
        let csv = events_csv(&t.events);
        assert_eq!(
            csv,
            "@timestamp,My Field,status\n1700000000000,\"a \"\"q\"\"\",500\n"
        );
    }
}
