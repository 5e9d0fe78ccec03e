//! `key=value` splitting, shared by the `kv` ingest parser and the `kvParse()` query function
//! so both read a line the same way. Keys are returned as written (`#tag` keys included); the
//! callers decide what tags and timestamps mean.

use std::collections::BTreeMap;

/// `key=value` pairs; values may be double-quoted (with `\"` escapes) or bare up to a space
/// or comma. A later pair with the same key wins.
pub fn parse_kv(raw: &str) -> BTreeMap<String, String> {
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
    fields
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_bare_and_non_ascii_values() {
        let f = parse_kv(r#"level=ERROR msg="disk \"full\" now" #env=prod,user=ü junk"#);
        assert_eq!(f["level"], "ERROR");
        assert_eq!(f["msg"], r#"disk "full" now"#);
        assert_eq!(f["#env"], "prod");
        assert_eq!(f["user"], "ü");
        assert_eq!(f.len(), 4);
    }
}
