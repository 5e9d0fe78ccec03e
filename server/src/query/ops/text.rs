//! Text and encoding row functions: `crypto:md5`/`sha1`/`sha256`, `hash`, `base64Encode`/
//! `base64Decode`, `urlEncode`/`urlDecode`, `parseInt`, `parseHexString`, `parseCsv`,
//! `parseXml`, `parseUrl`/`parseUri`, `formatDuration`, `duration`, `eventSize`, `coalesce`. Parameters and
//! defaults are LogScale's (LogScale function reference, `functions-<name>.html`); the
//! compiler (`compile/text_functions.rs`) fills them in.

use base64::Engine;
use md5::Digest;

use crate::query::ast::Expr;
use crate::query::expr::{self, Value};
use crate::query::row::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashKind {
    Md5,
    Sha1,
    Sha256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    Utf8,
    Latin1,
}

pub enum TextFn {
    /// `crypto:*`: the hex digest of the fields' concatenated UTF-8 (missing = empty).
    Crypto {
        fields: Vec<String>,
        as_: String,
        kind: HashKind,
    },
    /// `hash()`: a non-cryptographic hash in [0, 2^32), modulo `limit`.
    Hash {
        fields: Vec<String>,
        as_: String,
        limit: Option<u64>,
        seed: String,
    },
    Base64Encode {
        field: String,
        as_: String,
        charset: Charset,
    },
    Base64Decode {
        field: String,
        as_: String,
        charset: Charset,
    },
    UrlEncode {
        field: String,
        as_: String,
    },
    UrlDecode {
        field: String,
        as_: String,
    },
    ParseInt {
        field: String,
        as_: String,
        radix: u32,
        little_endian: bool,
    },
    ParseHexString {
        field: String,
        as_: String,
        charset: Charset,
    },
    ParseCsv {
        field: String,
        columns: Vec<String>,
        delimiter: char,
        trim: bool,
        exclude_empty: bool,
    },
    /// `parseXml(field, prefix)`.
    ParseXml {
        field: String,
        prefix: String,
    },
    /// `parseUrl()`/`parseUri()`: components as `<as>.scheme`, `.host`, ...
    ParseUrl {
        field: String,
        as_: String,
    },
    FormatDuration {
        field: String,
        as_: String,
        /// Nanoseconds in one input unit.
        from_ns: u64,
        precision: usize,
    },
    /// `duration("1h")`: the duration in milliseconds, a constant.
    Duration {
        ms: i64,
        as_: String,
    },
    EventSize {
        as_: String,
    },
    Coalesce {
        exprs: Vec<Expr>,
        as_: String,
        ignore_empty: bool,
    },
}

impl TextFn {
    pub fn apply(&self, row: &mut Row) -> bool {
        match self {
            TextFn::Crypto { fields, as_, kind } => {
                let data: String = fields.iter().filter_map(|f| row.get_str(f)).collect();
                let hex = match kind {
                    HashKind::Md5 => hex::encode(md5::Md5::digest(data.as_bytes())),
                    HashKind::Sha1 => hex::encode(sha1::Sha1::digest(data.as_bytes())),
                    HashKind::Sha256 => hex::encode(sha2::Sha256::digest(data.as_bytes())),
                };
                row.set(as_, hex);
            }
            TextFn::Hash {
                fields,
                as_,
                limit,
                seed,
            } => {
                // LogScale does not name its algorithm; this one is stable across nodes and
                // releases: the first 4 bytes of SHA-256 over seed and length-prefixed values.
                let mut h = sha2::Sha256::new();
                h.update(seed.as_bytes());
                for f in fields {
                    let v = row.get_str(f).unwrap_or("");
                    h.update((v.len() as u64).to_le_bytes());
                    h.update(v.as_bytes());
                }
                let d = h.finalize();
                let n = u64::from(u32::from_be_bytes([d[0], d[1], d[2], d[3]]));
                row.set(as_, limit.map_or(n, |l| n % l).to_string());
            }
            TextFn::Base64Encode {
                field,
                as_,
                charset,
            } => {
                if let Some(v) = row.get_str(field) {
                    let bytes = encode_charset(v, *charset);
                    row.set(as_, base64::engine::general_purpose::STANDARD.encode(bytes));
                }
            }
            TextFn::Base64Decode {
                field,
                as_,
                charset,
            } => {
                if let Some(v) = row.get_str(field) {
                    let t = v.trim().trim_end_matches('=');
                    if let Ok(b) = base64::engine::general_purpose::STANDARD_NO_PAD
                        .decode(t)
                        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t))
                    {
                        row.set(as_, decode_charset(&b, *charset));
                    }
                }
            }
            TextFn::UrlEncode { field, as_ } => {
                if let Some(v) = row.get_str(field) {
                    row.set(as_, url_encode(v));
                }
            }
            TextFn::UrlDecode { field, as_ } => {
                if let Some(v) = row.get_str(field) {
                    row.set(as_, url_decode(v));
                }
            }
            TextFn::ParseInt {
                field,
                as_,
                radix,
                little_endian,
            } => {
                if let Some(n) = row
                    .get_str(field)
                    .and_then(|v| parse_int(v, *radix, *little_endian))
                {
                    row.set(as_, n.to_string());
                }
            }
            TextFn::ParseHexString {
                field,
                as_,
                charset,
            } => {
                if let Some(b) = row
                    .get_str(field)
                    .and_then(|v| hex::decode(hex_digits(v)).ok())
                {
                    row.set(as_, decode_charset(&b, *charset));
                }
            }
            TextFn::ParseCsv {
                field,
                columns,
                delimiter,
                trim,
                exclude_empty,
            } => {
                if let Some(v) = row.get_str(field).map(str::to_string) {
                    for (name, cell) in columns.iter().zip(csv_cells(&v, *delimiter)) {
                        let cell = if *trim { cell.trim().to_string() } else { cell };
                        if !(*exclude_empty && cell.is_empty()) {
                            row.set(name, cell);
                        }
                    }
                }
            }
            TextFn::ParseXml { field, prefix } => {
                if let Some(fields) = row
                    .get_str(field)
                    .and_then(|v| super::flatten_xml(v, prefix))
                {
                    for (k, v) in fields {
                        row.set(&k, v);
                    }
                }
            }
            TextFn::ParseUrl { field, as_ } => {
                if let Some(v) = row.get_str(field).map(str::to_string) {
                    for (k, val) in url_parts(&v) {
                        row.set(&format!("{as_}.{k}"), val);
                    }
                }
            }
            TextFn::FormatDuration {
                field,
                as_,
                from_ns,
                precision,
            } => {
                if let Some(n) = row
                    .get_str(field)
                    .and_then(|v| v.trim().parse::<i64>().ok())
                {
                    row.set(as_, format_duration(n, *from_ns, *precision));
                }
            }
            TextFn::Duration { ms, as_ } => row.set(as_, ms.to_string()),
            TextFn::EventSize { as_ } => {
                // Bytes of every field name and value: what the event holds, close to (not
                // exactly) LogScale's storage size.
                let n: usize = row
                    .fields
                    .iter()
                    .filter(|(k, _)| k != "@id")
                    .map(|(k, v)| k.len() + v.len())
                    .sum();
                row.set(as_, n.to_string());
            }
            TextFn::Coalesce {
                exprs,
                as_,
                ignore_empty,
            } => {
                let v = exprs
                    .iter()
                    .map(|e| expr::eval(e, &*row))
                    .find(|v| match v {
                        Value::Null => false,
                        Value::Str(s) if *ignore_empty => !s.is_empty(),
                        _ => true,
                    });
                match v.and_then(Value::into_field) {
                    Some(v) => row.set(as_, v),
                    None => {
                        row.remove(as_);
                    }
                }
            }
        }
        true
    }
}

fn encode_charset(v: &str, c: Charset) -> Vec<u8> {
    match c {
        Charset::Utf8 => v.as_bytes().to_vec(),
        // Characters outside Latin-1 become `?`, as Java's encoder does.
        Charset::Latin1 => v
            .chars()
            .map(|ch| u8::try_from(u32::from(ch)).unwrap_or(b'?'))
            .collect(),
    }
}

fn decode_charset(b: &[u8], c: Charset) -> String {
    match c {
        Charset::Utf8 => String::from_utf8_lossy(b).into_owned(),
        Charset::Latin1 => b.iter().map(|&x| char::from(x)).collect(),
    }
}

/// Java's `URLEncoder` (form encoding): space as `+`, `A-Za-z0-9.-*_` kept.
pub fn url_encode(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Java's `URLDecoder`: `%XX` bytes (as UTF-8) and `+` as space; a malformed `%` stays.
pub fn url_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(x) => {
                        out.push(x);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            x => out.push(x),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The hex digits of `v`, without a `0x`/`16#` prefix.
fn hex_digits(v: &str) -> &str {
    let t = v.trim();
    t.strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_prefix("16#"))
        .unwrap_or(t)
}

/// `parseInt`: unsigned, in `radix`; `little` reverses the byte (digit-pair) order of hex.
pub fn parse_int(v: &str, radix: u32, little: bool) -> Option<u128> {
    let mut digits = if radix == 16 {
        hex_digits(v).to_string()
    } else {
        v.trim().to_string()
    };
    if !digits.is_ascii() {
        return None;
    }
    if little && radix == 16 {
        if digits.len() % 2 == 1 {
            digits.insert(0, '0');
        }
        let pairs: Vec<&str> = (0..digits.len())
            .step_by(2)
            .map(|i| &digits[i..i + 2])
            .rev()
            .collect();
        digits = pairs.concat();
    }
    if digits.is_empty() {
        return None;
    }
    u128::from_str_radix(&digits, radix).ok()
}

/// Cells of one CSV line: `"` quotes a cell (`""` inside is a quote).
pub fn csv_cells(line: &str, delim: char) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                '"' => quoted = false,
                c => cur.push(c),
            }
        } else if c == '"' && cur.trim().is_empty() {
            cur.clear();
            quoted = true;
        } else if c == delim {
            cells.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    cells.push(cur);
    cells
}

/// The components of a URL, as LogScale names them.
pub fn url_parts(v: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let Ok(u) = url::Url::parse(v.trim()) else {
        return out;
    };
    out.push(("scheme", u.scheme().to_string()));
    if !u.username().is_empty() {
        out.push(("username", u.username().to_string()));
    }
    if let Some(p) = u.password() {
        out.push(("password", p.to_string()));
    }
    if let Some(h) = u.host_str() {
        out.push(("host", h.to_string()));
    }
    if let Some(p) = u.port_or_known_default() {
        out.push(("port", p.to_string()));
    }
    out.push(("path", u.path().to_string()));
    if let Some(q) = u.query() {
        out.push(("query", q.to_string()));
    }
    if let Some(f) = u.fragment() {
        out.push(("fragment", f.to_string()));
    }
    out
}

/// `formatDuration`: `6h30m52s553ms`; `precision` > 0 keeps that many leading units.
pub fn format_duration(n: i64, from_ns: u64, precision: usize) -> String {
    const UNITS: [(&str, u128); 7] = [
        ("d", 86_400_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ];
    let mut rest = u128::from(n.unsigned_abs()) * u128::from(from_ns);
    let mut out = String::from(if n < 0 { "-" } else { "" });
    let mut used = 0;
    for (name, size) in UNITS {
        if size < u128::from(from_ns) {
            break;
        }
        let q = rest / size;
        rest %= size;
        if q > 0 {
            out.push_str(&format!("{q}{name}"));
            used += 1;
            if precision > 0 && used == precision {
                break;
            }
        }
    }
    if used == 0 {
        let unit = UNITS
            .iter()
            .find(|(_, s)| *s == u128::from(from_ns))
            .map_or("ms", |(u, _)| *u);
        out = format!("0{unit}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(url_encode("a b&c=ü"), "a+b%26c%3D%C3%BC");
        assert_eq!(url_decode("a+b%26c%3D%C3%BC%"), "a b&c=ü%");
        assert_eq!(url_decode("%zz"), "%zz");
        assert_eq!(parse_int("FF", 16, false), Some(255));
        assert_eq!(parse_int("77", 8, false), Some(63));
        assert_eq!(parse_int("8001", 16, true), Some(384));
        assert_eq!(parse_int("8001", 16, false), Some(32769));
        assert_eq!(parse_int("0x1f", 16, false), Some(31));
        assert_eq!(parse_int("xyz", 10, false), None);
        assert_eq!(parse_int("ü1", 16, true), None);
    }

    #[test]
    fn csv_and_urls() {
        assert_eq!(
            csv_cells(r#"a,"b,c","d""e",,f"#, ','),
            vec!["a", "b,c", "d\"e", "", "f"]
        );
        let p = url_parts("https://u:p@example.com:8443/a/b?x=1#frag");
        assert!(p.contains(&("host", "example.com".into())));
        assert!(p.contains(&("port", "8443".into())));
        assert!(p.contains(&("query", "x=1".into())));
        assert!(p.contains(&("username", "u".into())));
        assert!(url_parts("not a url").is_empty());
    }

    #[test]
    fn durations() {
        assert_eq!(format_duration(23_452_553, 1_000_000, 0), "6h30m52s553ms");
        assert_eq!(format_duration(23_452_553, 1_000_000, 2), "6h30m");
        assert_eq!(format_duration(90, 1_000_000_000, 0), "1m30s");
        assert_eq!(format_duration(0, 1_000_000, 0), "0ms");
        assert_eq!(format_duration(-1500, 1_000_000, 0), "-1s500ms");
    }
}
