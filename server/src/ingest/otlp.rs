//! OpenTelemetry log records → events, as LogScale maps them: each record is "translated into a
//! JSON structure" (OTLP's JSON names: `body`, `severityText`, `severityNumber`, `traceId`,
//! `spanId`, `attributes`, plus the record's `resource` and `scope`), which is the event's
//! `@rawstring`, and its fields are that structure flattened the way the json parser flattens
//! (`attributes.http.method`, `resource.attributes.service.name`, `body.user` for a structured
//! body). The timestamp is `timeUnixNano`, else `observedTimeUnixNano`, else the ingest time.
//!
//! A record that breaks the OTLP data model (a trace id that is not 16 bytes, a span id that is
//! not 8) is rejected on its own and counted, so the rest of the request is still stored and
//! the answer is a partial success naming the first problem. The ingest token's parser then
//! runs over each record's JSON ([`apply_parser`]).

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use serde_json::{Map, Number, Value};

use super::script::ParserSpec;
use super::{Batch, QueuedEvent};
use crate::text::flatten_json;

mod fast;

/// The events of one export request and the records that were refused.
#[derive(Debug, Default)]
pub struct Mapped {
    pub events: Vec<QueuedEvent>,
    /// Records refused (OTLP's `rejectedLogRecords`).
    pub rejected: i64,
    /// What was wrong with the first refused record.
    pub error: Option<String>,
}

/// Maps every log record of `req`; `now` is the timestamp of records without one.
pub fn map_request(req: ExportLogsServiceRequest, now: i64) -> Mapped {
    let mut out = Mapped::default();
    for (ri, rl) in req.resource_logs.into_iter().enumerate() {
        let resource = rl
            .resource
            .map(|r| attributes_object(&r.attributes))
            .filter(|a| !a.is_empty());
        let res_shared = Shared::of(
            "resource",
            resource
                .as_ref()
                .map(|r| {
                    Value::Object(Map::from_iter([(
                        "attributes".into(),
                        Value::Object(r.clone()),
                    )]))
                })
                .as_ref(),
        );
        for (si, sl) in rl.scope_logs.into_iter().enumerate() {
            let scope = sl.scope.as_ref().and_then(scope_object);
            let scope_shared = Shared::of("scope", scope.as_ref());
            out.events.reserve(sl.log_records.len());
            for (li, rec) in sl.log_records.into_iter().enumerate() {
                let fast = match (&res_shared, &scope_shared) {
                    (Some(r), Some(s)) => fast::map_record(&rec, r, s, now),
                    _ => None,
                };
                let mapped = match fast {
                    Some(m) => m,
                    None => map_record(&rec, resource.as_ref(), scope.as_ref(), now),
                };
                match mapped {
                    Ok(e) => out.events.push(e),
                    Err(why) => {
                        out.rejected += 1;
                        if out.error.is_none() {
                            out.error = Some(format!(
                                "resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]: {why}"
                            ));
                        }
                    }
                }
            }
        }
    }
    out
}

/// A resource's or scope's part of every record under it, made once for all of them: its
/// JSON member (`"resource":{...}`, empty without one) and its flattened fields. `None` when
/// flattening it alone had to cut (the per-record path then flattens each record whole, with
/// the per-event budget).
pub(crate) struct Shared {
    json: String,
    fields: Vec<(String, String)>,
}

impl Shared {
    fn of(name: &str, v: Option<&Value>) -> Option<Shared> {
        let Some(v) = v else {
            return Some(Shared {
                json: String::new(),
                fields: Vec::new(),
            });
        };
        let mut fields = BTreeMap::new();
        flatten_json(name, v, &mut fields);
        if fields.contains_key("@error") || fields.len() > 100 {
            return None;
        }
        Some(Shared {
            json: format!("\"{name}\":{v}"),
            fields: fields.into_iter().collect(),
        })
    }
}

/// The time of a record: `timeUnixNano`, else `observedTimeUnixNano`, else `now`.
fn record_time(rec: &LogRecord, now: i64) -> (i64, u32) {
    let nanos_since_epoch = if rec.time_unix_nano != 0 {
        rec.time_unix_nano
    } else {
        rec.observed_time_unix_nano
    };
    if nanos_since_epoch == 0 {
        (now, 0)
    } else {
        (
            (nanos_since_epoch / 1_000_000) as i64,
            (nanos_since_epoch % 1_000_000) as u32,
        )
    }
}

/// What the OTLP data model refuses in a record.
fn check_ids(rec: &LogRecord) -> Result<(), String> {
    if !rec.trace_id.is_empty() && rec.trace_id.len() != 16 {
        return Err(format!(
            "traceId must be 16 bytes, got {}",
            rec.trace_id.len()
        ));
    }
    if !rec.span_id.is_empty() && rec.span_id.len() != 8 {
        return Err(format!("spanId must be 8 bytes, got {}", rec.span_id.len()));
    }
    Ok(())
}

fn map_record(
    rec: &LogRecord,
    resource: Option<&Map<String, Value>>,
    scope: Option<&Value>,
    now: i64,
) -> Result<QueuedEvent, String> {
    check_ids(rec)?;
    let (timestamp, nanos) = record_time(rec, now);
    let mut m = Map::new();
    if rec.time_unix_nano != 0 {
        m.insert("timeUnixNano".into(), rec.time_unix_nano.to_string().into());
    }
    if rec.observed_time_unix_nano != 0 {
        m.insert(
            "observedTimeUnixNano".into(),
            rec.observed_time_unix_nano.to_string().into(),
        );
    }
    if rec.severity_number != 0 {
        m.insert("severityNumber".into(), rec.severity_number.into());
    }
    if !rec.severity_text.is_empty() {
        m.insert("severityText".into(), rec.severity_text.clone().into());
    }
    if !rec.event_name.is_empty() {
        m.insert("eventName".into(), rec.event_name.clone().into());
    }
    if let Some(b) = rec.body.as_ref().and_then(any_to_json) {
        m.insert("body".into(), b);
    }
    if !rec.attributes.is_empty() {
        m.insert(
            "attributes".into(),
            Value::Object(attributes_object(&rec.attributes)),
        );
    }
    if !rec.trace_id.is_empty() {
        m.insert("traceId".into(), hex::encode(&rec.trace_id).into());
    }
    if !rec.span_id.is_empty() {
        m.insert("spanId".into(), hex::encode(&rec.span_id).into());
    }
    if rec.flags != 0 {
        m.insert("flags".into(), rec.flags.into());
    }
    if let Some(r) = resource {
        let mut o = Map::new();
        o.insert("attributes".into(), Value::Object(r.clone()));
        m.insert("resource".into(), Value::Object(o));
    }
    if let Some(s) = scope {
        m.insert("scope".into(), s.clone());
    }
    let v = Value::Object(m);
    let mut fields = BTreeMap::new();
    flatten_json("", &v, &mut fields);
    Ok(QueuedEvent {
        timestamp,
        nanos,
        raw: v.to_string(),
        fields: fields.into_iter().collect(),
    })
}

/// The ingest token's parser over mapped records, as LogScale applies it to OTLP ("translated
/// into a JSON structure and then a parser can be applied"): the parser reads the record's JSON
/// `@rawstring`; its fields are added over the mapped ones, its tags join `#type` (the parser's
/// name), its timestamp (when it finds one) replaces the record's, a record it filters out is
/// dropped, and one it cannot parse is kept as mapped with `@error`/`@error_msg`, as for
/// other protocols. The built-in `json` parser would re-derive exactly the mapped fields (the
/// mapping is its flattening, and no top-level OTLP name is a timestamp field or a tag), so
/// records are not parsed twice for it.
pub fn apply_parser(events: Vec<QueuedEvent>, name: &str, parser: &ParserSpec) -> Vec<Batch> {
    let base = BTreeMap::from([("type".to_string(), name.to_string())]);
    if matches!(parser, ParserSpec::Builtin(n) if n == "json" || n == "none") {
        return vec![Batch { tags: base, events }];
    }
    let mut by_tags: BTreeMap<BTreeMap<String, String>, Vec<QueuedEvent>> = BTreeMap::new();
    for mut e in events {
        let mut tags = base.clone();
        match parser.parse(&e.raw) {
            Ok(Some(p)) => {
                let mut fields: BTreeMap<String, String> =
                    std::mem::take(&mut e.fields).into_iter().collect();
                fields.extend(p.fields);
                e.fields = fields.into_iter().collect();
                tags.extend(p.tags);
                if let Some((ts, nanos)) = p.timestamp {
                    (e.timestamp, e.nanos) = (ts, nanos);
                }
            }
            Ok(None) => continue,
            Err(err) => {
                e.fields.push(("@error".into(), "true".into()));
                e.fields.push(("@error_msg".into(), err.to_string()));
            }
        }
        by_tags.entry(tags).or_default().push(e);
    }
    by_tags
        .into_iter()
        .map(|(tags, events)| Batch { tags, events })
        .collect()
}

fn scope_object(s: &InstrumentationScope) -> Option<Value> {
    let mut o = Map::new();
    if !s.name.is_empty() {
        o.insert("name".into(), s.name.clone().into());
    }
    if !s.version.is_empty() {
        o.insert("version".into(), s.version.clone().into());
    }
    if !s.attributes.is_empty() {
        o.insert(
            "attributes".into(),
            Value::Object(attributes_object(&s.attributes)),
        );
    }
    (!o.is_empty()).then_some(Value::Object(o))
}

/// Attributes as a JSON object (OTLP forbids duplicate keys; the last one wins if sent).
fn attributes_object(kvs: &[KeyValue]) -> Map<String, Value> {
    kvs.iter()
        .map(|kv| {
            let v = kv
                .value
                .as_ref()
                .and_then(any_to_json)
                .unwrap_or(Value::Null);
            (kv.key.clone(), v)
        })
        .collect()
}

/// An OTLP `AnyValue` as JSON; bytes become base64 as in OTLP's JSON encoding, and a double
/// that JSON cannot hold (NaN, infinity) its text.
fn any_to_json(v: &AnyValue) -> Option<Value> {
    use any_value::Value as V;
    use base64::Engine;
    Some(match v.value.as_ref()? {
        V::StringValue(s) => Value::String(s.clone()),
        V::BoolValue(b) => Value::Bool(*b),
        V::IntValue(i) => Value::Number((*i).into()),
        V::DoubleValue(d) => Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        V::ArrayValue(a) => Value::Array(
            a.values
                .iter()
                .map(|x| any_to_json(x).unwrap_or(Value::Null))
                .collect(),
        ),
        V::KvlistValue(kv) => Value::Object(attributes_object(&kv.values)),
        V::BytesValue(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::KeyValueList;
    use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;

    fn s(v: &str) -> Option<AnyValue> {
        Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        })
    }

    fn kv(k: &str, v: Option<AnyValue>) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v,
        }
    }

    fn request(records: Vec<LogRecord>) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", s("checkout"))],
                    ..Default::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "app.logger".into(),
                        version: "1.2".into(),
                        ..Default::default()
                    }),
                    log_records: records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
    }

    fn field<'a>(e: &'a QueuedEvent, k: &str) -> Option<&'a str> {
        e.fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_record_becomes_fields_with_resource_scope_and_ids() {
        let rec = LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            severity_number: 17,
            severity_text: "ERROR".into(),
            body: Some(AnyValue {
                value: Some(any_value::Value::KvlistValue(KeyValueList {
                    values: vec![
                        kv("msg", s("disk full")),
                        kv(
                            "free",
                            Some(AnyValue {
                                value: Some(any_value::Value::IntValue(0)),
                            }),
                        ),
                    ],
                })),
            }),
            attributes: vec![kv("http.method", s("GET"))],
            trace_id: vec![0xab; 16],
            span_id: vec![0x01; 8],
            ..Default::default()
        };
        let m = map_request(request(vec![rec]), 5);
        assert_eq!(m.rejected, 0);
        let e = &m.events[0];
        assert_eq!((e.timestamp, e.nanos), (1_700_000_000_123, 456_789));
        assert_eq!(field(e, "severityText"), Some("ERROR"));
        assert_eq!(field(e, "severityNumber"), Some("17"));
        assert_eq!(field(e, "body.msg"), Some("disk full"));
        assert_eq!(field(e, "body.free"), Some("0"));
        assert_eq!(field(e, "attributes.http.method"), Some("GET"));
        assert_eq!(
            field(e, "resource.attributes.service.name"),
            Some("checkout")
        );
        assert_eq!(field(e, "scope.name"), Some("app.logger"));
        assert_eq!(field(e, "traceId"), Some("ab".repeat(16).as_str()));
        assert_eq!(field(e, "spanId"), Some("0101010101010101"));
        let raw: Value = serde_json::from_str(&e.raw).unwrap();
        assert_eq!(raw["body"]["msg"], "disk full");
    }

    #[test]
    fn timestamps_fall_back_to_observed_then_now_and_bad_ids_are_rejected_alone() {
        let observed = LogRecord {
            observed_time_unix_nano: 2_000_000_000_000_000_000,
            body: s("observed"),
            ..Default::default()
        };
        let none = LogRecord {
            body: s("no time"),
            ..Default::default()
        };
        let bad = LogRecord {
            body: s("bad"),
            trace_id: vec![1, 2, 3],
            ..Default::default()
        };
        let m = map_request(request(vec![observed, bad, none]), 42);
        assert_eq!(m.events.len(), 2);
        assert_eq!(m.events[0].timestamp, 2_000_000_000_000);
        assert_eq!(m.events[1].timestamp, 42);
        assert_eq!(field(&m.events[1], "body"), Some("no time"));
        assert_eq!(m.rejected, 1);
        let err = m.error.unwrap();
        assert!(
            err.contains("logRecords[1]") && err.contains("traceId must be 16 bytes, got 3"),
            "{err}"
        );
    }
}
