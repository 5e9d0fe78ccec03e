//! JSON flattening, LogScale style: ingest stores nested objects as dotted fields and
//! `parseJson()` must name them the same way at query time.

use std::collections::BTreeMap;

/// Fields one flattening produces at most (LogScale's default per-event field limit).
pub const MAX_FIELDS: usize = 1_000;
/// Longest flattened field name kept, in bytes.
pub const MAX_KEY_BYTES: usize = 1_024;

/// What flattening left out.
struct Budget {
    fields_left: usize,
    dropped: usize,
}

/// Flattens a JSON value into dotted field names (`a.b`, `arr[0]`), LogScale style.
///
/// Bounded, because each leaf's name repeats its whole key path: one 100 KB key over 3,000
/// children would otherwise become 300 MB of names. Past [`MAX_FIELDS`] fields, and for names
/// longer than [`MAX_KEY_BYTES`] (with everything under them), values are left out and the
/// result says so in `@error` / `@error_msg`, as LogScale flags an event it truncated.
pub fn flatten_json(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    let mut budget = Budget {
        fields_left: MAX_FIELDS,
        dropped: 0,
    };
    flatten_value(prefix, v, out, &mut budget);
    if budget.dropped > 0 {
        out.insert("@error".into(), "true".into());
        out.insert(
            "@error_msg".into(),
            format!(
                "{} JSON value(s) left out: more than {MAX_FIELDS} fields, or field names longer than {MAX_KEY_BYTES} bytes",
                budget.dropped
            ),
        );
    }
}

fn flatten_value(
    prefix: &str,
    v: &serde_json::Value,
    out: &mut BTreeMap<String, String>,
    budget: &mut Budget,
) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if prefix.len() + 1 + k.len() > MAX_KEY_BYTES {
                    budget.dropped += 1;
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_into(key, v, out, budget);
            }
        }
        serde_json::Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                if prefix.len() + 22 > MAX_KEY_BYTES {
                    budget.dropped += 1;
                    continue;
                }
                flatten_into(format!("{prefix}[{i}]"), v, out, budget);
            }
        }
        leaf => flatten_into(prefix.to_string(), leaf, out, budget),
    }
}

/// [`flatten_value`] under an already built key, which leaves move into `out` (ingest
/// flattens every attribute of every event, so one allocation per key counts).
fn flatten_into(
    key: String,
    v: &serde_json::Value,
    out: &mut BTreeMap<String, String>,
    budget: &mut Budget,
) {
    let value = match v {
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => {
            return flatten_value(&key, v, out, budget)
        }
        serde_json::Value::Null => return,
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if budget.fields_left == 0 {
        budget.dropped += 1;
        return;
    }
    budget.fields_left -= 1;
    out.insert(key, value);
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

    #[test]
    fn amplifying_documents_are_cut_and_flagged() {
        // One 100 KB key over 3,000 children: nothing under it is kept.
        let big = "k".repeat(100_000);
        let children: serde_json::Map<String, serde_json::Value> = (0..3000)
            .map(|i| (format!("c{i}"), serde_json::Value::from(i)))
            .collect();
        let v = serde_json::json!({ big: children, "ok": 1 });
        let mut out = BTreeMap::new();
        flatten_json("", &v, &mut out);
        assert_eq!(out["ok"], "1");
        assert_eq!(out["@error"], "true");
        assert!(
            out["@error_msg"].starts_with("1 JSON value(s) left out"),
            "{out:?}"
        );
        assert_eq!(out.len(), 3);

        // Wide documents keep the first MAX_FIELDS fields.
        let wide: serde_json::Map<String, serde_json::Value> = (0..5000)
            .map(|i| (format!("f{i:05}"), serde_json::Value::from(i)))
            .collect();
        let mut out = BTreeMap::new();
        flatten_json("", &serde_json::Value::Object(wide), &mut out);
        assert_eq!(out.len(), MAX_FIELDS + 2);
        assert!(out["@error_msg"].starts_with("4000 JSON value(s)"));

        // Within the limits nothing is flagged.
        let mut out = BTreeMap::new();
        flatten_json("", &serde_json::json!({"a": {"b": [1, 2]}}), &mut out);
        assert!(!out.contains_key("@error"));
    }
}
