//! Relative times of a query's range (`start=2d`, `1mon`, `1y@y`): an amount back from now,
//! counted on the calendar of a time zone for months, quarters and years, optionally snapped
//! to the start of a calendar unit with `@unit` (`@d` midnight, `@w` Monday midnight, `@mon`
//! the 1st, `@q`, `@y`; also `@h`, `@m`, `@s`). The units are those of LogScale's relative
//! time syntax, plus the quarter.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, Timelike};

use super::ops::Zone;

/// A calendar unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ms,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

fn unit(s: &str) -> Option<Unit> {
    Some(match s.to_ascii_lowercase().as_str() {
        "ms" | "msec" | "millis" | "millisecond" | "milliseconds" => Unit::Ms,
        "s" | "sec" | "secs" | "second" | "seconds" => Unit::Second,
        "m" | "min" | "mins" | "minute" | "minutes" => Unit::Minute,
        "h" | "hr" | "hrs" | "hour" | "hours" => Unit::Hour,
        "d" | "day" | "days" => Unit::Day,
        "w" | "week" | "weeks" => Unit::Week,
        "mon" | "month" | "months" => Unit::Month,
        "q" | "qtr" | "qtrs" | "quarter" | "quarters" => Unit::Quarter,
        "y" | "yr" | "yrs" | "year" | "years" => Unit::Year,
        _ => return None,
    })
}

/// Epoch ms of a relative time `s` (`now`, `15m`, `1d@d`, `@w`, `3mon`) at instant `now`, in
/// `zone`'s calendar. The error says what is wrong with `s`.
pub fn relative(s: &str, now: i64, zone: &Zone) -> Result<i64, String> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    let (amount, snap) = match t.split_once('@') {
        Some((a, u)) => (a.trim(), Some(u.trim())),
        None => (t, None),
    };
    let bad = || format!("{s:?} is not a relative time like 15m, 1d, 1d@d or @w");
    let mut local = zone.local(now).ok_or_else(bad)?.naive_local();
    if !amount.is_empty() && !amount.eq_ignore_ascii_case("now") {
        let digits: String = amount.chars().take_while(char::is_ascii_digit).collect();
        let n: u32 = if digits.is_empty() {
            1
        } else {
            digits.parse().map_err(|_| bad())?
        };
        let u = unit(amount[digits.len()..].trim()).ok_or_else(bad)?;
        local = back(local, n, u).ok_or_else(bad)?;
    }
    if let Some(u) = snap {
        local = floor(local, unit(u).ok_or_else(bad)?).ok_or_else(bad)?;
    }
    zone.from_local(&local).ok_or_else(bad)
}

fn back(t: NaiveDateTime, n: u32, u: Unit) -> Option<NaiveDateTime> {
    let n64 = i64::from(n);
    // Checked everywhere: a time near chrono's range must give an error, not a panic.
    let sub = |d: Option<Duration>| t.checked_sub_signed(d?);
    Some(match u {
        Unit::Ms => sub(Duration::try_milliseconds(n64))?,
        Unit::Second => sub(Duration::try_seconds(n64))?,
        Unit::Minute => sub(Duration::try_minutes(n64))?,
        Unit::Hour => sub(Duration::try_hours(n64))?,
        Unit::Day => sub(Duration::try_days(n64))?,
        Unit::Week => sub(Duration::try_weeks(n64))?,
        Unit::Month => t.checked_sub_months(Months::new(n))?,
        Unit::Quarter => t.checked_sub_months(Months::new(n.checked_mul(3)?))?,
        Unit::Year => t.checked_sub_months(Months::new(n.checked_mul(12)?))?,
    })
}

fn floor(t: NaiveDateTime, u: Unit) -> Option<NaiveDateTime> {
    let d = t.date();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
    match u {
        Unit::Ms => Some(t),
        Unit::Second => t.with_nanosecond(0),
        Unit::Minute => t.with_nanosecond(0)?.with_second(0),
        Unit::Hour => t.with_nanosecond(0)?.with_second(0)?.with_minute(0),
        Unit::Day => midnight(d),
        Unit::Week => midnight(d.checked_sub_days(chrono::Days::new(u64::from(
            d.weekday().num_days_from_monday(),
        )))?),
        Unit::Month => midnight(d.with_day(1)?),
        Unit::Quarter => midnight(NaiveDate::from_ymd_opt(
            d.year(),
            (d.month0() / 3) * 3 + 1,
            1,
        )?),
        Unit::Year => midnight(NaiveDate::from_ymd_opt(d.year(), 1, 1)?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-03-18T15:20:00Z, a Wednesday.
    const NOW: i64 = 1_773_847_200_000;

    #[test]
    fn amounts_and_snaps() {
        let utc = Zone::UTC;
        assert_eq!(relative("now", NOW, &utc), Ok(NOW));
        assert_eq!(relative("15m", NOW, &utc), Ok(NOW - 900_000));
        // Midnight today, Monday midnight, the 1st of the month, the quarter, the year.
        assert_eq!(relative("@d", NOW, &utc), Ok(1_773_792_000_000));
        assert_eq!(relative("@w", NOW, &utc), Ok(1_773_619_200_000));
        assert_eq!(relative("@mon", NOW, &utc), Ok(1_772_323_200_000));
        assert_eq!(relative("@q", NOW, &utc), Ok(1_767_225_600_000));
        assert_eq!(relative("1y@y", NOW, &utc), Ok(1_735_689_600_000));
        assert_eq!(relative("1d@d", NOW, &utc), Ok(1_773_705_600_000));
        // One calendar month back from March 18 is February 18.
        assert_eq!(relative("1mon", NOW, &utc), Ok(1_771_428_000_000));
        assert!(relative("5parsecs", NOW, &utc).is_err());
        assert!(relative("1d@x", NOW, &utc).is_err());
    }

    #[test]
    fn snaps_in_the_zone() {
        // Midnight in New York (EDT from March 8, 2026) is 04:00Z.
        let ny = Zone::parse("America/New_York").unwrap();
        assert_eq!(relative("@d", NOW, &ny), Ok(1_773_806_400_000));
    }
}
