//! The streaming endpoint's response formats, as LogScale's "Search Response Format" defines
//! them: `text/plain` (the default: each event's `@rawstring` on a line, or `a->hello,
//! b->world` for rows without one; nothing escaped), `application/json` (one array) and
//! `application/x-ndjson` (an object a line). In JSON every value is a string except
//! `@timestamp` (epoch ms); keys are sorted, as in a query job's `events`.

use axum::http::HeaderMap;

use crate::api::ApiError;
use crate::query::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Plain,
    Json,
    Ndjson,
}

impl Format {
    /// The first media type of `Accept` this endpoint writes; `text/plain` without one.
    pub fn from_headers(h: &HeaderMap) -> Result<Format, ApiError> {
        let Some(accept) = h.get("accept") else {
            return Ok(Format::Plain);
        };
        let accept = accept
            .to_str()
            .map_err(|_| ApiError::bad_request("the Accept header is not ASCII"))?;
        if accept.trim().is_empty() {
            return Ok(Format::Plain);
        }
        for t in accept.split(',') {
            let t = t
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            match t.as_str() {
                "text/plain" | "text/*" | "*/*" => return Ok(Format::Plain),
                "application/json" => return Ok(Format::Json),
                "application/x-ndjson" | "application/ndjson" => return Ok(Format::Ndjson),
                _ => {}
            }
        }
        Err(ApiError::new(
            axum::http::StatusCode::NOT_ACCEPTABLE,
            format!("cannot answer Accept: {accept}; the query endpoint writes text/plain, application/json or application/x-ndjson"),
        ))
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Plain => "text/plain; charset=utf-8",
            Format::Json => "application/json",
            Format::Ndjson => "application/x-ndjson",
        }
    }
}

/// Writes rows one at a time (the JSON array's brackets and commas included).
#[derive(Debug, Clone, Copy)]
pub struct Encoder {
    format: Format,
    first: bool,
}

impl Encoder {
    pub fn new(format: Format) -> Encoder {
        Encoder {
            format,
            first: true,
        }
    }

    pub fn begin(&mut self, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.push(b'[');
        }
    }

    pub fn end(&mut self, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.extend_from_slice(b"]\n");
        }
    }

    pub fn row(&mut self, out: &mut Vec<u8>, row: &Row) {
        match self.format {
            Format::Plain => plain(out, row),
            Format::Ndjson => {
                json_object(out, row);
                out.push(b'\n');
            }
            Format::Json => {
                if !self.first {
                    out.push(b',');
                }
                json_object(out, row);
            }
        }
        self.first = false;
    }
}

fn plain(out: &mut Vec<u8>, row: &Row) {
    if let Some(raw) = row.get_str("@rawstring") {
        out.extend_from_slice(raw.as_bytes());
    } else {
        for (i, (k, v)) in row.fields.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"->");
            out.extend_from_slice(v.as_bytes());
        }
    }
    out.push(b'\n');
}

/// The row as `Row::to_json` would print it (sorted keys, a repeated name's last value), but
/// written straight into `out` without building a map.
fn json_object(out: &mut Vec<u8>, row: &Row) {
    let mut fields: Vec<&(String, String)> = row.fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    out.push(b'{');
    let mut first = true;
    for (i, (k, v)) in fields.iter().map(|f| (&f.0, &f.1)).enumerate() {
        if fields.get(i + 1).is_some_and(|n| &n.0 == k) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, k);
        out.push(b':');
        match (k == "@timestamp").then(|| v.parse::<i64>().ok()).flatten() {
            Some(ms) => out.extend_from_slice(ms.to_string().as_bytes()),
            None => {
                let _ = serde_json::to_writer(&mut *out, v);
            }
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn row(fields: &[(&str, &str)]) -> Row {
        Row {
            key: Default::default(),
            fields: fields
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn write(f: Format, rows: &[Row]) -> String {
        let mut e = Encoder::new(f);
        let mut out = Vec::new();
        e.begin(&mut out);
        for r in rows {
            e.row(&mut out, r);
        }
        e.end(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formats_as_logscale_documents_them() {
        let ev = row(&[
            ("@timestamp", "17"),
            ("@rawstring", "line \"one\"\nwith a newline"),
            ("b", "x"),
            ("a", "1"),
            ("a", "2"),
        ]);
        let agg = row(&[("svc", "web"), ("_count", "3")]);
        let rows = [ev.clone(), agg.clone()];
        assert_eq!(
            write(Format::Plain, &rows),
            "line \"one\"\nwith a newline\nsvc->web, _count->3\n"
        );
        let nd = write(Format::Ndjson, &rows);
        let lines: Vec<Value> = nd
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0], Value::Object(ev.to_json()));
        assert_eq!(lines[0]["@timestamp"], 17);
        assert_eq!(lines[1], Value::Object(agg.to_json()));
        let js: Value = serde_json::from_str(&write(Format::Json, &rows)).unwrap();
        assert_eq!(js, Value::Array(lines));
        assert_eq!(write(Format::Json, &[]), "[]\n");
    }

    #[test]
    fn accept_picks_the_format() {
        let f = |a: &str| {
            let mut h = HeaderMap::new();
            h.insert("accept", a.parse().unwrap());
            Format::from_headers(&h).map_err(|e| e.status.as_u16())
        };
        assert_eq!(
            Format::from_headers(&HeaderMap::new()).ok(),
            Some(Format::Plain)
        );
        assert_eq!(f("application/json"), Ok(Format::Json));
        assert_eq!(f("application/x-ndjson"), Ok(Format::Ndjson));
        assert_eq!(f("text/html, */*;q=0.8"), Ok(Format::Plain));
        assert_eq!(f("application/xml"), Err(406));
    }
}
