//! JSON flattening, LogScale style: ingest stores nested objects as dotted fields and
//! `parseJson()` must name them the same way at query time.

use std::collections::BTreeMap;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_and_arrays_become_dotted_names() {
        let v: serde_json::Value =
            serde_json::from_str(r#"{"a":{"b":1,"c":[true,"x",null]},"d":"s"}"#).unwrap();
        let mut out = BTreeMap::new();
        flatten_json("", &v, &mut out);
        assert_eq!(out["a.b"], "1");
        assert_eq!(out["a.c[0]"], "true");
        assert_eq!(out["a.c[1]"], "x");
        assert!(!out.contains_key("a.c[2]"));
        assert_eq!(out["d"], "s");
        let mut out = BTreeMap::new();
        flatten_json("p", &v, &mut out);
        assert_eq!(out["p.a.b"], "1");
    }
}
