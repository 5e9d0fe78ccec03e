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

/// Time buckets on a zone's wall clock (`timeChart()`/`bucket()` with `timezone=`): a bucket
/// of `span` starts where the local time is a multiple of `span` since the local epoch, so day
/// buckets start at local midnight and last 23 or 25 hours across DST changes, while buckets
/// shorter than the change (hours) stay evenly spaced in UTC through it.
impl Zone {
    fn off_ms(&self, ms: i64) -> i64 {
        i64::from(self.offset_at(ms).local_minus_utc()) * 1000
    }

    /// The instant at which the local time is `local` (epoch ms of the wall clock), taking the
    /// offset `hint` when it holds there, else the offset in force at `local - hint`.
    fn resolve(&self, local: i64, hint: i64) -> i64 {
        let c = local - hint;
        let off = self.off_ms(c);
        if off == hint {
            c
        } else {
            local - off
        }
    }

    /// The start of the `span` bucket holding instant `t`.
    pub fn bucket_start(&self, t: i64, span: i64) -> i64 {
        let span = span.max(1);
        let off = self.off_ms(t);
        let local = (t + off).div_euclid(span) * span;
        let b = self.resolve(local, off);
        if b > t {
            // A local bucket start inside a DST gap: the start at the event's offset.
            local - off
        } else {
            b
        }
    }

    /// The start of the bucket after the one starting at `b` (a [`bucket_start`] result).
    pub fn next_bucket(&self, b: i64, span: i64) -> i64 {
        let span = span.max(1);
        let n = b.saturating_add(span);
        let a = self.bucket_start(n, span);
        if a > b {
            return a;
        }
        // The bucket is longer than `span` (the clock went back): the next local start.
        let local = (b + self.off_ms(b)).div_euclid(span) * span + span;
        let g = self.resolve(local, self.off_ms(n));
        if g > b {
            g
        } else {
            n
        }
    }

    /// The widest UTC-aligned bucket width that nests in both the UTC grid of `span` and this
    /// zone's grid over `[start, end)`: the gcd of `span`, every offset the zone takes there
    /// and every instant its offset changes at.
    pub fn storage_span(&self, start: i64, end: i64, span: i64) -> i64 {
        let span = span.max(1);
        let mut g = span;
        match self {
            Zone::Fixed(f) => g = gcd(g, i64::from(f.local_minus_utc()) * 1000),
            Zone::Named(_) => {
                let (lo, hi) = (start.saturating_sub(span), end.saturating_add(span));
                // Offsets change at most a few times a year: sample daily (fewer samples
                // over very long ranges) and find each change by bisection.
                let step = ((hi - lo) / 200_000).max(86_400_000);
                let mut t = lo;
                let mut off = self.off_ms(t);
                g = gcd(g, off);
                while t < hi && g > 1 {
                    let n = t.saturating_add(step).min(hi);
                    let o = self.off_ms(n);
                    if o != off {
                        g = gcd(gcd(g, o), self.change_at(t, n));
                        off = o;
                    }
                    t = n;
                }
            }
        }
        g.max(1)
    }

    /// The first instant in `(a, b]` whose offset differs from `a`'s.
    fn change_at(&self, mut a: i64, mut b: i64) -> i64 {
        let off = self.off_ms(a);
        while b - a > 1 {
            let m = a + (b - a) / 2;
            if self.off_ms(m) == off {
                a = m;
            } else {
                b = m;
            }
        }
        b
    }
}

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 {
        a.abs()
    } else {
        gcd(b, a % b)
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
    #[test]
    fn day_buckets_follow_local_midnight_across_dst() {
        let cph = Zone::parse("Europe/Copenhagen").unwrap();
        let day = 86_400_000;
        // 2026-03-29T12:00Z is in the 23-hour day that starts 2026-03-28T23:00Z (local
        // midnight, CET) and ends 2026-03-29T22:00Z (local midnight, CEST).
        let b = cph.bucket_start(1_774_785_600_000, day);
        assert_eq!(b, 1_774_738_800_000);
        assert_eq!(cph.next_bucket(b, day), 1_774_738_800_000 + 23 * 3_600_000);
        // 2026-10-25 lasts 25 hours: 2026-10-24T22:00Z to 2026-10-25T23:00Z.
        let b = cph.bucket_start(1_792_929_600_000, day);
        assert_eq!(b, 1_792_879_200_000);
        assert_eq!(cph.next_bucket(b, day), 1_792_879_200_000 + 25 * 3_600_000);
        // Hour buckets through the change stay one hour apart in UTC.
        let h = 3_600_000;
        let mut b = cph.bucket_start(1_792_879_200_000, h);
        for _ in 0..6 {
            let n = cph.next_bucket(b, h);
            assert_eq!(n - b, h);
            assert_eq!(cph.bucket_start(n + 1, h), n);
            b = n;
        }
        // Storage buckets nest in both grids: gcd(1d, +1h, +2h, change instants) = 1h.
        assert_eq!(
            cph.storage_span(1_767_225_600_000, 1_798_761_600_000, day),
            h
        );
        assert_eq!(Zone::UTC.storage_span(0, 10 * day, day), day);
        let ist = Zone::parse("Asia/Kolkata").unwrap();
        assert_eq!(ist.storage_span(0, 10 * day, day), 1_800_000);
        let fixed = Zone::parse("+02:00").unwrap();
        assert_eq!(fixed.bucket_start(0, day), -7_200_000);
    }
}
