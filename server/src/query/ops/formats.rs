//! The small languages row functions take as arguments: printf patterns (`format()`), Java
//! `DateTimeFormatter` patterns and zones (`formatTime()`, `parseTimestamp()`). Pure string
//! functions, so they are tested on their own.

use chrono::DateTime;

use super::Zone;
use crate::query::number;

/// printf-style formatting: `%s`, `%d`/`%i`, `%f` and `%.Nf`, `%x`/`%X`, `%%`. A missing
/// value prints as empty; a non-number under a numeric conversion prints as given.
pub fn printf(format: &str, vals: &[Option<String>]) -> String {
    let mut out = String::new();
    let mut it = format.chars().peekable();
    let mut next = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = it.peek() {
            if d.is_ascii_digit() || d == '.' || d == '-' || d == ',' {
                spec.push(d);
                it.next();
            } else {
                break;
            }
        }
        let Some(conv) = it.next() else {
            out.push('%');
            out.push_str(&spec);
            break;
        };
        if conv == '%' {
            out.push('%');
            continue;
        }
        let v = vals.get(next).cloned().flatten().unwrap_or_default();
        next += 1;
        let n = number(&v);
        match (conv, n) {
            ('d' | 'i', Some(x)) => out.push_str(&format!("{}", x.trunc() as i64)),
            ('f', Some(x)) => {
                let prec = spec
                    .split('.')
                    .nth(1)
                    .and_then(|p| p.parse::<usize>().ok())
                    .unwrap_or(6);
                out.push_str(&format!("{x:.prec$}"));
            }
            ('x', Some(x)) => out.push_str(&format!("{:x}", x as i64)),
            ('X', Some(x)) => out.push_str(&format!("{:X}", x as i64)),
            _ => out.push_str(&v),
        }
    }
    out
}

/// Parses a zone name (see [`Zone::parse`]).
pub fn parse_zone(s: &str) -> Option<Zone> {
    Zone::parse(s)
}

/// Translates a Java `DateTimeFormatter` pattern (as LogScale uses) into a strftime one. A
/// pattern already containing `%` is taken as strftime.
pub fn java_to_strftime(p: &str) -> String {
    if p.contains('%') {
        return p.to_string();
    }
    let mut out = String::new();
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                out.push(chars[i]);
                i += 1;
            }
            i += 1;
            continue;
        }
        let mut n = 1;
        while i + n < chars.len() && chars[i + n] == c {
            n += 1;
        }
        let t = match (c, n) {
            ('y', 2) => "%y",
            ('y' | 'u', _) => "%Y",
            ('M', 1 | 2) => "%m",
            ('M', 3) => "%b",
            ('M', _) => "%B",
            ('d', _) => "%d",
            ('H', _) => "%H",
            ('h', _) => "%I",
            ('m', _) => "%M",
            ('s', _) => "%S",
            ('S', _) => "%3f",
            ('a', _) => "%p",
            ('E', 1..=3) => "%a",
            ('E', _) => "%A",
            ('X' | 'Z' | 'x', 1 | 2) => "%z",
            ('X' | 'Z' | 'x', _) => "%:z",
            _ => {
                for _ in 0..n {
                    out.push(c);
                }
                i += n;
                continue;
            }
        };
        out.push_str(t);
        i += n;
    }
    out
}

/// Parses a time with a LogScale format: `seconds`, `milliseconds`, `unixtimeMillis`,
/// `unixtime`, ISO 8601 (the default, empty format), or a Java/strftime pattern.
pub fn parse_time(format: &str, v: &str, zone: &Zone) -> Option<i64> {
    let v = v.trim();
    match format {
        "seconds" | "unixtime" => return number(v).map(|s| (s * 1000.0) as i64),
        "milliseconds" | "millis" | "unixtimeMillis" => return number(v).map(|m| m as i64),
        "" | "iso8601" | "yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX" => {
            return crate::text::time::parse_iso8601(v).map(|(ms, _)| ms)
        }
        _ => {}
    }
    let mut f = java_to_strftime(format);
    // chrono's %z does not read `Z`; spell it as an offset.
    let zulu;
    let v = match v.strip_suffix('Z') {
        Some(rest) if f.ends_with("%z") || f.ends_with("%:z") => {
            zulu = format!("{rest}+0000");
            f = f.replace("%:z", "%z");
            zulu.as_str()
        }
        _ => v,
    };
    if let Ok(t) = DateTime::parse_from_str(v, &f) {
        return Some(t.timestamp_millis());
    }
    let naive = chrono::NaiveDateTime::parse_from_str(v, &f)
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(v, &f)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })?;
    zone.from_local(&naive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_conversions() {
        let v = |s: &str| Some(s.to_string());
        assert_eq!(printf("%s-%d", &[v("a"), v("4.7")]), "a-4");
        assert_eq!(printf("%.2f%%", &[v("3.14159")]), "3.14%");
        assert_eq!(printf("%x %s", &[v("255"), None]), "ff ");
    }

    #[test]
    fn time_formats() {
        let utc = parse_zone("UTC").unwrap();
        assert_eq!(
            java_to_strftime("yyyy-MM-dd'T'HH:mm:ss"),
            "%Y-%m-%dT%H:%M:%S"
        );
        assert_eq!(
            parse_time("yyyy-MM-dd HH:mm:ss", "2026-01-02 03:04:05", &utc),
            Some(1_767_323_045_000)
        );
        assert_eq!(parse_time("seconds", "1.5", &utc), Some(1500));
        let plus2 = parse_zone("+02:00").unwrap();
        assert_eq!(
            parse_time("yyyy-MM-dd HH:mm:ss", "2026-01-02 05:04:05", &plus2),
            Some(1_767_323_045_000)
        );
        assert!(parse_zone("Mars/Olympus").is_none());
        // An IANA zone applies the offset in force at that date (CEST in July).
        let berlin = parse_zone("Europe/Berlin").unwrap();
        assert_eq!(
            parse_time("yyyy-MM-dd HH:mm:ss", "2026-07-15 14:00:00", &berlin),
            Some(1_784_116_800_000)
        );
    }
}
