//! Rows: what operators see. A [`Row`] is a materialised event or aggregate result (ordered
//! name/value pairs, all strings, as LogScale shows them). [`Source`] is the read-only view
//! filters and aggregates need, implemented by rows and by column views over a decoded
//! segment block, so a `count()` or `groupBy()` over a segment never materialises events.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};
use strata_segment::{Event, EventId};

/// Ordering key of an event: `@timestamp`, sub-ms part, queue position.
pub type RowKey = (i64, u32, EventId);

/// Read access to one event or row.
pub trait Source {
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;
    /// `@timestamp` in epoch ms (0 for rows that have none).
    fn timestamp(&self) -> i64;
}

/// A materialised event or result row.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub key: RowKey,
    pub fields: Vec<(String, String)>,
}

impl Row {
    /// LogScale's event shape: built-ins, `#repo`, tags as `#name`, then the event's fields.
    pub fn from_event(e: &Event, repo: &str, tags: &BTreeMap<String, String>) -> Row {
        let mut fields = Vec::with_capacity(6 + tags.len() + e.fields.len());
        fields.push(("@timestamp".to_string(), e.timestamp.to_string()));
        fields.push(("@rawstring".to_string(), e.raw.clone()));
        fields.push(("@id".to_string(), e.id.to_string()));
        fields.push((
            "@ingesttimestamp".to_string(),
            e.ingest_timestamp.to_string(),
        ));
        if e.timestamp_nanos != 0 {
            fields.push((
                "@timestamp.nanos".to_string(),
                e.timestamp_nanos.to_string(),
            ));
        }
        fields.push(("#repo".to_string(), repo.to_string()));
        for (k, v) in tags {
            fields.push((format!("#{k}"), v.clone()));
        }
        for (k, v) in &e.fields {
            if !fields.iter().any(|(n, _)| n == k) {
                fields.push((k.clone(), v.clone()));
            }
        }
        Row {
            key: e.sort_key(),
            fields,
        }
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a field (replacing an existing value in place, else appending).
    pub fn set(&mut self, name: &str, value: String) {
        if name == "@timestamp" {
            if let Some(n) = super::number(&value) {
                self.key.0 = n as i64;
            }
        }
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = value,
            None => self.fields.push((name.to_string(), value)),
        }
    }

    pub fn remove(&mut self, name: &str) -> Option<String> {
        let i = self.fields.iter().position(|(n, _)| n == name)?;
        Some(self.fields.remove(i).1)
    }

    /// The row as a JSON object; `@timestamp` of events is a number, as in LogScale.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        for (k, v) in &self.fields {
            let val = if k == "@timestamp" {
                v.parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(v.clone()))
            } else {
                Value::from(v.clone())
            };
            m.insert(k.clone(), val);
        }
        m
    }
}

impl Source for Row {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get_str(name).map(Cow::Borrowed)
    }
    fn timestamp(&self) -> i64 {
        self.key.0
    }
}
