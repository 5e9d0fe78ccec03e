//! An event's `timezone` (humio-structured, HEC): LogScale reads a timestamp that carries no
//! zone of its own as local time in that zone, and keeps the zone as `@timezone`. Zones are
//! `Z`/`UTC`, fixed offsets (`+02:00`, `-0500`) or IANA names (`Europe/Copenhagen`).

use chrono::{DateTime, TimeZone};

/// A parsed `timezone` value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Fixed(i32),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// Parses a zone; the error names the value.
    pub fn parse(s: &str) -> Result<Zone, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("z") || t.eq_ignore_ascii_case("utc") {
            return Ok(Zone::Fixed(0));
        }
        if let Some(off) = fixed_offset(t) {
            return Ok(Zone::Fixed(off));
        }
        t.parse::<chrono_tz::Tz>().map(Zone::Named).map_err(|_| {
            format!("timezone {s:?} is not Z, an offset like +02:00 or a zone name like Europe/Copenhagen")
        })
    }

    /// The epoch ms of `utc_ms` re-read as a wall-clock time in this zone (for an ambiguous
    /// local time, the earlier instant; for one skipped by a DST change, the zone's offset just
    /// before it).
    pub fn local_to_utc(&self, utc_ms: i64) -> i64 {
        match self {
            Zone::Fixed(off) => utc_ms - i64::from(*off) * 1000,
            Zone::Named(tz) => {
                let Some(naive) = DateTime::from_timestamp_millis(utc_ms).map(|d| d.naive_utc())
                else {
                    return utc_ms;
                };
                let local = tz.from_local_datetime(&naive).earliest().or_else(|| {
                    tz.from_local_datetime(&(naive - chrono::Duration::hours(1)))
                        .earliest()
                        .map(|d| d + chrono::Duration::hours(1))
                });
                local.map(|d| d.timestamp_millis()).unwrap_or(utc_ms)
            }
        }
    }
}

/// `+02:00`, `-0500`, `+02` as seconds east of UTC.
fn fixed_offset(t: &str) -> Option<i32> {
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[0..2].parse().ok()?;
    let m: i32 = if digits.len() == 4 {
        digits[2..4].parse().ok()?
    } else {
        0
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 3600 + m * 60))
}

/// Whether an ISO 8601 timestamp text names its own zone (`Z` or an offset after the time).
pub fn has_zone(ts: &str) -> bool {
    let t = ts.trim();
    t.len() > 19 && (t.ends_with(['Z', 'z']) || t.get(19..).is_some_and(|r| r.contains(['+', '-'])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse_and_shift_local_times() {
        // 2024-01-15T10:00:00 as if UTC.
        let as_utc = 1_705_312_800_000;
        let cph = Zone::parse("Europe/Copenhagen").unwrap();
        assert_eq!(cph.local_to_utc(as_utc), as_utc - 3_600_000);
        assert_eq!(
            Zone::parse("+02:00").unwrap().local_to_utc(as_utc),
            as_utc - 7_200_000
        );
        assert_eq!(
            Zone::parse("-0500").unwrap().local_to_utc(as_utc),
            as_utc + 18_000_000
        );
        assert_eq!(Zone::parse("Z").unwrap().local_to_utc(as_utc), as_utc);
        assert!(Zone::parse("Mars/Olympus")
            .unwrap_err()
            .contains("Mars/Olympus"));
        assert!(has_zone("2024-01-15T10:00:00Z"));
        assert!(has_zone("2024-01-15T10:00:00.5+01:00"));
        assert!(!has_zone("2024-01-15T10:00:00.123"));
        assert!(!has_zone("2024-01-15 10:00:00"));
    }
}
