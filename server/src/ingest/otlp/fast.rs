//! The common OTLP record — scalar attributes and body, as SDKs and the Collector send them —
//! mapped without building a JSON tree per record: the `@rawstring` JSON is written directly
//! and the fields pushed as they are written, with the resource's and scope's parts made once
//! per request ([`super::Shared`]). The output is exactly the general path's (same JSON text,
//! keys in the same sorted order, same fields); a record with a structured attribute or body,
//! or one that could reach flattening's limits, returns `None` and takes the general path.

use std::borrow::Cow;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use super::{check_ids, record_time, Shared};
use crate::ingest::QueuedEvent;
use crate::text::json::{MAX_FIELDS, MAX_KEY_BYTES};

/// A scalar value: its field text, and whether JSON writes it as a string.
type Leaf<'a> = Option<(Cow<'a, str>, bool)>;

/// `None` for a structured value (the general path takes it); `Some(None)` for no value.
fn leaf(v: Option<&AnyValue>) -> Option<Leaf<'_>> {
    use any_value::Value as V;
    use base64::Engine;
    let Some(v) = v.and_then(|v| v.value.as_ref()) else {
        return Some(None);
    };
    Some(Some(match v {
        V::StringValue(s) => (Cow::Borrowed(s.as_str()), true),
        V::BoolValue(b) => (Cow::Borrowed(if *b { "true" } else { "false" }), false),
        V::IntValue(i) => (Cow::Owned(i.to_string()), false),
        V::DoubleValue(d) => match serde_json::Number::from_f64(*d) {
            Some(n) => (Cow::Owned(n.to_string()), false),
            None => (Cow::Owned(d.to_string()), true),
        },
        V::BytesValue(b) => (
            Cow::Owned(base64::engine::general_purpose::STANDARD.encode(b)),
            true,
        ),
        V::ArrayValue(_) | V::KvlistValue(_) => return None,
    }))
}

/// A JSON object written member by member.
struct Obj {
    buf: Vec<u8>,
    first: bool,
}

impl Obj {
    fn new(capacity: usize) -> Obj {
        let mut buf = Vec::with_capacity(capacity);
        buf.push(b'{');
        Obj { buf, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.string(k);
        self.buf.push(b':');
    }

    fn string(&mut self, s: &str) {
        // Writing a str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.buf, s);
    }

    fn leaf(&mut self, l: &Leaf<'_>) {
        match l {
            None => self.buf.extend_from_slice(b"null"),
            Some((t, true)) => self.string(t),
            Some((t, false)) => self.buf.extend_from_slice(t.as_bytes()),
        }
    }

    fn raw(&mut self, member: &str) {
        if member.is_empty() {
            return;
        }
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.extend_from_slice(member.as_bytes());
    }

    fn finish(mut self) -> Option<String> {
        self.buf.push(b'}');
        String::from_utf8(self.buf).ok()
    }
}

/// The record as the general path maps it, or `None` when it must take that path.
pub(super) fn map_record(
    rec: &LogRecord,
    resource: &Shared,
    scope: &Shared,
    now: i64,
) -> Option<Result<QueuedEvent, String>> {
    if let Err(e) = check_ids(rec) {
        return Some(Err(e));
    }
    if rec.attributes.len() + resource.fields.len() + scope.fields.len() + 12 > MAX_FIELDS {
        return None;
    }
    // Attributes sorted by key, the last of equal keys kept (a JSON object's semantics).
    let mut attrs: Vec<(&KeyValue, Leaf<'_>)> = Vec::with_capacity(rec.attributes.len());
    for kv in &rec.attributes {
        if kv.key.len() + "attributes.".len() > MAX_KEY_BYTES {
            return None;
        }
        attrs.push((kv, leaf(kv.value.as_ref())?));
    }
    attrs.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    attrs.dedup_by(|later, earlier| {
        if later.0.key == earlier.0.key {
            std::mem::swap(later, earlier);
            true
        } else {
            false
        }
    });
    let body = leaf(rec.body.as_ref())?;
    let (timestamp, nanos) = record_time(rec, now);
    let mut fields: Vec<(String, String)> =
        Vec::with_capacity(attrs.len() + resource.fields.len() + scope.fields.len() + 10);
    let mut o = Obj::new(256 + resource.json.len() + scope.json.len());
    if !attrs.is_empty() {
        o.key("attributes");
        let mut a = Obj {
            buf: std::mem::take(&mut o.buf),
            first: true,
        };
        a.buf.push(b'{');
        for (kv, l) in &attrs {
            a.key(&kv.key);
            a.leaf(l);
            if let Some((t, _)) = l {
                fields.push((format!("attributes.{}", kv.key), t.to_string()));
            }
        }
        a.buf.push(b'}');
        o.buf = a.buf;
    }
    if let Some((t, q)) = &body {
        o.key("body");
        o.leaf(&Some((Cow::Borrowed(t.as_ref()), *q)));
        fields.push(("body".into(), t.to_string()));
    }
    if !rec.event_name.is_empty() {
        o.key("eventName");
        o.string(&rec.event_name);
        fields.push(("eventName".into(), rec.event_name.clone()));
    }
    if rec.flags != 0 {
        let f = rec.flags.to_string();
        o.key("flags");
        o.buf.extend_from_slice(f.as_bytes());
        fields.push(("flags".into(), f));
    }
    if rec.observed_time_unix_nano != 0 {
        let t = rec.observed_time_unix_nano.to_string();
        o.key("observedTimeUnixNano");
        o.string(&t);
        fields.push(("observedTimeUnixNano".into(), t));
    }
    o.raw(&resource.json);
    fields.extend(resource.fields.iter().cloned());
    o.raw(&scope.json);
    fields.extend(scope.fields.iter().cloned());
    if rec.severity_number != 0 {
        let n = rec.severity_number.to_string();
        o.key("severityNumber");
        o.buf.extend_from_slice(n.as_bytes());
        fields.push(("severityNumber".into(), n));
    }
    if !rec.severity_text.is_empty() {
        o.key("severityText");
        o.string(&rec.severity_text);
        fields.push(("severityText".into(), rec.severity_text.clone()));
    }
    if !rec.span_id.is_empty() {
        let h = hex::encode(&rec.span_id);
        o.key("spanId");
        o.string(&h);
        fields.push(("spanId".into(), h));
    }
    if rec.time_unix_nano != 0 {
        let t = rec.time_unix_nano.to_string();
        o.key("timeUnixNano");
        o.string(&t);
        fields.push(("timeUnixNano".into(), t));
    }
    if !rec.trace_id.is_empty() {
        let h = hex::encode(&rec.trace_id);
        o.key("traceId");
        o.string(&h);
        fields.push(("traceId".into(), h));
    }
    let raw = o.finish()?;
    Some(Ok(QueuedEvent {
        timestamp,
        nanos,
        raw,
        fields,
    }))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use opentelemetry_proto::tonic::common::v1::{any_value::Value as V, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;

    use super::super::{attributes_object, map_record as general, scope_object, Shared};
    use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
    use serde_json::{Map, Value};

    fn kv(k: &str, v: Option<V>) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: v.map(|v| AnyValue { value: Some(v) }),
        }
    }

    /// Every scalar kind, escapes, duplicate keys, missing values and every record field: the
    /// fast path's event is the general path's, byte for byte and field for field.
    #[test]
    fn the_fast_path_maps_exactly_as_the_general_one() {
        let res_attrs = vec![kv("service.name", Some(V::StringValue("svc \"a\"".into())))];
        let resource = attributes_object(&res_attrs);
        let res_v = Value::Object(Map::from_iter([(
            "attributes".to_string(),
            Value::Object(resource.clone()),
        )]));
        let scope = scope_object(&InstrumentationScope {
            name: "lib".into(),
            version: "2".into(),
            ..Default::default()
        });
        let records = [
            LogRecord {
                time_unix_nano: 1_700_000_000_123_456_789,
                observed_time_unix_nano: 1_700_000_001_000_000_000,
                severity_number: 9,
                severity_text: "INFO".into(),
                event_name: "ev".into(),
                flags: 1,
                body: Some(AnyValue {
                    value: Some(V::StringValue("line\n\"quoted\" é".into())),
                }),
                attributes: vec![
                    kv("z", Some(V::IntValue(-3))),
                    kv("a", Some(V::BoolValue(true))),
                    kv("d", Some(V::DoubleValue(1.5))),
                    kv("nan", Some(V::DoubleValue(f64::NAN))),
                    kv("b", Some(V::BytesValue(vec![1, 2, 3]))),
                    kv("dup", Some(V::StringValue("first".into()))),
                    kv("dup", Some(V::StringValue("last".into()))),
                    kv("none", None),
                ],
                trace_id: vec![7; 16],
                span_id: vec![9; 8],
                ..Default::default()
            },
            LogRecord::default(),
        ];
        for with_context in [true, false] {
            let (r, s) = if with_context {
                (Some(&resource), scope.as_ref())
            } else {
                (None, None)
            };
            let rs = Shared::of("resource", r.map(|_| &res_v)).unwrap();
            let ss = Shared::of("scope", s).unwrap();
            for rec in &records {
                let fast = super::map_record(rec, &rs, &ss, 77).unwrap().unwrap();
                let slow = general(rec, r, s, 77).unwrap();
                assert_eq!(fast.raw, slow.raw);
                assert_eq!((fast.timestamp, fast.nanos), (slow.timestamp, slow.nanos));
                let f: BTreeMap<_, _> = fast.fields.into_iter().collect();
                let g: BTreeMap<_, _> = slow.fields.into_iter().collect();
                assert_eq!(f, g);
            }
        }
        // A structured body is the general path's.
        let nested = LogRecord {
            body: Some(AnyValue {
                value: Some(V::ArrayValue(Default::default())),
            }),
            ..Default::default()
        };
        let empty = Shared::of("scope", None).unwrap();
        assert!(super::map_record(&nested, &empty, &empty, 0).is_none());
    }
}
