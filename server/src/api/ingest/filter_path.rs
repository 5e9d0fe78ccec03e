//! Elasticsearch's `filter_path` response filtering, for the bulk answer: a comma-separated
//! list of dotted paths; `*` matches any run of characters within one name, `**` any number of
//! levels, a leading `-` excludes instead of includes. Arrays are transparent (a path applies to
//! every element), and objects or arrays left empty are dropped, as Elasticsearch does — so
//! `filter_path=errors,items.*.error` on a clean answer is `{"errors": false}`.

use serde_json::{Map, Value};

/// `v` filtered by `spec`; `None` when nothing is left.
pub(super) fn apply(v: Value, spec: &str) -> Option<Value> {
    let (mut inc, mut exc) = (Vec::new(), Vec::new());
    for p in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match p.strip_prefix('-') {
            Some(e) => exc.push(segments(e)),
            None => inc.push(segments(p)),
        }
    }
    let v = if inc.is_empty() {
        v
    } else {
        let refs: Vec<&[String]> = inc.iter().map(Vec::as_slice).collect();
        include(v, &refs)?
    };
    if exc.is_empty() {
        return Some(v);
    }
    let refs: Vec<&[String]> = exc.iter().map(Vec::as_slice).collect();
    exclude(v, &refs)
}

fn segments(p: &str) -> Vec<String> {
    p.split('.').map(str::to_string).collect()
}

/// Glob match of one name against a pattern segment with `*` wildcards.
fn name_matches(pat: &str, name: &str) -> bool {
    let parts: Vec<&str> = pat.split('*').collect();
    if parts.len() == 1 {
        return pat == name;
    }
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// The patterns that continue below key `k`; `Done` when one of them ends at `k`.
enum Next<'a> {
    Done,
    Deeper(Vec<&'a [String]>),
}

fn step<'a>(pats: &[&'a [String]], k: &str) -> Next<'a> {
    let mut deeper = Vec::new();
    for p in pats {
        let Some((first, rest)) = p.split_first() else {
            continue;
        };
        if first == "**" {
            // `**` may match no level (try the rest here) or this level (keep `**`).
            if rest.is_empty() {
                return Next::Done;
            }
            match step(&[rest], k) {
                Next::Done => return Next::Done,
                Next::Deeper(d) => deeper.extend(d),
            }
            deeper.push(p);
        } else if name_matches(first, k) {
            if rest.is_empty() {
                return Next::Done;
            }
            deeper.push(rest);
        }
    }
    Next::Deeper(deeper)
}

fn include(v: Value, pats: &[&[String]]) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                match step(pats, &k) {
                    Next::Done => {
                        out.insert(k, child);
                    }
                    Next::Deeper(d) if !d.is_empty() => {
                        if let Some(c) = include(child, &d) {
                            out.insert(k, c);
                        }
                    }
                    Next::Deeper(_) => {}
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let out: Vec<Value> = a.into_iter().filter_map(|x| include(x, pats)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        // A scalar where the path goes on deeper does not match.
        _ => None,
    }
}

fn exclude(v: Value, pats: &[&[String]]) -> Option<Value> {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                match step(pats, &k) {
                    Next::Done => {}
                    Next::Deeper(d) if !d.is_empty() => {
                        if let Some(c) = exclude(child, &d) {
                            out.insert(k, c);
                        }
                    }
                    Next::Deeper(_) => {
                        out.insert(k, child);
                    }
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        Value::Array(a) => {
            let out: Vec<Value> = a.into_iter().filter_map(|x| exclude(x, pats)).collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        other => Some(other),
    }
}

#[cfg(test)]
mod tests {
    use super::apply;
    use serde_json::json;

    fn answer() -> serde_json::Value {
        json!({"took": 3, "errors": true, "items": [
            {"create": {"_index": "i", "status": 201, "result": "created"}},
            {"create": {"_index": "i", "status": 400, "error": {"type": "x", "reason": "bad"}}},
        ]})
    }

    #[test]
    fn includes_with_wildcards_and_transparent_arrays() {
        let v = apply(answer(), "errors,items.*.error,items.*.status").unwrap();
        assert_eq!(
            v,
            json!({"errors": true, "items": [
                {"create": {"status": 201}},
                {"create": {"status": 400, "error": {"type": "x", "reason": "bad"}}},
            ]})
        );
        // Elements left empty are dropped, and the array with them when none is left.
        let v = apply(answer(), "errors,items.*.error").unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        let clean = json!({"errors": false, "items": [{"index": {"status": 201}}]});
        assert_eq!(
            apply(clean, "errors,items.*.error"),
            Some(json!({"errors": false}))
        );
        assert_eq!(apply(answer(), "nothing.here"), None);
    }

    #[test]
    fn double_star_and_exclusions() {
        let v = apply(answer(), "**.reason").unwrap();
        assert_eq!(
            v,
            json!({"items": [{"create": {"error": {"reason": "bad"}}}]})
        );
        let v = apply(answer(), "-took,-items.*._index").unwrap();
        assert!(v.get("took").is_none());
        assert_eq!(
            v["items"][0]["create"],
            json!({"status": 201, "result": "created"})
        );
        let v = apply(answer(), "it*s.cr*e.status").unwrap();
        assert_eq!(v["items"][1]["create"]["status"], 400);
    }
}
