//! Time zones as LogScale takes them: IANA names (`Europe/Berlin`, with DST through
//! `chrono-tz`), `UTC`/`Z`/`GMT`, and fixed offsets (`+02:00`, `-0530`, `UTC+2`). One type for
//! every function with a `timezone=` parameter and for the query-wide default zone
//! (`PlanOptions::zone`), so all of them read names the same way.

use std::fmt;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// A time zone: a fixed offset or an IANA zone whose offset depends on the instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(Tz),
}

impl Default for Zone {
    fn default() -> Self {
        Zone::UTC
    }
}

impl Zone {
    pub const UTC: Zone = Zone::Named(Tz::UTC);

    /// Parses a zone name: an IANA name (case-insensitive), `UTC`/`Z`/`GMT`, or an offset
    /// (`+02:00`, `-0530`, `+2`, `UTC+02:00`).
    pub fn parse(s: &str) -> Option<Zone> {
        let t = s.trim();
        if t.is_empty() {
            return None;
        }
        if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
            return Some(Zone::UTC);
        }
        if let Some(rest) = strip_prefix_ci(t, "utc").or_else(|| strip_prefix_ci(t, "gmt")) {
            if rest.starts_with(['+', '-']) {
                return parse_offset(rest).map(Zone::Fixed);
            }
        }
        if t.starts_with(['+', '-']) {
            return parse_offset(t).map(Zone::Fixed);
        }
        t.parse::<Tz>()
            .ok()
            .or_else(|| {
                chrono_tz::TZ_VARIANTS
                    .iter()
                    .find(|z| z.name().eq_ignore_ascii_case(t))
                    .copied()
            })
            .map(Zone::Named)
    }

    /// A fixed zone from LogScale's `timeZoneOffsetMinutes` (minutes east of UTC).
    pub fn from_offset_minutes(minutes: i32) -> Option<Zone> {
        FixedOffset::east_opt(minutes.checked_mul(60)?).map(Zone::Fixed)
    }

    /// The zone's offset at an instant (epoch ms).
    pub fn offset_at(&self, ms: i64) -> FixedOffset {
        match self {
            Zone::Fixed(f) => *f,
            Zone::Named(tz) => match Utc.timestamp_millis_opt(ms) {
                LocalResult::Single(t) => tz.offset_from_utc_datetime(&t.naive_utc()).fix(),
                _ => FixedOffset::east_opt(0).expect("zero offset"),
            },
        }
    }

    /// The instant as a local date-time in this zone; `None` outside chrono's range.
    pub fn local(&self, ms: i64) -> Option<DateTime<FixedOffset>> {
        let t = Utc.timestamp_millis_opt(ms).single()?;
        Some(t.with_timezone(&self.offset_at(ms)))
    }

    /// Epoch ms of a local date-time in this zone. In a DST overlap the earlier instant is
    /// taken; a local time inside a DST gap is read with the offset before the gap (so
    /// 02:30 on a spring-forward night becomes 03:30), as Java's `ZonedDateTime` does.
    pub fn from_local(&self, naive: &NaiveDateTime) -> Option<i64> {
        match self {
            Zone::Fixed(f) => f
                .from_local_datetime(naive)
                .single()
                .map(|t| t.timestamp_millis()),
            Zone::Named(tz) => match tz.from_local_datetime(naive) {
                LocalResult::Single(t) => Some(t.timestamp_millis()),
                LocalResult::Ambiguous(a, _) => Some(a.timestamp_millis()),
                LocalResult::None => {
                    // Offset just before the gap: an hour earlier is outside it.
                    let before = naive.checked_sub_signed(chrono::Duration::hours(3))?;
                    let off = tz.from_local_datetime(&before).earliest()?.offset().fix();
                    off.from_local_datetime(naive)
                        .single()
                        .map(|t| t.timestamp_millis())
                }
            },
        }
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Zone::Fixed(o) => write!(f, "{o}"),
            Zone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

/// On the wire (plan options sent to other nodes) a zone is its name, which [`Zone::parse`]
/// reads back.
impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Zone::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown time zone {s:?}")))
    }
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    (s.len() >= p.len() && s.is_char_boundary(p.len()) && s[..p.len()].eq_ignore_ascii_case(p))
        .then(|| &s[p.len()..])
}

/// `+02:00`, `-0530`, `+2`, `+02`.
fn parse_offset(t: &str) -> Option<FixedOffset> {
    let sign = match t.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let body = &t[1..];
    if !body.chars().all(|c| c.is_ascii_digit() || c == ':') {
        return None;
    }
    let (h, m): (i32, i32) = match body.split_once(':') {
        Some((h, m)) => (h.parse().ok()?, m.parse().ok()?),
        None => match body.len() {
            1 | 2 => (body.parse().ok()?, 0),
            4 => (body[..2].parse().ok()?, body[2..].parse().ok()?),
            _ => return None,
        },
    };
    if h > 18 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_offsets() {
        assert_eq!(Zone::parse("utc"), Some(Zone::UTC));
        assert_eq!(
            Zone::parse("+02:00"),
            Some(Zone::Fixed(FixedOffset::east_opt(7200).unwrap()))
        );
        assert_eq!(
            Zone::parse("-0530"),
            Some(Zone::Fixed(FixedOffset::west_opt(19800).unwrap()))
        );
        assert_eq!(Zone::parse("UTC+2"), Zone::from_offset_minutes(120));
        assert!(matches!(Zone::parse("europe/berlin"), Some(Zone::Named(_))));
        assert!(Zone::parse("Mars/Olympus").is_none());
        assert!(Zone::parse("+25:00").is_none());
    }

    #[test]
    fn dst_is_followed() {
        let berlin = Zone::parse("Europe/Berlin").unwrap();
        // 2026-01-15T12:00Z is winter (+01:00), 2026-07-15T12:00Z summer (+02:00).
        assert_eq!(berlin.offset_at(1_768_478_400_000).local_minus_utc(), 3600);
        assert_eq!(berlin.offset_at(1_784_116_800_000).local_minus_utc(), 7200);
        // 2026-03-29 02:30 does not exist in Berlin: read as 03:30 CEST = 01:30Z.
        let gap = chrono::NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(berlin.from_local(&gap), Some(1_774_747_800_000));
        // 2026-10-25 02:30 happens twice: the first (CEST, 00:30Z) is taken.
        let overlap = chrono::NaiveDate::from_ymd_opt(2026, 10, 25)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(berlin.from_local(&overlap), Some(1_792_888_200_000));
    }
}
