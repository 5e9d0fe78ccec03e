//! Timestamps as text: ingest reads event timestamps with these and queries read ISO 8601 with
//! the same code (`parseTimestamp`'s default), so a time means the same in both. Forms: RFC 3339
//! / ISO 8601 strings, epoch seconds or milliseconds, and the access-log form
//! `10/Oct/2000:13:55:36 -0700`; results are epoch ms plus sub-ms nanos.

/// Current time in epoch milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Days from 1970-01-01 to a civil date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// Parses `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH[:]MM]` (no zone means UTC).
pub fn parse_iso8601(s: &str) -> Option<(i64, u32)> {
    let b = s.trim().as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !(b[10] == b'T' || b[10] == b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (
        num(&b[0..4])?,
        num(&b[5..7])? as u32,
        num(&b[8..10])? as u32,
    );
    let (h, mi, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u64 = 0;
    if i < b.len() && (b[i] == b'.' || b[i] == b',') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let mut offset_secs = 0i64;
    if i < b.len() {
        match b[i] {
            b'Z' | b'z' if i + 1 == b.len() => {}
            b'+' | b'-' => {
                let sign = if b[i] == b'-' { -1 } else { 1 };
                let rest: Vec<u8> = b[i + 1..].iter().copied().filter(|c| *c != b':').collect();
                if rest.len() != 4 && rest.len() != 2 {
                    return None;
                }
                let oh = num(&rest[0..2])?;
                let om = if rest.len() == 4 {
                    num(&rest[2..4])?
                } else {
                    0
                };
                offset_secs = sign * (oh * 3600 + om * 60);
            }
            _ => return None,
        }
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    let ms = secs
        .checked_mul(1000)?
        .checked_add((nanos / 1_000_000) as i64)?;
    Some((ms, (nanos % 1_000_000) as u32))
}

/// Epoch number: values below 10^11 are seconds (fractions allowed), above are milliseconds.
pub fn parse_epoch(v: f64) -> Option<(i64, u32)> {
    if !v.is_finite() || !(0.0..=1e16).contains(&v) {
        return None;
    }
    let ms = if v < 1e11 { v * 1000.0 } else { v };
    let whole = ms.trunc();
    Some((
        whole as i64,
        ((ms - whole) * 1e6).round().min(999_999.0) as u32,
    ))
}

/// Any timestamp form a shipper sends: ISO 8601 or epoch seconds/ms (as text).
pub fn parse_any(s: &str) -> Option<(i64, u32)> {
    parse_iso8601(s).or_else(|| s.trim().parse::<f64>().ok().and_then(parse_epoch))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `10/Oct/2000:13:55:36 -0700`, as in Apache/nginx access logs.
pub fn parse_access_log_time(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 26 || b[2] != b'/' || b[6] != b'/' || b[11] != b':' || b[20] != b' ' {
        return None;
    }
    let d = num(&b[0..2])? as u32;
    let mon = std::str::from_utf8(&b[3..6]).ok()?;
    let m = MONTHS.iter().position(|x| *x == mon)? as u32 + 1;
    let iso = format!(
        "{}-{:02}-{:02}T{}{}",
        std::str::from_utf8(&b[7..11]).ok()?,
        m,
        d,
        std::str::from_utf8(&b[12..20]).ok()?,
        std::str::from_utf8(&b[21..26]).ok()?
    );
    parse_iso8601(&iso)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(
            parse_iso8601("2023-11-14T22:13:20.123Z"),
            Some((1_700_000_000_123, 0))
        );
        assert_eq!(
            parse_iso8601("2023-11-14T23:13:20.1234567+01:00"),
            Some((1_700_000_000_123, 456_700))
        );
        assert_eq!(
            parse_iso8601("2023-11-14 22:13:20"),
            Some((1_700_000_000_000, 0))
        );
        assert_eq!(parse_iso8601("2023-13-14T22:13:20Z"), None);
        assert_eq!(parse_iso8601("nonsense"), None);
        assert_eq!(parse_epoch(1_700_000_000.5), Some((1_700_000_000_500, 0)));
        assert_eq!(
            parse_epoch(1_700_000_000_123.0),
            Some((1_700_000_000_123, 0))
        );
        assert_eq!(
            parse_access_log_time("14/Nov/2023:22:13:20 +0000"),
            Some((1_700_000_000_000, 0))
        );
    }
}
