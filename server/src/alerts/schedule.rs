//! Scheduled searches' clock: cron expressions in a time zone, and which runs are due. Every
//! function takes the time as an argument (no clock inside), so daylight-saving changes are
//! unit-tested without waiting for them.
//!
//! - Expressions are LogScale's five fields (`minute hour day-of-month month day-of-week`,
//!   day-of-week 0–7 with 0 and 7 Sunday, names allowed); six fields (a leading seconds
//!   field) are accepted too. Parsed by the `cron` crate. When day-of-month and day-of-week
//!   are both restricted a day matching either runs (cron's OR), not only days matching both.
//! - Time zones are LogScale's UTC offsets (`UTC`, `UTC+01`, `UTC-03:30`) or IANA names
//!   (`Europe/Copenhagen`, from `chrono-tz`).
//! - Daylight saving: a local time that does not exist (the spring change) runs at the
//!   instant the gap ends, so a daily 02:30 search still runs that day (at 03:00). A local time
//!   that happens twice (the autumn change) runs once, at its first occurrence — unless the
//!   hour field is `*`, where the schedule follows the clock and runs at both, so an hourly
//!   search covers every real hour.
//! - Backfill: after an outage the runs missed since the last one are due at once, the newest
//!   `1 + backfill_limit` of them; older ones are skipped (and counted).

use std::str::FromStr;

use chrono::{DateTime, Duration, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Utc};

use super::AlertError;

/// A schedule's time zone.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

/// A parsed schedule.
#[derive(Clone, Debug)]
pub struct Cron {
    /// One schedule, or two when day-of-month and day-of-week are both restricted: cron runs
    /// on a day either field matches (OR), while the `cron` crate requires both (AND), so each
    /// field gets its own schedule and the earlier run wins.
    schedules: Vec<cron::Schedule>,
    /// The hour field is `*`: ambiguous local times run at both instants.
    every_hour: bool,
}

/// Parses a cron expression (5 fields, or 6 with seconds first).
pub fn parse_cron(expr: &str) -> Result<Cron, AlertError> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let (sec, rest) = match fields.len() {
        5 => ("0", &fields[..]),
        6 => (fields[0], &fields[1..]),
        n => {
            return Err(AlertError::Invalid(format!(
                "schedule {expr:?} must have 5 fields (minute hour day-of-month month day-of-week), not {n}"
            )))
        }
    };
    let (min, hour, dom, month, dow) = (rest[0], rest[1], rest[2], rest[3], day_of_week(rest[4])?);
    // Vixie cron's rule: a field starting with `*` (or `?`) does not restrict the day.
    let restricted = |f: &str| !f.starts_with('*') && !f.starts_with('?');
    let days: Vec<(&str, &str)> = if restricted(dom) && restricted(&dow) {
        vec![(dom, "*"), ("*", &dow)]
    } else {
        vec![(dom, &dow)]
    };
    let mut schedules = Vec::new();
    for (d, w) in days {
        let full = format!("{sec} {min} {hour} {d} {month} {w}");
        schedules.push(cron::Schedule::from_str(&full).map_err(|e| {
            AlertError::Invalid(format!("schedule {expr:?} is not valid cron: {e}"))
        })?);
    }
    Ok(Cron {
        schedules,
        every_hour: hour == "*",
    })
}

/// Standard cron numbers days of the week 0–7 from Sunday; the `cron` crate 1–7. Numbers
/// become names, which both read the same way.
fn day_of_week(field: &str) -> Result<String, AlertError> {
    const NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let name = |tok: &str| -> Result<String, AlertError> {
        match tok.parse::<usize>() {
            Ok(n) if n < NAMES.len() => Ok(NAMES[n].to_string()),
            Ok(n) => Err(AlertError::Invalid(format!(
                "day of week {n} is out of range 0-7"
            ))),
            Err(_) => Ok(tok.to_string()),
        }
    };
    let mut items = Vec::new();
    for item in field.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (item, None),
        };
        let range = match range.split_once('-') {
            Some((a, b)) => format!("{}-{}", name(a)?, name(b)?),
            None => name(range)?,
        };
        items.push(match step {
            Some(s) => format!("{range}/{s}"),
            None => range,
        });
    }
    Ok(items.join(","))
}

/// Parses `UTC`, `UTC±HH[:MM]` or an IANA zone name.
pub fn parse_zone(s: &str) -> Result<Zone, AlertError> {
    let bad = || {
        AlertError::Invalid(format!(
            "time zone {s:?} must be UTC, a UTC offset like UTC+01:00, or an IANA name like Europe/Copenhagen"
        ))
    };
    let t = s.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Ok(Zone::Fixed(FixedOffset::east_opt(0).ok_or_else(bad)?));
    }
    if let Some(off) = t.strip_prefix("UTC").or_else(|| t.strip_prefix("utc")) {
        let (sign, rest) = match off.split_at_checked(1) {
            Some(("+", r)) => (1, r),
            Some(("-", r)) => (-1, r),
            _ => return Err(bad()),
        };
        let (h, m) = match rest.split_once(':') {
            Some((h, m)) => (h, m),
            None => (rest, "0"),
        };
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if !(0..=14).contains(&h) || !(0..60).contains(&m) {
            return Err(bad());
        }
        return FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(Zone::Fixed)
            .ok_or_else(bad);
    }
    chrono_tz::Tz::from_str(t)
        .map(Zone::Named)
        .map_err(|_| bad())
}

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl Zone {
    fn naive_local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Fixed(z) => t.with_timezone(z).naive_local(),
            Zone::Named(z) => t.with_timezone(z).naive_local(),
        }
    }

    /// The instants of a local time (none in a gap, two in an overlap).
    fn instants(&self, n: &NaiveDateTime) -> LocalResult<DateTime<Utc>> {
        match self {
            Zone::Fixed(z) => z.from_local_datetime(n).map(|d| d.with_timezone(&Utc)),
            Zone::Named(z) => z.from_local_datetime(n).map(|d| d.with_timezone(&Utc)),
        }
    }

    fn offset_secs(&self, t: DateTime<Utc>) -> i64 {
        use chrono::Offset;
        match self {
            Zone::Fixed(z) => i64::from(z.local_minus_utc()),
            Zone::Named(z) => i64::from(
                z.offset_from_utc_datetime(&t.naive_utc())
                    .fix()
                    .local_minus_utc(),
            ),
        }
    }
}

impl Cron {
    /// The instants local time `n` runs at (see the module docs for gaps and overlaps).
    fn runs_of(&self, zone: &Zone, n: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match zone.instants(&n) {
            LocalResult::Single(t) => vec![t],
            LocalResult::Ambiguous(a, b) if self.every_hour => vec![a, b],
            LocalResult::Ambiguous(a, _) => vec![a],
            LocalResult::None => {
                // In a gap: the first valid local minute after it is the gap's end.
                (1..=24 * 60)
                    .find_map(|k| match zone.instants(&(n + Duration::minutes(k))) {
                        LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Some(t),
                        LocalResult::None => None,
                    })
                    .into_iter()
                    .collect()
            }
        }
    }

    /// The first run strictly after `after_ms` (epoch ms), if the schedule has one.
    pub fn next_after(&self, zone: &Zone, after_ms: i64) -> Option<i64> {
        self.schedules
            .iter()
            .filter_map(|s| self.next_of(s, zone, after_ms))
            .min()
    }

    fn next_of(&self, schedule: &cron::Schedule, zone: &Zone, after_ms: i64) -> Option<i64> {
        let after = utc(after_ms);
        // Around a daylight-saving change the order of local times and instants can differ by
        // the size of the change: look back that far in local time.
        let day = Duration::days(1);
        let shift = [after - day, after + day]
            .iter()
            .map(|t| (zone.offset_secs(*t) - zone.offset_secs(after)).abs())
            .max()
            .unwrap_or(0);
        let lookback = Duration::seconds(shift);
        let start = zone.naive_local(after) - lookback;
        let mut best: Option<DateTime<Utc>> = None;
        // Local wall-clock times in order: the cron crate walks them as if they were UTC.
        for (i, local) in schedule.after(&Utc.from_utc_datetime(&start)).enumerate() {
            let n = local.naive_utc();
            if let Some(b) = best {
                if n > zone.naive_local(b) + lookback {
                    break;
                }
            }
            if i > 200_000 {
                break;
            }
            for t in self.runs_of(zone, n) {
                if t > after && best.is_none_or(|b| t < b) {
                    best = Some(t);
                }
            }
        }
        best.map(|t| t.timestamp_millis())
    }

    /// The runs due at `now_ms` when the last run was at `last_ms`: every run in
    /// `(last_ms, now_ms]`, the newest `1 + backfill_limit` of them, oldest first, and how many
    /// older ones were skipped.
    pub fn due(
        &self,
        zone: &Zone,
        last_ms: i64,
        now_ms: i64,
        backfill_limit: u32,
    ) -> (Vec<i64>, u64) {
        let keep = 1 + backfill_limit as usize;
        let mut runs: std::collections::VecDeque<i64> = Default::default();
        let mut skipped = 0u64;
        let mut t = last_ms;
        // Bounded: a per-second schedule after a week's outage still answers quickly (runs
        // beyond the bound are neither run nor counted).
        for _ in 0..100_000 {
            let Some(next) = self.next_after(zone, t) else {
                break;
            };
            if next > now_ms {
                break;
            }
            runs.push_back(next);
            if runs.len() > keep {
                runs.pop_front();
                skipped += 1;
            }
            t = next;
        }
        (runs.into(), skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn iso(ms: i64) -> String {
        utc(ms).format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// The next `n` runs after `from`, as UTC strings.
    fn runs(expr: &str, zone: &str, from: &str, n: usize) -> Vec<String> {
        let c = parse_cron(expr).unwrap();
        let z = parse_zone(zone).unwrap();
        let mut t = ms(from);
        let mut out = Vec::new();
        for _ in 0..n {
            t = c.next_after(&z, t).unwrap();
            out.push(iso(t));
        }
        out
    }

    #[test]
    fn daily_run_in_copenhagen_across_both_changes() {
        // 2024-03-31 02:00 CET jumps to 03:00 CEST: 02:30 does not exist and runs at 03:00.
        assert_eq!(
            runs("30 2 * * *", "Europe/Copenhagen", "2024-03-29T12:00:00Z", 4),
            [
                "2024-03-30T01:30:00Z", // 02:30 CET
                "2024-03-31T01:00:00Z", // the gap's end, 03:00 CEST
                "2024-04-01T00:30:00Z", // 02:30 CEST
                "2024-04-02T00:30:00Z",
            ]
        );
        // 2024-10-27 03:00 CEST falls back to 02:00 CET: 02:30 happens twice, runs once.
        assert_eq!(
            runs("30 2 * * *", "Europe/Copenhagen", "2024-10-25T12:00:00Z", 4),
            [
                "2024-10-26T00:30:00Z", // 02:30 CEST
                "2024-10-27T00:30:00Z", // the first 02:30 (CEST)
                "2024-10-28T01:30:00Z", // 02:30 CET
                "2024-10-29T01:30:00Z",
            ]
        );
    }

    #[test]
    fn hourly_run_follows_the_clock_across_changes() {
        // Autumn: every real hour runs, the repeated 02:00 included.
        assert_eq!(
            runs("0 * * * *", "Europe/Copenhagen", "2024-10-26T22:30:00Z", 5),
            [
                "2024-10-26T23:00:00Z", // 01:00 CEST
                "2024-10-27T00:00:00Z", // 02:00 CEST
                "2024-10-27T01:00:00Z", // 02:00 CET
                "2024-10-27T02:00:00Z", // 03:00 CET
                "2024-10-27T03:00:00Z",
            ]
        );
        // Spring: 02:00 does not exist; 03:00 runs once.
        assert_eq!(
            runs("0 * * * *", "Europe/Copenhagen", "2024-03-30T23:30:00Z", 3),
            [
                "2024-03-31T00:00:00Z", // 01:00 CET
                "2024-03-31T01:00:00Z", // 03:00 CEST
                "2024-03-31T02:00:00Z", // 04:00 CEST
            ]
        );
    }

    #[test]
    fn weekday_numbers_are_standard_cron_and_zones_parse() {
        // 2024-03-08 is a Friday; weekdays at 09:00 New York (EST until 03-10, then EDT).
        assert_eq!(
            runs("0 9 * * 1-5", "America/New_York", "2024-03-08T15:00:00Z", 3),
            [
                "2024-03-11T13:00:00Z", // Monday 09:00 EDT
                "2024-03-12T13:00:00Z",
                "2024-03-13T13:00:00Z",
            ]
        );
        assert_eq!(
            runs("0 12 * * 0", "UTC", "2024-03-08T00:00:00Z", 1),
            ["2024-03-10T12:00:00Z"],
            "0 is Sunday"
        );
        assert_eq!(
            runs("0 12 * * 7", "UTC+01:00", "2024-03-08T00:00:00Z", 1),
            ["2024-03-10T11:00:00Z"],
            "7 is Sunday too"
        );
        assert_eq!(
            runs("*/20 * * * * *", "UTC-03:30", "2024-03-08T00:00:05Z", 2),
            ["2024-03-08T00:00:20Z", "2024-03-08T00:00:40Z"],
            "six fields: seconds first"
        );
        for bad in ["UTC+15", "Mars/Olympus", "UTC+1:99", "+01"] {
            let e = parse_zone(bad).unwrap_err().to_string();
            assert!(e.contains(bad), "{e}");
        }
        for bad in ["* * *", "61 * * * *", "0 0 * * 8"] {
            let e = parse_cron(bad).unwrap_err().to_string();
            assert!(
                e.contains("schedule") || e.contains("day of week"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn missed_runs_backfill_up_to_the_limit() {
        let c = parse_cron("0 * * * *").unwrap();
        let z = parse_zone("Europe/Copenhagen").unwrap();
        let last = ms("2024-03-08T10:00:00Z");
        // Down from 10:00 to 15:30: runs 11..15 were missed; limit 2 keeps the newest 3.
        let (due, skipped) = c.due(&z, last, ms("2024-03-08T15:30:00Z"), 2);
        let due: Vec<String> = due.into_iter().map(iso).collect();
        assert_eq!(
            due,
            [
                "2024-03-08T13:00:00Z",
                "2024-03-08T14:00:00Z",
                "2024-03-08T15:00:00Z"
            ]
        );
        assert_eq!(skipped, 2);
        let (due, skipped) = c.due(&z, last, ms("2024-03-08T10:59:59Z"), 2);
        assert!(due.is_empty() && skipped == 0);
        let (due, _) = c.due(&z, last, ms("2024-03-08T11:00:00Z"), 0);
        assert_eq!(
            due,
            [ms("2024-03-08T11:00:00Z")],
            "a run at exactly now is due"
        );
    }

    #[test]
    fn day_of_month_and_day_of_week_combine_with_or_as_cron_does() {
        // 09:00 on the 1st and 15th, and on every Friday (cron's OR): from Wed 2025-01-01.
        assert_eq!(
            runs("0 9 1,15 * 5", "UTC", "2024-12-31T12:00:00Z", 5),
            [
                "2025-01-01T09:00:00Z",
                "2025-01-03T09:00:00Z",
                "2025-01-10T09:00:00Z",
                "2025-01-15T09:00:00Z",
                "2025-01-17T09:00:00Z",
            ]
        );
        // A field starting with `*` (a step of it too): both must match (AND), as in cron.
        assert_eq!(
            runs("0 9 * * 5", "UTC", "2024-12-31T12:00:00Z", 2),
            ["2025-01-03T09:00:00Z", "2025-01-10T09:00:00Z"]
        );
        assert_eq!(
            runs("0 9 */10 * MON", "UTC", "2024-12-31T12:00:00Z", 2),
            ["2025-03-31T09:00:00Z", "2025-04-21T09:00:00Z"]
        );
    }
}
